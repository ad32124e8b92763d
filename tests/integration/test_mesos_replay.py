"""The Mesos offer source against a replay of the documented Mesos v1 scheduler API (``mesos_replay``):
no live Mesos cluster is involved."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from elasticjob.mesos.messages import FrameworkInfo
from elasticjob.mesos.source import FrameworkIds, MesosConfig, MesosOfferSource
from elasticjob.model import TaskState
from elasticjob.model.running import RunningTask
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate
from tests.integration.mesos_replay import AGENT_ID, FRAMEWORK_ID, ReplayMesos
from tests.unit.test_mesos_mapping import running_task

OUR_AGENT = f"mesos-{AGENT_ID}"
TASK_ID = f"job1@-@0@-@READY@-@{OUR_AGENT}@-@abc"


class Events:
    """Records what the source tells the scheduler (an ``OfferEvents``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: list[tuple[str, StatusUpdate]] = []
        self.disconnected: list[str] = []
        self.capacity = 0

    def agent_registered(self, agent_id: str, tasks: list[StatusUpdate], incarnation: str = "") -> None:
        raise AssertionError("the Mesos source never registers agents")

    def agent_disconnected(self, agent_id: str) -> None:
        self.disconnected.append(agent_id)

    def task_status(self, agent_id: str, status: StatusUpdate) -> None:
        with self.lock:
            self.statuses.append((agent_id, status))

    def capacity_changed(self) -> None:
        self.capacity += 1

    def states(self, task_id: str) -> list[TaskState]:
        with self.lock:
            return [s.state for _, s in self.statuses if s.task_id == task_id]


def _spec() -> pb.TaskSpec:
    return pb.TaskSpec(
        task_id=TASK_ID, job_name="job1", firing_id="f1", sharding_item=0, sharding_total_count=1,
        app_name="app", app_url="http://apps.example/app.tar.gz", app_cache_enable=True, job_type="SCRIPT",
        command="./bin/run.sh --fast", environment={"COLOR": "red"},
        resources=pb.Resources(cpus=0.5, mem_mb=128), execution_type="TRANSIENT",
    )


@pytest.fixture
def running() -> list[RunningTask]:
    return []


def _source(replay: ReplayMesos, events: Events, running: list[RunningTask],
            saved: list[str | None] | None = None) -> MesosOfferSource:
    saved = saved if saved is not None else []
    config = MesosConfig(replay.url, FrameworkInfo(name="ej-test", roles=("jobs",)), refuse_seconds=7.0,
                         offer_hold=0.5, stream_timeout=10.0)
    return MesosOfferSource(config, events, lambda: list(running),
                            FrameworkIds(lambda: saved[-1] if saved else None, saved.append))


@pytest.fixture
def replay() -> Iterator[ReplayMesos]:
    with ReplayMesos() as server:
        yield server


def test_subscribes_launches_onto_an_offer_and_acknowledges(replay: ReplayMesos, running: list[RunningTask]) -> None:
    events, saved = Events(), []
    source = _source(replay, events, running, saved)
    source.leading(True)
    try:
        view = replay.wait_for(lambda: source.agents().get(OUR_AGENT))
        assert (view.hostname, view.cpus, view.mem_mb) == ("agent.host", 2.0, 1024.0)
        assert view.attributes == {"rack": "rack-1"}
        assert events.capacity >= 1
        subscribe = replay.subscribes[0]["subscribe"]["framework_info"]
        assert subscribe["name"] == "ej-test" and subscribe["roles"] == ["jobs"]
        assert "id" not in subscribe
        assert saved == [FRAMEWORK_ID]  # kept for the next subscription (and the next leader)

        assert source.send(OUR_AGENT, pb.MasterMessage(launch=pb.Launch(tasks=[_spec()])))
        accept = replay.wait_for(lambda: replay.calls_of("ACCEPT"))[0]
        assert accept["framework_id"] == {"value": FRAMEWORK_ID}
        assert accept["accept"]["offer_ids"] == [{"value": "12214-23523-O1"}]
        assert accept["accept"]["filters"] == {"refuse_seconds": 7.0}
        (operation,) = accept["accept"]["operations"]
        assert operation["type"] == "LAUNCH"
        (info,) = operation["launch"]["task_infos"]
        assert info["task_id"] == {"value": TASK_ID} and info["agent_id"] == {"value": AGENT_ID}
        assert info["command"]["value"] == "./bin/run.sh --fast"
        assert info["command"]["uris"][0] == {
            "value": "http://apps.example/app.tar.gz", "extract": True, "cache": True,
        }
        env = {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}
        assert env["COLOR"] == "red" and env["ELASTICJOB_TASK_ID"] == TASK_ID
        assert {r["name"]: r["scalar"]["value"] for r in info["resources"]} == {"cpus": 0.5, "mem": 128}

        # RUNNING is acknowledged at once (Mesos then sends FINISHED); FINISHED when we have recorded it.
        replay.wait_for(lambda: TaskState.FINISHED in events.states(TASK_ID))
        assert events.states(TASK_ID) == [TaskState.RUNNING, TaskState.FINISHED]
        assert {a for a, _ in events.statuses} == {OUR_AGENT}
        finished = [s for _, s in events.statuses if s.state is TaskState.FINISHED][0]
        assert finished.exit_code == 0 and finished.message.startswith("TASK_FINISHED")
        assert len(replay.calls_of("ACKNOWLEDGE")) == 1
        assert source.send(OUR_AGENT, pb.MasterMessage(ack=pb.Acknowledge(task_ids=[TASK_ID])))
        replay.wait_for(lambda: len(replay.calls_of("ACKNOWLEDGE")) == 2)
        acks = [c["acknowledge"] for c in replay.calls_of("ACKNOWLEDGE")]
        assert all(a["task_id"] == {"value": TASK_ID} and a["agent_id"] == {"value": AGENT_ID} for a in acks)
        assert len({a["uuid"] for a in acks}) == 2
        assert replay.violations == []
    finally:
        source.close()


def test_a_launch_without_an_offer_is_lost_and_not_started(replay: ReplayMesos,
                                                           running: list[RunningTask]) -> None:
    events = Events()
    source = _source(replay, events, running)
    source.leading(True)
    try:
        replay.wait_for(lambda: source.subscribed)
        spec = _spec()
        spec.task_id = TASK_ID.replace(AGENT_ID, "other-S9")
        source.send("mesos-other-S9", pb.MasterMessage(launch=pb.Launch(tasks=[spec])))
        ((agent, status),) = events.statuses
        assert agent == "mesos-other-S9" and status.state is TaskState.LOST and status.reason == "not-started"
    finally:
        source.close()


def test_unreachable_reaches_us_as_lost_with_its_meaning(running: list[RunningTask]) -> None:
    with ReplayMesos(final_state="TASK_UNREACHABLE") as replay:
        events = Events()
        source = _source(replay, events, running)
        source.leading(True)
        try:
            replay.wait_for(lambda: source.agents().get(OUR_AGENT))
            source.send(OUR_AGENT, pb.MasterMessage(launch=pb.Launch(tasks=[_spec()])))
            replay.wait_for(lambda: TaskState.LOST in events.states(TASK_ID))
            lost = [s for _, s in events.statuses if s.state is TaskState.LOST][0]
            assert "TASK_UNREACHABLE" in lost.message and "unreachable" in lost.message[17:]
            assert "REASON_AGENT_DISCONNECTED" in lost.message
        finally:
            source.close()


def test_unused_offers_are_declined_with_the_filter(replay: ReplayMesos, running: list[RunningTask]) -> None:
    events = Events()
    source = _source(replay, events, running)
    source.leading(True)
    try:
        decline = replay.wait_for(lambda: replay.calls_of("DECLINE"))[0]
        assert decline["decline"] == {"offer_ids": [{"value": "12214-23523-O1"}], "filters": {"refuse_seconds": 7.0}}
        assert decline["framework_id"] == {"value": FRAMEWORK_ID}
        assert OUR_AGENT not in source.agents()  # declined: no longer offered, and no task of ours there
        replay.wait_for(lambda: source.agents().get(OUR_AGENT))  # offered again after the filter
        assert replay.violations == []
    finally:
        source.close()


def test_rescinded_offers_are_dropped(replay: ReplayMesos, running: list[RunningTask]) -> None:
    from tests.integration.mesos_replay import example

    events = Events()
    source = _source(replay, events, running)
    source.config = MesosConfig(replay.url, refuse_seconds=7.0, offer_hold=30.0)
    source.leading(True)
    try:
        replay.wait_for(lambda: source.agents().get(OUR_AGENT))
        rescind = example("rescind")
        rescind["rescind"]["offer_id"]["value"] = "12214-23523-O1"
        replay.push(rescind)
        replay.wait_for(lambda: OUR_AGENT not in source.agents())
    finally:
        source.close()


def test_a_dropped_stream_resubscribes_with_the_framework_id_and_reconciles(
    replay: ReplayMesos, running: list[RunningTask]
) -> None:
    events = Events()
    source = _source(replay, events, running)
    source.leading(True)
    try:
        replay.wait_for(lambda: source.subscribed)
        assert replay.calls_of("RECONCILE") == []  # nothing of ours on Mesos yet
        running.append(running_task(OUR_AGENT, 0.5, 128.0))
        replay.drop()
        replay.wait_for(lambda: len(replay.subscribes) == 2)
        again = replay.subscribes[1]
        assert again["framework_id"] == {"value": FRAMEWORK_ID}
        assert again["subscribe"]["framework_info"]["id"] == {"value": FRAMEWORK_ID}
        reconcile = replay.wait_for(lambda: replay.calls_of("RECONCILE"))[0]
        task_id = running[0].task_id
        assert reconcile["reconcile"]["tasks"] == [{"task_id": {"value": task_id}, "agent_id": {"value": AGENT_ID}}]
        replay.wait_for(lambda: events.states(task_id) == [TaskState.RUNNING])
        # The agent stayed present all along: its task is in Mesos' hands, not lost.
        assert OUR_AGENT in source.agents()
        assert replay.calls_of("ACKNOWLEDGE") == []  # reconciliation answers carry no uuid
        assert replay.violations == []
    finally:
        source.close()


def test_a_failed_agent_is_reported_gone(replay: ReplayMesos, running: list[RunningTask]) -> None:
    from tests.integration.mesos_replay import example

    events = Events()
    running.append(running_task(OUR_AGENT, 0.5, 128.0))
    source = _source(replay, events, running)
    source.leading(True)
    try:
        replay.wait_for(lambda: source.subscribed)
        replay.push(example("failure"))
        replay.wait_for(lambda: events.disconnected == [OUR_AGENT])
        assert OUR_AGENT not in source.agents()
    finally:
        source.close()
