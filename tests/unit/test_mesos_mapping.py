"""The pure Mesos modules: state mapping (every state), offers, task infos, calls, RecordIO."""

from __future__ import annotations

import datetime as dt

import pytest

from elasticjob.mesos import mapping, messages
from elasticjob.mesos.book import OfferBook
from elasticjob.mesos.messages import FrameworkInfo, Offer, RecordIO, RecordIOError, TaskUpdate
from elasticjob.model import TaskState
from elasticjob.model.running import RunningTask
from elasticjob.model.task import NOT_STARTED, TaskKind
from elasticjob.protocol import agent_pb2 as pb

EXPECTED = {
    "TASK_STAGING": TaskState.STAGING,
    "TASK_STARTING": TaskState.STAGING,
    "TASK_RUNNING": TaskState.RUNNING,
    "TASK_FINISHED": TaskState.FINISHED,
    "TASK_FAILED": TaskState.FAILED,
    "TASK_ERROR": TaskState.FAILED,
    "TASK_KILLED": TaskState.KILLED,
    "TASK_KILLING": TaskState.KILLED,
    "TASK_LOST": TaskState.LOST,
    "TASK_DROPPED": TaskState.LOST,
    "TASK_GONE": TaskState.LOST,
    "TASK_GONE_BY_OPERATOR": TaskState.LOST,
    "TASK_UNREACHABLE": TaskState.LOST,
    "TASK_UNKNOWN": TaskState.LOST,
}


@pytest.mark.parametrize("mesos_state", sorted(EXPECTED))
def test_every_mesos_state_maps(mesos_state: str) -> None:
    assert mapping.state_of(mesos_state) is EXPECTED[mesos_state]
    status = mapping.status_of(TaskUpdate("t", mesos_state, "A1", timestamp=1.5))
    assert status.state is EXPECTED[mesos_state]
    assert status.message.startswith(mesos_state)  # the Mesos state is kept in the message
    assert status.timestamp_ms == 1500


def test_the_table_covers_the_states_of_mesos_1x() -> None:
    assert set(mapping.STATES) == set(EXPECTED)


def test_an_unknown_state_is_lost() -> None:
    assert mapping.state_of("TASK_SOMETHING_NEW") is TaskState.LOST


def test_unreachable_keeps_its_meaning() -> None:
    status = mapping.status_of(TaskUpdate("t", "TASK_UNREACHABLE", "A1", reason="REASON_AGENT_DISCONNECTED"))
    assert status.state is TaskState.LOST
    assert "unreachable" in status.message and "may still be running" in status.message
    assert "REASON_AGENT_DISCONNECTED" in status.message


def test_finished_has_exit_code_zero_and_invalid_offers_is_not_started() -> None:
    assert mapping.status_of(TaskUpdate("t", "TASK_FINISHED")).exit_code == 0
    dropped = mapping.status_of(TaskUpdate("t", "TASK_DROPPED", reason="REASON_INVALID_OFFERS"))
    assert dropped.state is TaskState.LOST and dropped.reason == NOT_STARTED


def test_agent_ids_are_prefixed() -> None:
    assert mapping.our_agent_id("abc-S0") == "mesos-abc-S0"
    assert mapping.mesos_agent_id("mesos-abc-S0") == "abc-S0"
    assert mapping.mesos_agent_id("host-1") is None


def _spec(**overrides: object) -> pb.TaskSpec:
    values: dict[str, object] = dict(
        task_id="j@-@0@-@READY@-@mesos-A1@-@u", job_name="j", firing_id="f1", sharding_item=0,
        sharding_total_count=2, sharding_parameter="a", job_parameter="p", app_name="app",
        app_url="http://files/app.tar.gz", app_cache_enable=True, job_type="SCRIPT", command="./run.sh",
        environment={"COLOR": "red"}, resources=pb.Resources(cpus=0.5, mem_mb=64),
        execution_type="TRANSIENT",
    )
    values.update(overrides)
    return pb.TaskSpec(**values)  # type: ignore[arg-type]


def test_task_info_has_command_fetcher_uri_environment_and_resources() -> None:
    info = mapping.task_info(_spec(), "A1", "*")
    assert info["task_id"] == {"value": "j@-@0@-@READY@-@mesos-A1@-@u"}
    assert info["agent_id"] == {"value": "A1"}
    command = info["command"]
    assert command["value"] == "./run.sh" and command["shell"] is True
    assert command["uris"] == [{"value": "http://files/app.tar.gz", "extract": True, "cache": True}]
    env = {v["name"]: v["value"] for v in command["environment"]["variables"]}
    assert env["COLOR"] == "red"
    assert env["ELASTICJOB_SHARDING_ITEM"] == "0" and env["ELASTICJOB_SHARDING_TOTAL_COUNT"] == "2"
    assert env["ELASTICJOB_TASK_ID"] == "j@-@0@-@READY@-@mesos-A1@-@u"
    resources = {r["name"]: r["scalar"]["value"] for r in info["resources"]}
    assert resources == {"cpus": 0.5, "mem": 64}
    assert all(r["allocation_info"] == {"role": "*"} for r in info["resources"])


def test_a_python_job_runs_the_sdk_runner() -> None:
    info = mapping.task_info(_spec(job_type="SIMPLE", job_class="mod:fn", command=""), "A1")
    assert info["command"]["value"] == "python3 -m elasticjob.sdk.runner"
    env = {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}
    assert env["ELASTICJOB_JOB_CLASS"] == "mod:fn"


def test_calls() -> None:
    sub = messages.subscribe(FrameworkInfo(name="ej", roles=("jobs",), failover_timeout=60))
    assert sub["type"] == "SUBSCRIBE" and "framework_id" not in sub
    info = sub["subscribe"]["framework_info"]
    assert info["name"] == "ej" and info["roles"] == ["jobs"] and info["failover_timeout"] == 60
    again = messages.subscribe(FrameworkInfo(), "F1")
    assert again["framework_id"] == {"value": "F1"}
    assert again["subscribe"]["framework_info"]["id"] == {"value": "F1"}
    assert messages.decline("F1", ["o1"], 7.0) == {
        "framework_id": {"value": "F1"}, "type": "DECLINE",
        "decline": {"offer_ids": [{"value": "o1"}], "filters": {"refuse_seconds": 7.0}},
    }
    accept = messages.accept("F1", ["o1"], [{"name": "t"}], 5.0)["accept"]
    assert accept["operations"] == [{"type": "LAUNCH", "launch": {"task_infos": [{"name": "t"}]}}]
    ack = messages.acknowledge("F1", "A1", "t1", "dXVpZA==")["acknowledge"]
    assert ack == {"agent_id": {"value": "A1"}, "task_id": {"value": "t1"}, "uuid": "dXVpZA=="}
    assert messages.reconcile("F1", [("t1", "A1")])["reconcile"] == {
        "tasks": [{"task_id": {"value": "t1"}, "agent_id": {"value": "A1"}}]
    }
    assert messages.kill("F1", "t1", "A1")["kill"] == {"task_id": {"value": "t1"}, "agent_id": {"value": "A1"}}


def test_offer_parsing() -> None:
    offer = messages.parse_offer({
        "id": {"value": "o1"}, "agent_id": {"value": "A1"}, "hostname": "h1",
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}},
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "jobs"},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 1024}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 2}]}},
        ],
        "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
                       {"name": "gen", "type": "SCALAR", "scalar": {"value": 3}}],
    })
    assert (offer.cpus, offer.mem_mb, dict(offer.attributes)) == (3.0, 1024.0, {"rack": "r1", "gen": "3"})
    with pytest.raises(ValueError):
        messages.parse_offer({"id": {"value": "o1"}})


def test_recordio_across_chunks() -> None:
    stream = messages.encode_record({"type": "HEARTBEAT"}) + messages.encode_record({"type": "X", "x": "é"})
    decoder = RecordIO()
    records = [r for i in range(len(stream)) for r in decoder.feed(stream[i:i + 1])]
    assert [messages.json.loads(r)["type"] for r in records] == ["HEARTBEAT", "X"]
    with pytest.raises(RecordIOError):
        list(RecordIO().feed(b"abc\n{}"))
    with pytest.raises(RecordIOError):
        list(RecordIO(max_record=10).feed(b"11\n"))


def test_book_views_add_our_usage_to_what_is_offered() -> None:
    book = OfferBook()
    book.add([Offer("o1", "A1", "h1", 2.0, 512.0, {"rack": "r1"})])
    views = book.views([running_task("mesos-A1", 0.5, 128.0), running_task("mesos-A2", 1.0, 64.0),
                        running_task("grpc-agent", 9.0, 9.0)])
    assert set(views) == {"mesos-A1", "mesos-A2"}  # A2 holds a task of ours: still present
    assert (views["mesos-A1"].cpus, views["mesos-A1"].mem_mb) == (2.5, 640.0)
    assert views["mesos-A1"].attributes == {"rack": "r1"}
    assert (views["mesos-A2"].cpus, views["mesos-A2"].mem_mb) == (1.0, 64.0)  # nothing free
    book.failed("A2")
    assert "mesos-A2" not in book.views([running_task("mesos-A2", 1.0, 64.0)])
    assert [o.offer_id for o in book.take("A1")] == ["o1"] and book.take("A1") == []


def running_task(agent_id: str, cpus: float, mem_mb: float) -> RunningTask:
    return RunningTask(
        task_id=f"j@-@0@-@READY@-@{agent_id}@-@u", job_name="j", sharding_item=0, firing_id="f",
        agent_id=agent_id, hostname="h", app_name="app", cpus=cpus, mem_mb=mem_mb, app_cpus=0.0,
        app_mem_mb=0.0, kind=TaskKind.READY, state=TaskState.RUNNING,
        launched_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
