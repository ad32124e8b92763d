"""The agent gateway's own ceiling, for the ``launch`` benchmark: how many tasks per second the master's
gateway moves when nothing else in the master does any work.

The real ``Gateway`` and ``AgentHub`` run in this process on their own event-loop thread (as in a master)
and are announced in ZooKeeper as the leader, so the same simulated agents find and register with them.
A driver thread then does what the scheduler does after each committed transaction — one ``Launch`` per
agent for its share of 500 tasks, through ``AgentHub.send`` — for all the tasks at once, and the clock
stops when every task's FINISHED status has come back through the gateway (a launch out and two
statuses in per task: the gateway's whole share of a launch). Sending everything at once makes the
gateway the bottleneck, which is what a ceiling is; the launches queued for one agent are then written
as one message, as they would be behind any scheduler that outruns the gateway.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kazoo.client import KazooClient

from elasticjob.dev.processes import wait_until
from elasticjob.dev.simagents import SimulatedAgentsProcess
from elasticjob.master.gateway import AgentEvents, Gateway, start_grpc_server
from elasticjob.master.hub import AgentConnection, AgentHub
from elasticjob.model import TaskState
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.registry import Layout
from elasticjob.registry.handler import PollingHandler
from elasticjob.registry.store import encode

TASKS_PER_TRANSACTION = 500


@dataclass
class GatewayRun:
    tasks: int
    seconds: float  # from the first send to the last FINISHED status received
    launch_messages: int  # Launch messages the agents received
    statuses: int


class _Finished(AgentEvents):
    """Counts FINISHED reports (on the gateway's loop: only counting, never blocking)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.statuses = 0
        self.finished = 0
        self.done = threading.Event()

    def agent_registered(self, connection: AgentConnection, tasks: list[StatusUpdate]) -> None:
        pass

    def agent_disconnected(self, connection: AgentConnection) -> None:
        pass

    def task_status(self, agent_id: str, status: StatusUpdate) -> None:
        self.statuses += 1
        if status.state is TaskState.FINISHED:
            self.finished += 1
            if self.finished >= self.expected:
                self.done.set()


def _spec(job: int, item: int, agent_id: str, app_url: str) -> pb.TaskSpec:
    """A task spec of the size the scheduler sends for the benchmark's jobs."""
    job_name = f"burst-{job:05d}"
    return pb.TaskSpec(
        task_id=f"{job_name}@-@{item}@-@READY@-@{agent_id}@-@{uuid.uuid4().hex}",
        job_name=job_name,
        firing_id="2026-01-01T00:00:00+00:00",
        sharding_item=item,
        sharding_total_count=5,
        app_name="burst",
        app_url=app_url,
        app_cache_enable=True,
        job_type="SCRIPT",
        command="./run.sh",
        resources=pb.Resources(cpus=0.01, mem_mb=1),
        execution_type="TRANSIENT",
        time_zone="UTC",
    )


def gateway_ceiling(root: Path, zk_hosts: str, agents: int, tasks: int, timeout: float) -> GatewayRun:
    namespace = "launch-gateway"
    layout = Layout(namespace)
    hub = AgentHub()
    events = _Finished(tasks)
    address = "127.0.0.1:0"
    gateway = Gateway(hub, events, lambda: True, lambda: address)
    server, port = start_grpc_server(gateway, "127.0.0.1", 0)
    address = f"127.0.0.1:{port}"
    client = KazooClient(hosts=zk_hosts, timeout=10, handler=PollingHandler())
    client.start(timeout=15)
    fleet = SimulatedAgentsProcess(zk_hosts, namespace, agents, root / "gateway-simagents.log",
                                   "--cpus", "1000", "--mem", "1000000")
    try:
        client.create(f"{layout.election}/n_", encode({"grpc": address, "http": address}), ephemeral=True,
                      sequence=True, makepath=True)
        fleet.start()
        wait_until(lambda: len(hub.agents()) == agents, 180, interval=0.2,
                   message=f"{agents} simulated agents on the gateway")
        ids = sorted(hub.agents())
        app_url = (root / "app.tar.gz").as_uri()
        specs = [_spec(n // 5, n % 5, ids[n % agents], app_url) for n in range(tasks)]
        started = time.perf_counter()
        for first in range(0, tasks, TASKS_PER_TRANSACTION):
            by_agent: dict[str, list[pb.TaskSpec]] = defaultdict(list)
            for n in range(first, min(first + TASKS_PER_TRANSACTION, tasks)):
                by_agent[ids[n % agents]].append(specs[n])
            for agent_id, batch in by_agent.items():
                hub.send(agent_id, pb.MasterMessage(launch=pb.Launch(tasks=batch)))
        if not events.done.wait(timeout):
            raise RuntimeError(f"{events.finished} of {tasks} tasks came back FINISHED in {timeout:.0f}s")
        seconds = time.perf_counter() - started
        final = fleet.stop()
        return GatewayRun(tasks, seconds, final["launches"] if final else -1, events.statuses)
    finally:
        fleet.stop()
        hub.close_all()
        server.stop(grace=1)
        client.stop()
        client.close()
