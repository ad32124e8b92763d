#!/bin/sh
# The elasticjob image's HEALTHCHECK (installed as /usr/local/bin/elasticjob-healthcheck).
#
#   elasticjob-healthcheck [master]   GET $ELASTICJOB_URL/leader answers 200: the master serves HTTP, reaches
#                                     ZooKeeper and a leader is elected (itself or another master); a 503
#                                     (no leader) or no answer is unhealthy. With an auth file, give it a
#                                     viewer's ELASTICJOB_USER and ELASTICJOB_PASSWORD, or ELASTICJOB_TOKEN.
#   elasticjob-healthcheck agent      the agent's process ($ELASTICJOB_PID, the container's PID 1) is alive and
#                                     not a zombie: an agent has no health endpoint of its own.
set -u
role="${1:-master}"
case "$role" in
  master)
    url="${ELASTICJOB_URL:-http://127.0.0.1:8899}/leader"
    if [ -n "${ELASTICJOB_TOKEN:-}" ]; then
      exec curl -fsS -o /dev/null --max-time 5 -H "Authorization: Bearer $ELASTICJOB_TOKEN" "$url"
    elif [ -n "${ELASTICJOB_USER:-}" ]; then
      exec curl -fsS -o /dev/null --max-time 5 -u "$ELASTICJOB_USER:${ELASTICJOB_PASSWORD:-}" "$url"
    fi
    exec curl -fsS -o /dev/null --max-time 5 "$url"
    ;;
  agent)
    pid="${ELASTICJOB_PID:-1}"
    kill -0 "$pid" 2>/dev/null || { echo "agent process $pid is gone" >&2; exit 1; }
    if grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
      echo "agent process $pid is a zombie" >&2; exit 1
    fi
    exit 0
    ;;
  *)
    echo "usage: elasticjob-healthcheck [master|agent]" >&2; exit 2
    ;;
esac
