"""``Applier.commit`` against a real ZooKeeper: many transactions in flight, one stale group dropped, the
launches of everything that committed sent afterwards in one message per agent, and nothing at all
written or sent by a master whose fence is gone.

The agents and the history are the scheduler's ports (``AgentPort``, ``EventSink``), recorded here; what is
under test is what reaches ZooKeeper and in which order the launches follow it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from kazoo.client import KazooClient

from elasticjob.model import TaskKind, TaskState
from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.running import RunningTask
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.registry import Fence, JsonStore
from elasticjob.registry.store import Write
from elasticjob.scheduler.apply import MAX_OPS_PER_TRANSACTION, Applier, FenceLost, Group
from elasticjob.scheduler.cycle import TaskLaunch
from elasticjob.scheduler.snapshot import AgentView

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
AGENTS = ("a0", "a1", "a2")


class Agents:
    def __init__(self) -> None:
        self.sent: list[tuple[str, pb.MasterMessage]] = []

    def agents(self) -> dict[str, AgentView]:
        return {a: AgentView(a, a, 8, 8192) for a in AGENTS}

    def send(self, agent_id: str, message: pb.MasterMessage) -> bool:
        self.sent.append((agent_id, message))
        return True


class Events:
    def __init__(self) -> None:
        self.recorded: list[ExecutionEvent] = []

    def record(self, events: Sequence[ExecutionEvent], then: Callable[[], None] | None = None) -> None:
        self.recorded.extend(events)
        if then is not None:
            then()


def launch(n: int) -> TaskLaunch:
    agent = AGENTS[n % len(AGENTS)]
    task = RunningTask(task_id=f"t{n}", job_name=f"job{n}", sharding_item=0, firing_id="cron-X",
                       agent_id=agent, hostname=agent, app_name="app", cpus=0.1, mem_mb=1, app_cpus=0,
                       app_mem_mb=0, kind=TaskKind.READY, state=TaskState.STAGING, launched_at=NOW)
    spec: dict[str, Any] = {
        "task_id": task.task_id, "job_name": task.job_name, "firing_id": "cron-X", "sharding_item": 0,
        "sharding_total_count": 1, "sharding_parameter": "", "job_parameter": "", "app_name": "app",
        "app_url": "file:///a.tgz", "app_cache_enable": True, "app_version": "", "job_type": "SCRIPT",
        "command": "true", "job_class": "", "streaming_process": False, "environment": {}, "cpus": 0.1,
        "mem_mb": 1.0, "execution_type": "TRANSIENT", "cron": "", "time_zone": "UTC", "start_at_ms": 0,
    }
    return TaskLaunch(task, spec)


@pytest.fixture
def root(zk: KazooClient, namespace: str) -> str:
    root = f"/{namespace}"
    zk.ensure_path(f"{root}/tasks")
    zk.create(f"{root}/fence")
    zk.create(f"{root}/stamp")
    return root


def groups(root: str, count: int) -> list[Group]:
    return [Group(f"job{n}", [Write("create", f"{root}/tasks/t{n}", {"n": n})], [launch(n)]) for n in range(count)]


def test_every_group_but_the_stale_one_commits_and_launches_follow_in_one_message_per_agent(
    zk: KazooClient, root: str,
) -> None:
    count = 3 * MAX_OPS_PER_TRANSACTION + 17  # four transactions in flight at once
    stale = 2 * MAX_OPS_PER_TRANSACTION + 5  # in the third one
    zk.create(f"{root}/tasks/t{stale}", b'{"already": true}')  # decided on a state that did not see it
    agents, events = Agents(), Events()
    refreshed: list[list[str]] = []
    applied: list[Write] = []
    applier = Applier(JsonStore(zk), agents, events, wrote=lambda writes, _results: applied.extend(writes),
                      refresh=refreshed.append, stamp=f"{root}/stamp")

    outcome = applier.commit(Fence(f"{root}/fence", 0), groups(root, count))

    assert set(outcome.failed) == {f"job{stale}"}
    assert refreshed == [[f"{root}/tasks/t{stale}"]]
    assert sorted(outcome.committed) == sorted(f"job{n}" for n in range(count) if n != stale)
    children = set(zk.get_children(f"{root}/tasks"))
    assert children == {f"t{n}" for n in range(count)}
    assert zk.get(f"{root}/tasks/t{stale}")[0] == b'{"already": true}'  # untouched
    assert {w.path for w in applied if w.kind == "create"} == {
        f"{root}/tasks/t{n}" for n in range(count) if n != stale}
    # One Launch per agent, sent once everything committed, with every committed task and nothing else.
    assert sorted(agent for agent, _ in agents.sent) == sorted(AGENTS)
    launched = [t.task_id for _, m in agents.sent for t in m.launch.tasks]
    assert sorted(launched) == sorted(f"t{n}" for n in range(count) if n != stale)
    assert all(int(t.task_id[1:]) % 3 == int(agent[1:]) for agent, m in agents.sent for t in m.launch.tasks)
    assert sorted(e.task_id for e in events.recorded) == sorted(launched)  # recorded STAGING
    assert {e.state for e in events.recorded} == {"STAGING"}


def test_a_master_whose_fence_changed_writes_and_sends_nothing(zk: KazooClient, root: str) -> None:
    zk.set(f"{root}/fence", b"another leader")  # version 1 now
    agents, events = Agents(), Events()
    applier = Applier(JsonStore(zk), agents, events, stamp=f"{root}/stamp")
    with pytest.raises(FenceLost):
        applier.commit(Fence(f"{root}/fence", 0), groups(root, MAX_OPS_PER_TRANSACTION + 3))
    assert zk.get_children(f"{root}/tasks") == []
    assert agents.sent == [] and events.recorded == []


def test_a_stamp_removed_by_hand_is_put_back_and_the_transaction_commits(zk: KazooClient, root: str) -> None:
    zk.delete(f"{root}/stamp")
    agents = Agents()
    applier = Applier(JsonStore(zk), agents, Events(), stamp=f"{root}/stamp")
    outcome = applier.commit(Fence(f"{root}/fence", 0), groups(root, 4))
    assert sorted(outcome.committed) == [f"job{n}" for n in range(4)] and outcome.failed == {}
    assert zk.exists(f"{root}/stamp") is not None
    assert len(zk.get_children(f"{root}/tasks")) == 4
