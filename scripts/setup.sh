#!/usr/bin/env bash
# Prepare a machine for `make run` / `make test`: a virtualenv with the package, and ZooKeeper.
# Safe to run repeatedly; installs system packages only when they are missing (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
WANT=${1:-run}   # run | test

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

APT_UPDATED=
apt_install() {
  if ! have apt-get; then return 1; fi
  if [ "$(id -u)" != 0 ]; then
    if have sudo; then SUDO=sudo; else return 1; fi
  else
    SUDO=
  fi
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    $SUDO apt-get update -q >/dev/null
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@" >/dev/null
}

# --- Python -----------------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "ElasticJob needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    apt_install python3-venv || { echo "cannot create a virtualenv: install python3-venv" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
  fi
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing elasticjob into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[test]'
  touch "$stamp"
fi

# --- ZooKeeper --------------------------------------------------------------------------------------
zk_installed() { [ -f /usr/share/java/zookeeper.jar ] || { [ -n "${ZOOKEEPER_HOME:-}" ] && [ -d "$ZOOKEEPER_HOME" ]; }; }
docker_ok() { have docker && docker info >/dev/null 2>&1; }

if [ "$WANT" = test ] && [ -n "${ELASTICJOB_TEST_ZK:-}" ]; then
  say "tests use the ZooKeeper at ELASTICJOB_TEST_ZK=$ELASTICJOB_TEST_ZK"
elif [ "$WANT" = run ] && [ -n "${ELASTICJOB_ZK:-}" ]; then
  say "using the ZooKeeper at ELASTICJOB_ZK=$ELASTICJOB_ZK"
elif zk_installed; then
  :
elif apt_install zookeeper; then
  :
elif docker_ok; then
  say "no local ZooKeeper: using Docker through testcontainers"
  "$VENV/bin/python" -m pip install -q -e '.[docker]'
else
  cat >&2 <<'MSG'
ZooKeeper is needed and none could be obtained:
  - no ELASTICJOB_ZK (for `make run`) / ELASTICJOB_TEST_ZK (for `make test`) pointing at a running server,
  - no local install (/usr/share/java/zookeeper.jar or $ZOOKEEPER_HOME),
  - apt-get is not available (or not as root / via sudo) to install Debian's `zookeeper` package,
  - no Docker engine for testcontainers.
Install ZooKeeper 3.5+ and Java, or start one and set ELASTICJOB_ZK=host:port.
MSG
  exit 1
fi
# The history tests also run against a real PostgreSQL server (started by the tests themselves).
if [ "$WANT" = test ] && [ -z "${ELASTICJOB_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql || { echo "the tests need PostgreSQL server binaries (Debian: postgresql)" >&2; exit 1; }
fi
if zk_installed && ! have java; then
  apt_install default-jre-headless || { echo "ZooKeeper needs Java: install a JRE" >&2; exit 1; }
fi
# The console's browser tests drive Debian's Chromium headless with Playwright (no browser download).
if [ "$WANT" = test ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || { echo "the console tests need Debian's chromium (/usr/bin/chromium)" >&2; exit 1; }
fi
