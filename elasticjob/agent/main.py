"""The agent process: ZooKeeper membership, the link to the leader, the task manager, sandbox GC."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable

from kazoo.client import KazooState
from kazoo.exceptions import KazooException, NodeExistsError

from elasticjob.agent.config import AgentConfig, agent_id_for
from elasticjob.agent.fetch import AppCache
from elasticjob.agent.gc import collect
from elasticjob.agent.link import MasterLink
from elasticjob.agent.runas import Credentials, check_runs_as, sdk_probe
from elasticjob.agent.tasks import TaskManager, sandbox_mode
from elasticjob.registry import JsonStore, Layout, connect

log = logging.getLogger(__name__)

GC_INTERVAL = 600.0
CACHE_MAX_AGE = 7 * 24 * 3600.0

AGENT_SWITCH_INTERVAL = 0.001


def run_agent(config: AgentConfig) -> None:
    """Run until SIGINT/SIGTERM, then kill the tasks (they are reported KILLED) and leave."""
    # The threads that must be on time (start gates, the task reactor, the master link) make a system call
    # at every step and must then win the GIL back from the staging threads: waiting up to the default 5 ms
    # each time added up to ~100 ms at an instant with a hundred shards. 1 ms bounds that wait.
    sys.setswitchinterval(AGENT_SWITCH_INTERVAL)
    config.work_dir.mkdir(parents=True, exist_ok=True)
    # The sandboxes (shards' files and logs, their environment) and the app cache are this user's alone;
    # shards of another user (--run-as) may only pass through to their own sandbox (tasks.sandbox_mode).
    os.chmod(config.work_dir, sandbox_mode(config.run_as))
    agent_id = agent_id_for(config.work_dir, config.agent_id)
    layout = Layout(config.namespace)
    client = connect(config.zk)
    JsonStore(client).ensure_paths(layout.base_paths())
    stop = threading.Event()

    link = MasterLink(
        client, layout, agent_id, config.cpus, config.mem_mb, config.attributes, config.heartbeat_seconds,
        tls=config.master_tls, join_token=config.join_token,
    )
    cache = AppCache(
        config.work_dir / "cache",
        max_download_bytes=config.max_download_bytes,
        revalidate_seconds=config.app_revalidate_seconds,
        url_policy=config.url_policy,
    )
    tasks = TaskManager(
        config.work_dir,
        cache,
        link.send_status,
        kill_grace=config.kill_grace_seconds,
        max_unpacked_bytes=config.max_unpacked_bytes,
        run_as=config.run_as,
    )

    def session_lost() -> None:
        # While this agent could not reach ZooKeeper long enough for its session to expire, the master may
        # have declared its tasks lost and re-run them elsewhere: running on would duplicate them.
        log.warning("ZooKeeper session expired: abandoning %d running task(s)", len(tasks.running_ids()))
        tasks.kill_all("the agent's ZooKeeper session expired", abandon=True)

    membership = _Membership(
        client,
        layout.agent(agent_id),
        {
            "agentId": agent_id,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "cpus": config.cpus,
            "memMB": config.mem_mb,
            "attributes": config.attributes,
        },
        on_session_lost=session_lost,
    )
    membership.start()
    link.start(tasks)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log.info(
        "agent %s: %.2f CPUs, %.0f MB, attributes %s, work dir %s, gRPC %s",
        agent_id,
        config.cpus,
        config.mem_mb,
        config.attributes,
        config.work_dir,
        _link_security(config),
    )
    if config.run_as is not None:
        run_as = config.run_as
        log.info("shards run as %s (uid %d, gid %d)", run_as.user, run_as.uid, run_as.gid)
        threading.Thread(target=_check_sdk_runs_as, args=(run_as,), name="run-as-check", daemon=True).start()
    elif os.geteuid() == 0:
        log.warning("shards run as root (--run-as root): a shard can do anything on this host")
    if config.join_token and config.master_tls is None:
        log.warning("the join token goes to the master in plaintext: give --master-ca so only it can read it")
    # Collect often enough that nothing outlives its retention by more than a quarter of it.
    gc_interval = min(GC_INTERVAL, max(1.0, config.sandbox_retention_seconds / 4))
    while not stop.wait(gc_interval):
        removed = collect(
            tasks.sandboxes,
            max_age_seconds=config.sandbox_retention_seconds,
            max_total_bytes=config.sandbox_max_bytes,
            keep=set(tasks.running_ids()),
        )
        tasks.removed.add(removed)
        # Cached app archives and unpacked apps not used for a week go too (a later launch simply fetches
        # or unpacks again).
        removed += cache.collect(max_age_seconds=CACHE_MAX_AGE, max_total_bytes=config.sandbox_max_bytes)
        removed += tasks.apps.collect(max_age_seconds=CACHE_MAX_AGE, max_total_bytes=config.sandbox_max_bytes)
        if removed:
            log.info("removed %d old sandbox(es), cache entries and unpacked apps", len(removed))
    tasks.kill_all("the agent is stopping")
    deadline = config.kill_grace_seconds + 5
    waited = 0.0
    while tasks.running_ids() and waited < deadline:
        stop.wait(0.2)
        waited += 0.2
    stop.wait(1.0)  # let the final statuses go out
    link.stop()
    cache.close()
    membership.stop()
    client.stop()
    client.close()
    log.info("agent stopped")


def _link_security(config: AgentConfig) -> str:
    """How this agent reaches the leader, for the start-up line: ``TLS, client certificate, join token``."""
    tls = config.master_tls
    parts = ["plaintext" if tls is None else "TLS"]
    if tls is not None and tls.certificate_chain is not None:
        parts.append("client certificate")
    parts.append("join token" if config.join_token else "no join token")
    return ", ".join(parts)


class _Membership:
    """The ephemeral ``/agents/{id}`` znode, re-created after a session loss; ``on_session_lost`` runs
    (on this object's thread, never kazoo's) each time the session expired."""

    def __init__(  # type: ignore[no-untyped-def]
        self, client, path: str, info: dict[str, object], on_session_lost: Callable[[], None] = lambda: None
    ) -> None:
        self.client = client
        self.path = path
        self.data = json.dumps(info).encode()
        self.on_session_lost = on_session_lost
        self._lost = threading.Event()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="membership", daemon=True)

    def start(self) -> None:
        self.client.add_listener(self._on_state)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        with contextlib.suppress(KazooException):
            self.client.delete(self.path)

    def _on_state(self, state: str) -> None:
        if state == KazooState.LOST:
            self._lost.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            if self._lost.is_set():
                self._lost.clear()
                self.on_session_lost()
            try:
                if self.client.exists(self.path) is None:
                    self.client.create(self.path, self.data, ephemeral=True)
            except NodeExistsError:
                pass  # our previous session's node, about to expire; check again shortly
            except KazooException as exc:
                log.warning("agent membership: %s", type(exc).__name__)
            self._wake.wait(5.0)


def _check_sdk_runs_as(run_as: Credentials) -> None:
    """Warn once, off the start-up path, when the shards' user cannot run this interpreter and package."""
    problem = check_runs_as(run_as, sdk_probe())
    if problem is not None:
        log.warning("SIMPLE and DATAFLOW shards will fail: %s cannot run %s with this package (%s); "
                    "install the agent where that user can read it, or give --run-as another user",
                    run_as.user, sys.executable, problem)
