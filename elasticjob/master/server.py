"""The master process: ZooKeeper session, leader election, and the HTTP API.

Every master serves the whole API. Writes go straight to ZooKeeper as versioned multi-transactions, so a
follower needs no forwarding and two masters cannot overwrite each other's changes; only scheduling (later
issues) is the leader's alone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from typing import Any

import uvicorn

from elasticjob.api.app import create_app
from elasticjob.api.metrics import MasterMetrics
from elasticjob.api.service import JobService
from elasticjob.common.net import advertised_host
from elasticjob.master.config import MasterConfig
from elasticjob.registry import JsonStore, Layout, LeaderElection, connect, read_leader

log = logging.getLogger(__name__)


def run_master(config: MasterConfig) -> None:
    """Run until SIGINT/SIGTERM. Raises ``ZooKeeperUnavailable`` if ZooKeeper cannot be reached."""
    layout = Layout(config.namespace)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    client = connect(config.zk)
    store = JsonStore(client)
    store.ensure_paths(layout.base_paths())

    host = config.advertise_host or advertised_host(config.http.host)
    grpc_host = config.advertise_host or advertised_host(config.grpc.host)
    info = {
        "http": f"{host}:{config.http.port}",
        "grpc": f"{grpc_host}:{config.grpc.port}",
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
    metrics = MasterMetrics()
    election = LeaderElection(client, layout, info, on_change=metrics.leadership)

    def leader() -> dict[str, Any] | None:
        found = read_leader(client, layout)
        if found is None:
            return None
        node, data = found
        return {"leader": data.get("http"), "grpc": data.get("grpc"), "self": node == election.node}

    def sizes() -> dict[str, int]:
        return {
            "jobs": len(store.children(layout.jobs)),
            "apps": len(store.children(layout.apps)),
            "agents": len(store.children(layout.agents)),
        }

    metrics.add_sizes(sizes)
    app = create_app(JobService(store, layout), leader, metrics, config.max_body_bytes)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.http.host,
            port=config.http.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    # uvicorn re-raises the signal that stopped it once it has restored the previous handlers; with the
    # default handlers that would kill us before the election node is deleted and the session closed,
    # making followers wait a whole session timeout. Previous handlers that merely note it avoid that.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: log.info("signal %d: shutting down", received))
    election.start()
    log.info("master http=%s grpc=%s namespace=%s zk=%s", info["http"], info["grpc"], layout.root, config.zk.hosts)
    try:
        server.run()
    finally:
        election.stop()
        client.stop()
        client.close()
        log.info("master stopped")
