"""The master process: ZooKeeper session, leader election, HTTP API, gRPC gateway, scheduler.

Every master serves the whole API. Configuration writes go straight to ZooKeeper as versioned
multi-transactions, so followers need no forwarding for them and two masters cannot overwrite each
other's changes. Reads of the leader's runtime state (execution history, task logs) are forwarded to the
leader. Scheduling and the agents' streams belong to the leader alone.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

import uvicorn

from elasticjob import placement
from elasticjob.api.app import create_app
from elasticjob.api.cluster import ClusterView, cluster_router
from elasticjob.api.execs import ExecsDialect
from elasticjob.api.metrics import MasterMetrics
from elasticjob.api.metronome import metronome_router
from elasticjob.api.regions import regions_router
from elasticjob.api.runs import RunsView
from elasticjob.api.runtime import LeaderState, forwarder, runtime_router
from elasticjob.api.service import JobService
from elasticjob.api.statistics import statistics_router
from elasticjob.common.net import advertised_host
from elasticjob.history import open_history
from elasticjob.history.recorder import HistoryRecorder
from elasticjob.history.retention import RunRetention
from elasticjob.history.sampler import StatisticsSampler
from elasticjob.master.config import MasterConfig
from elasticjob.master.gateway import AgentEvents, Gateway, start_grpc_server
from elasticjob.master.history_split import HistorySplit
from elasticjob.master.http_limits import header_limited_protocol
from elasticjob.master.hub import AgentConnection, AgentHub
from elasticjob.master.sources import GrpcAgents, OfferSources
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.registry import (
    ClusterState,
    JsonStore,
    Layout,
    LeaderElection,
    ZooKeeperUnavailable,
    connect,
)
from elasticjob.registry.departures import AgentDepartures
from elasticjob.registry.state import AGENTS, CorruptConfig
from elasticjob.registry.watches import PersistentWatchesUnsupported
from elasticjob.scheduler.loop import Scheduler
from elasticjob.security.authenticator import Authenticator
from elasticjob.webhooks.worker import WebhookWorker

log = logging.getLogger(__name__)


class _GatewayEvents(AgentEvents):
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def agent_registered(self, connection: AgentConnection, tasks: list[StatusUpdate]) -> None:
        self.scheduler.agent_registered(connection.agent_id, tasks, connection.incarnation)

    def agent_disconnected(self, connection: AgentConnection) -> None:
        self.scheduler.agent_disconnected(connection.agent_id)

    def task_status(self, agent_id: str, status: StatusUpdate) -> None:
        self.scheduler.task_status(agent_id, status)


def run_master(config: MasterConfig) -> None:
    """Run until SIGINT/SIGTERM. Raises ``ZooKeeperUnavailable`` if ZooKeeper cannot be reached."""
    layout = Layout(config.namespace)
    # Both listeners are bound before anything is announced: a port of 0 means "any free one", and what
    # is announced (election info, master.json) is the port actually bound.
    http_socket = bind_tcp(config.http.host, config.http.port, "--http")
    http_port = http_socket.getsockname()[1]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    history = open_history(config.history_url or str(config.data_dir / "history.db"))
    client = connect(config.zk)
    store = JsonStore(client)
    store.ensure_paths(layout.base_paths())
    # Every master keeps the installation's state in memory, read once and then kept by watches: API
    # reads and the leader's planning never re-read ZooKeeper.
    state = ClusterState(client, layout)
    departures = AgentDepartures(AGENTS)  # agents that left, for operators
    state.subscribe(departures.observe)
    election_box: list[LeaderElection] = []
    # The leader's writer thread prunes old finished runs while it has nothing to write; a run the state
    # still holds is never pruned.
    retention = None
    if config.run_retention:
        retention = RunRetention(history, config.run_retention, state.unfinished_firings,
                                 leading=lambda: bool(election_box) and election_box[0].is_leader)
    # The scheduler records execution events through a writer thread of their own (batched): a slow
    # database never delays a launch.
    # Webhook deliveries are made by the recorder (with the run's events) and sent by the leader's worker,
    # off the scheduler's thread: a receiver that hangs delays no firing.
    metrics = MasterMetrics()
    webhooks = WebhookWorker(
        history,
        lambda job, url: _webhook_secret(state, job, url),
        lambda: bool(election_box) and election_box[0].is_leader,
        retry_for=config.webhook_retry_for,
        timeout=config.webhook_timeout,
        metrics=metrics,
    )
    recorder = HistoryRecorder(history, retention=retention, on_deliveries=webhooks.wake).start()
    state.start()
    log.info("reading the installation's state from ZooKeeper")
    try:
        state.wait_synced()
    except PersistentWatchesUnsupported as exc:  # a ZooKeeper older than 3.6
        state.stop()
        recorder.stop()
        webhooks.stop()
        client.stop()
        client.close()
        history.close()
        raise ZooKeeperUnavailable(str(exc)) from None
    host = config.advertise_host or advertised_host(config.http.host)
    grpc_host = config.grpc_advertised_host
    hub = AgentHub()
    # Our agents always; Mesos besides them with --mesos-master (its agent ids are ``mesos-...``).
    sources = OfferSources([GrpcAgents(hub)])
    scheduler = Scheduler(
        store,
        state,
        sources,
        recorder,
        lambda: election_box[0].fence(),
        tick=config.scheduler_tick,
        agent_grace=config.agent_grace,
        scorer=placement.BinPack() if config.placement == "binpack" else placement.SPREAD,
        metrics=metrics,
        launch_ahead=config.launch_ahead,
        fence_lost=lambda: election_box[0].forget_fence(),
        notices=recorder,
    )
    hub.on_change = scheduler.wake
    if config.mesos is not None:
        sources.add(_mesos_source(config, store, layout, state, scheduler))

    def on_leadership(leader: bool) -> None:
        metrics.leadership(leader)
        scheduler.leadership(leader)
        webhooks.wake()
        # Agents reconnect to whoever leads now; the Mesos framework is subscribed by the leader alone.
        sources.leading(leader)

    gateway = Gateway(
        hub,
        _GatewayEvents(scheduler),
        lambda: election.is_leader,
        lambda: str(info["http"]),
        current_leader=lambda: leader_http(),
        join_token=config.agent_token,
    )
    grpc_server, grpc_port = start_grpc_server(gateway, config.grpc.host, config.grpc.port, config.grpc_tls)
    info = {
        "http": f"{host}:{http_port}",
        "grpc": f"{grpc_host}:{grpc_port}",
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
    # A private history (SQLite) while other masters run splits the run history: said at start (and when
    # masters come or go) in the log, and in GET /leader's "warnings".
    split = HistorySplit(history.url, config.namespace)
    election = LeaderElection(client, layout, info, on_change=on_leadership, on_members=split.masters_changed)
    election_box.append(election)

    def leader() -> dict[str, Any] | None:
        found = election.leader()  # from memory: the election watches its listing
        if found is None:
            return None
        node, data = found
        return {"leader": data.get("http"), "grpc": data.get("grpc"), "self": node == election.node}

    def leader_answer() -> dict[str, Any] | None:
        """``GET /leader``: the leader, and this master's warnings when it has some (from memory)."""
        found = leader()
        warnings = split.warnings()
        return found if found is None or not warnings else {**found, "warnings": warnings}

    def leader_http() -> str | None:
        found = leader()
        return None if found is None else found["leader"]

    def sizes() -> dict[str, int]:
        return {"jobs": state.job_count(), "apps": state.app_count(), "agents": state.agent_count()}

    metrics.add_sizes(sizes)
    metrics.registry.register(hub.collector())  # elasticjob_connected_agents: streams held here
    jobs = JobService(store, layout, state, config.url_policy)
    leadership = LeaderState(lambda: election.is_leader, leader_http)
    runs = RunsView(state, history, jobs.request_stop, recorder.settle)
    runtime = runtime_router(leadership, history, hub, runs, history)
    runtime.include_router(statistics_router(leadership, history, state.job_kinds))

    def counts() -> tuple[int, int, int]:
        running = state.running()
        return len(running), len({task.job_name for task in running}), state.job_count()

    # Only the leader samples: a database shared by several masters gets one series.
    sampler = StatisticsSampler(
        history, counts, lambda: election.is_leader, interval=config.statistics_interval
    )
    execs = ExecsDialect(jobs, runs, hub, forwarder(leadership))  # shares /v1/jobs with Metronome
    v1 = metronome_router(jobs, runs, forwarder(leadership), execs.shared)
    cluster = cluster_router(ClusterView(state, departures, leader, client))
    authenticator = Authenticator(config.auth) if config.auth is not None else None
    regions = regions_router(jobs, runs, hub, forwarder(leadership))
    app = create_app(jobs, leader_answer, metrics, config.max_body_bytes, runtime, v1, cluster, authenticator,
                     dialects=[regions, execs.router()])
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.http.host,
            port=config.http.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            http=header_limited_protocol(config.max_header_bytes),
            limit_concurrency=config.max_connections,
        )
    )
    # uvicorn re-raises the signal that stopped it once it has restored the previous handlers; with the
    # default handlers that would kill us before the election node is deleted and the session closed,
    # making followers wait a whole session timeout. Previous handlers that merely note it avoid that.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, _frame: log.info("signal %d: shutting down", received))
    scheduler.start()
    election.start()
    sampler.start()
    webhooks.start()
    write_addresses(config.data_dir, info)
    log.info(
        "master http=%s grpc=%s (%s) namespace=%s zk=%s", info["http"], info["grpc"], _grpc_security(config),
        layout.root, config.zk.hosts,
    )
    try:
        server.run(sockets=[http_socket])
    finally:
        sampler.stop()
        election.stop()
        scheduler.stop()
        recorder.stop()  # what the scheduler recorded is written, and its acknowledgements sent
        webhooks.stop()  # pending deliveries stay in the history: the next leader sends them
        state.stop()
        sources.close()
        grpc_server.stop(grace=2)
        client.stop()
        client.close()
        history.close()
        (config.data_dir / ADDRESSES_FILE).unlink(missing_ok=True)
        log.info("master stopped")


def _mesos_source(
    config: MasterConfig, store: JsonStore, layout: Layout, state: ClusterState, scheduler: Scheduler
) -> Any:
    """The Mesos offer source (imported only now: without --mesos-master nothing of it is loaded). Its
    framework id is kept in ZooKeeper (``/<namespace>/mesos/framework-id``), so a new leader re-subscribes
    as the same framework and Mesos keeps its tasks."""
    from elasticjob.mesos.source import FrameworkIds, MesosOfferSource

    assert config.mesos is not None
    path = f"{layout.root}/mesos/framework-id"

    def load() -> str | None:
        found = store.get(path)
        return found.value if found is not None and isinstance(found.value, str) else None

    def save(framework_id: str | None) -> None:
        store.client.ensure_path(path)
        store.client.set(path, json.dumps(framework_id).encode())

    log.info("Apache Mesos offer source: %s (framework %s, roles %s)", config.mesos.master,
             config.mesos.framework.name, ",".join(config.mesos.framework.roles))
    return MesosOfferSource(config.mesos, scheduler, state.running, FrameworkIds(load, save))


def _webhook_secret(state: ClusterState, job_name: str, url: str) -> str | None:
    """The secret the job's webhook to ``url`` signs with now (None: no such job or webhook)."""
    try:
        stored = state.job(job_name)
    except CorruptConfig:
        return None
    for hook in (stored.model.webhooks or ()) if stored is not None else ():
        if hook.url == url:
            return hook.secret
    return None


def _grpc_security(config: MasterConfig) -> str:
    """How agents are admitted, for the start-up line: ``TLS, client certificates, join token``."""
    tls = config.grpc_tls
    parts = ["plaintext" if tls is None else "TLS"]
    if tls is not None and tls.client_ca is not None:
        parts.append("client certificates")
    parts.append("join token" if config.agent_token is not None else "no join token")
    return ", ".join(parts)


ADDRESSES_FILE = "master.json"


def write_addresses(data_dir: Path, info: dict[str, Any]) -> None:
    """Publish ``{"http", "grpc", "pid"}`` in ``data_dir/master.json`` (atomically) once both listeners are
    bound, for tools that started the master with port 0 and need to know where it listens."""
    part = data_dir / f".{ADDRESSES_FILE}.{os.getpid()}"
    part.write_text(json.dumps({"http": info["http"], "grpc": info["grpc"], "pid": info["pid"]}))
    os.replace(part, data_dir / ADDRESSES_FILE)


def bind_tcp(host: str, port: int, flag: str) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port); ``OSError`` naming ``flag`` if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response written in two parts (head, body) must not wait for the
    # client's delayed ACK (40 ms on Linux) — Nagle's algorithm would hold the body back until then.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({flag}): {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
