"""The master's agent gateway, driven message by message by a hand-held agent stream over real gRPC.

Real master processes and ZooKeeper; the test plays the agent, so every rule of the protocol's opening
and of a stream's life can be shown: only the leader accepts, Register first, valid ids, one stream per
agent, silent agents dropped, log reads answered over the stream.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from tests.support import MasterProcess, wait_until

Factory = Callable[..., MasterProcess]


class HandAgent:
    """One agent stream whose every message the test writes; what the master sends lands in ``inbox``."""

    def __init__(self, master: MasterProcess) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{master.grpc_port}")
        self.outbox: queue.Queue[pb.AgentMessage | None] = queue.Queue()
        self.inbox: queue.Queue[pb.MasterMessage] = queue.Queue()
        self.ended = threading.Event()
        self.error: grpc.RpcError | None = None
        self._call = pb_grpc.AgentGatewayStub(self.channel).Connect(iter(self.outbox.get, None))
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for message in self._call:
                self.inbox.put(message)
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            self.ended.set()

    def send(self, message: pb.AgentMessage) -> None:
        self.outbox.put(message)

    def register(self, agent_id: str, incarnation: str = "") -> pb.MasterMessage:
        self.send(pb.AgentMessage(register=pb.Register(agent_id=agent_id, hostname="hand",
                                                       total=pb.Resources(cpus=1, mem_mb=64),
                                                       incarnation=incarnation)))
        # Generous: with other test modules running beside this one the first answer can take a while.
        return self.receive(30)

    def next_launch(self, timeout: float = 15) -> pb.Launch:
        """The next Launch the master sends (what comes before it is skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(deadline - time.monotonic(), 0.01))
            if message.WhichOneof("body") == "launch":
                return message.launch

    def receive(self, timeout: float = 10) -> pb.MasterMessage:
        return self.inbox.get(timeout=timeout)

    def refused(self, timeout: float = 10) -> grpc.RpcError:
        assert self.ended.wait(timeout), "the stream was not ended"
        assert self.error is not None, "the stream ended without an error status"
        return self.error

    def close(self) -> None:
        self.outbox.put(None)  # half-close: the master sees the end of the agent's messages
        self.ended.wait(10)
        self.channel.close()


class Lead:
    """A leading master and the hand-held streams opened to it (or to another master) in a test."""

    def __init__(self, master: MasterProcess) -> None:
        self.master = master
        self.opened: list[HandAgent] = []

    def stream(self, to: MasterProcess | None = None) -> HandAgent:
        self.opened.append(HandAgent(to or self.master))
        return self.opened[-1]

    def connected(self, master: MasterProcess | None = None) -> float | None:
        text = (master or self.master).get("/metrics", timeout=10).text
        found = re.search(r"^elasticjob_connected_agents (\S+)$", text, re.M)
        return None if found is None else float(found.group(1))

    def read_logs(self, task_id: str, **params: object) -> tuple[threading.Thread, list[httpx.Response]]:
        """``GET`` the task's logs on a thread (the test answers for the agent meanwhile)."""
        results: list[httpx.Response] = []
        path = f"/job/tasks/{task_id}/logs"
        thread = threading.Thread(target=lambda: results.append(self.master.get(path, params=params, timeout=15)))
        thread.start()
        return thread, results


@pytest.fixture
def lead(master_factory: Factory, namespace: str) -> Iterator[Lead]:
    master = master_factory(namespace)
    wait_until(lambda: master.get("/leader", timeout=5).json().get("self"), 15,
               message="the master leads")
    made = Lead(master)
    yield made
    for agent in made.opened:
        agent.close()


def test_a_registered_agent_is_answered_counted_and_let_go(lead: Lead) -> None:
    agent = lead.stream()
    answer = agent.register("hand-1")
    assert answer.WhichOneof("body") == "registered"
    assert answer.registered.leader == lead.master.address
    assert lead.connected() == 1
    agent.send(pb.AgentMessage(heartbeat=pb.Heartbeat()))
    agent.close()
    assert agent.error is None  # the master ends the stream cleanly once the agent has
    wait_until(lambda: lead.connected() == 0, 10, message="the stream let go")


def test_only_the_leader_accepts_streams_and_names_it(lead: Lead, master_factory: Factory,
                                                      namespace: str) -> None:
    follower = master_factory(namespace)
    agent = lead.stream(to=follower)
    agent.send(pb.AgentMessage(register=pb.Register(agent_id="hand-1")))
    error = agent.refused()
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == f"not the leader; leader: {lead.master.address}"
    assert lead.connected(follower) == 0


def test_the_first_message_must_be_a_register_with_a_valid_id(lead: Lead) -> None:
    heartbeat_first = lead.stream()
    heartbeat_first.send(pb.AgentMessage(heartbeat=pb.Heartbeat()))
    error = heartbeat_first.refused()
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "the first message must be a Register"

    bad_id = lead.stream()
    bad_id.send(pb.AgentMessage(register=pb.Register(agent_id="../etc")))
    error = bad_id.refused()
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid agent id '../etc'" in str(error.details())
    assert lead.connected() == 0


def test_a_reconnecting_agent_replaces_its_previous_stream(lead: Lead) -> None:
    old = lead.stream()
    old.register("hand-1")
    new = lead.stream()
    assert new.register("hand-1").WhichOneof("body") == "registered"
    assert old.ended.wait(10) and old.error is None  # the old stream is closed by the master
    assert lead.connected() == 1

    # What the master sends for this agent now goes to the new stream.
    reading, results = lead.read_logs("job@-@0@-@READY@-@hand-1@-@abc")
    request = new.receive().read_log
    new.send(pb.AgentMessage(log_chunk=pb.LogChunk(request_id=request.request_id, data=b"new\n",
                                                   next_offset=4, size=4, eof=True)))
    reading.join(15)
    assert results[0].json()["data"] == "new\n"
    assert old.inbox.empty()


def test_task_logs_are_read_over_the_agent_stream(lead: Lead) -> None:
    agent = lead.stream()
    agent.register("hand-1")
    task_id = "job@-@3@-@READY@-@hand-1@-@abc"
    reading, results = lead.read_logs(task_id, stream="stderr", offset=5, length=100)
    request = agent.receive().read_log
    assert (request.task_id, request.stream, request.offset, request.length) == (task_id, "stderr", 5, 100)
    agent.send(pb.AgentMessage(log_chunk=pb.LogChunk(request_id=request.request_id, data=b"hello",
                                                     offset=5, next_offset=10, size=10, eof=True)))
    reading.join(15)
    assert results[0].json() == {"taskId": task_id, "stream": "stderr", "offset": 5, "nextOffset": 10,
                                 "size": 10, "eof": True, "data": "hello"}

    reading, results = lead.read_logs(task_id)
    request = agent.receive().read_log
    agent.send(pb.AgentMessage(log_chunk=pb.LogChunk(request_id=request.request_id, error="no such task")))
    reading.join(15)
    assert results[0].status_code == 404

    other = "job@-@3@-@READY@-@not-connected@-@abc"
    response = lead.master.get(f"/job/tasks/{other}/logs", timeout=15)
    assert response.status_code == 503
    assert "agent not-connected is not connected to this master" in response.json()["message"]


def test_a_silent_agent_is_disconnected(lead: Lead) -> None:
    agent = lead.stream()
    agent.register("hand-1")
    registered_at = time.monotonic()
    assert agent.ended.wait(20), "a silent agent's stream stayed open"
    assert time.monotonic() - registered_at >= 7.5  # the silence timeout is 8 s, not sooner
    assert agent.error is None
    wait_until(lambda: lead.connected() == 0, 10, message="the silent stream let go")
    assert "agent hand-1 silent for" in lead.master.log()


def test_a_second_master_cannot_share_the_grpc_port(master_factory: Factory, namespace: str,
                                                    zk_hosts: str, tmp_path: Path) -> None:
    first = master_factory(namespace)
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "master", "--zk", zk_hosts, "--namespace", namespace,
         "--http", "127.0.0.1:0", "--grpc", f"127.0.0.1:{first.grpc_port}", "--data-dir", str(tmp_path / "2")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen for agents on 127.0.0.1:{first.grpc_port} (--grpc)" in result.stderr
    assert "Traceback" not in result.stderr


NEVER = "0 0 0 1 1 ? 2099"


@pytest.mark.parametrize("same_process", [True, False], ids=["same-incarnation", "restarted-agent"])
def test_a_launch_its_agent_never_received_is_run_again_whatever_the_failover_policy(
    lead: Lead, same_process: bool,
) -> None:
    """A launch lost with its stream (the leader closes every stream when it loses ZooKeeper, dropping what
    they had queued): the same agent process reconnects without the task, so it never ran, and its shard
    is queued again although the job has ``failover: false``. An agent that restarted (a new incarnation)
    may have run part of it before it died: that task is LOST and, without failover, not run again."""
    with lead.master.http(timeout=10) as api:
        assert api.post("/app", json={"appName": "hand", "appURL": "file:///nowhere.tar.gz",
                                      "bootstrapScript": "run.sh", "cpuCount": 0.1, "memoryMB": 8}).status_code == 204
        assert api.post("/job/register", json={"jobName": "once", "appName": "hand", "cron": NEVER,
                                               "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 8,
                                               "failover": False}).status_code == 204
        first = lead.stream()
        first.register("hand-1", incarnation="process-1")
        assert api.post("/job/trigger", content=b"once", headers={"Content-Type": "text/plain"}).status_code == 204
        [lost] = first.next_launch().tasks
        # The launch never makes it into the agent: its stream is replaced before it was taken in.
        again = lead.stream()
        again.register("hand-1", incarnation="process-1" if same_process else "process-2")

        def ended() -> list[dict]:  # type: ignore[type-arg]
            rows = api.get("/job/events/executions", params={"jobName": "once"}).json()["rows"]
            return [r for r in rows if r["taskId"] == lost.task_id and r["state"] == "LOST"]

        [row] = wait_until(ended, 15, message="the undelivered task ended")
        if same_process:
            assert "it never received it" in row["failureCause"]
            [rerun] = again.next_launch().tasks
            assert rerun.task_id != lost.task_id and "@-@FAILOVER@-@" in rerun.task_id
            assert (rerun.firing_id, rerun.sharding_item) == (lost.firing_id, lost.sharding_item)
        else:
            assert "it never received it" not in row["failureCause"]
            time.sleep(2)  # a cycle or two: nothing is queued for it, nothing launched
            assert api.get("/job/tasks/failover").json() == []
            assert all(m.WhichOneof("body") != "launch" for m in _drain(again))


def _drain(agent: HandAgent) -> list[pb.MasterMessage]:
    messages = []
    while not agent.inbox.empty():
        messages.append(agent.inbox.get_nowait())
    return messages
