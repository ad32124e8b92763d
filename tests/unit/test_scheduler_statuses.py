"""plan_statuses: agents' status reports turned into znode updates, deletes, events, acks and kills."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from elasticjob.model import NOT_STARTED, TaskKind, TaskState
from elasticjob.model.running import RunningTask
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.scheduler.statuses import Recorded, StatusPlan, plan_statuses

UTC = dt.UTC
NOW = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
LAUNCHED = NOW - dt.timedelta(seconds=30)
STARTED_MS = int((NOW - dt.timedelta(seconds=20)).timestamp() * 1000)
REPORTED_MS = int((NOW - dt.timedelta(seconds=5)).timestamp() * 1000)
UNKNOWN_REASON = "not a task id of this cluster"  # "t1", "ghost": unknown, and not even task ids
TERMINAL = [TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED, TaskState.LOST]


def at_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def task(task_id: str = "t1", agent_id: str = "a1", state: TaskState = TaskState.STAGING,
         started_at: dt.datetime | None = None) -> RunningTask:
    return RunningTask(
        task_id=task_id, job_name="job", sharding_item=0, firing_id="cron-20240301T115930.000Z",
        agent_id=agent_id, hostname=agent_id + ".host", app_name="app", cpus=0.5, mem_mb=64,
        app_cpus=0.1, app_mem_mb=32, kind=TaskKind.READY, state=state, launched_at=LAUNCHED,
        started_at=started_at,
    )


def running(*tasks_with_versions: tuple[RunningTask, int]) -> dict[str, tuple[RunningTask, int]]:
    return {t.task_id: (t, v) for t, v in tasks_with_versions}


def test_no_reports_plan_nothing() -> None:
    assert plan_statuses([], running((task(), 0)), NOW) == StatusPlan()


def test_running_of_a_known_staging_task_updates_it_with_started_at() -> None:
    known = task()
    report = StatusUpdate("t1", TaskState.RUNNING, timestamp_ms=REPORTED_MS, started_ms=STARTED_MS)
    plan = plan_statuses([("a1", report)], running((known, 3)), NOW)
    updated = replace(known, state=TaskState.RUNNING, started_at=at_ms(STARTED_MS))
    assert plan.updates == [(updated, 3)]
    assert plan.events == [
        Recorded(updated, TaskState.RUNNING, None, "", at_ms(REPORTED_MS), at_ms(STARTED_MS), None)
    ]
    assert (plan.deletes, plan.kills, plan.acks) == ([], [], {})


def test_a_report_without_timestamp_is_recorded_at_now() -> None:
    report = StatusUpdate("t1", TaskState.RUNNING, started_ms=STARTED_MS)
    plan = plan_statuses([("a1", report)], running((task(), 0)), NOW)
    assert plan.events[0].at == NOW


def test_a_started_at_already_known_is_kept_when_the_report_has_none() -> None:
    known = task(state=TaskState.RUNNING, started_at=LAUNCHED)
    report = StatusUpdate("t1", TaskState.FINISHED, exit_code=0, timestamp_ms=REPORTED_MS)
    plan = plan_statuses([("a1", report)], running((known, 1)), NOW)
    assert plan.events[0].started_at == LAUNCHED


@pytest.mark.parametrize("state", [TaskState.STAGING, TaskState.RUNNING])
def test_the_same_state_repeated_changes_nothing(state: TaskState) -> None:
    known = task(state=state, started_at=at_ms(STARTED_MS) if state is TaskState.RUNNING else None)
    report = StatusUpdate("t1", state, message="still here", timestamp_ms=REPORTED_MS, started_ms=STARTED_MS)
    assert plan_statuses([("a1", report), ("a1", report)], running((known, 2)), NOW) == StatusPlan()


@pytest.mark.parametrize("state", TERMINAL)
@pytest.mark.parametrize("exit_code", [0, 3, None])
def test_terminal_of_a_known_task_deletes_acks_and_records(state: TaskState, exit_code: int | None) -> None:
    known = task(state=TaskState.RUNNING, started_at=at_ms(STARTED_MS))
    report = StatusUpdate("t1", state, exit_code=exit_code, message="done", timestamp_ms=REPORTED_MS,
                          started_ms=STARTED_MS)
    plan = plan_statuses([("a1", report)], running((known, 4)), NOW)
    assert plan.deletes == [(known, 4)]
    assert plan.acks == {"a1": ["t1"]}
    assert plan.events == [
        Recorded(known, state, exit_code, "done", at_ms(REPORTED_MS), at_ms(STARTED_MS), at_ms(REPORTED_MS))
    ]
    assert (plan.updates, plan.kills) == ([], [])


def test_terminal_of_a_staging_task_that_never_started() -> None:
    known = task()
    report = StatusUpdate("t1", TaskState.FAILED, message="cannot fetch", timestamp_ms=REPORTED_MS)
    plan = plan_statuses([("a1", report)], running((known, 0)), NOW)
    assert plan.deletes == [(known, 0)]
    assert plan.events[0].started_at is None
    assert plan.events[0].finished_at == at_ms(REPORTED_MS)
    assert plan.events[0].exit_code is None


@pytest.mark.parametrize("state", TERMINAL)
def test_terminal_of_an_unknown_task_is_only_acknowledged(state: TaskState) -> None:
    plan = plan_statuses([("a1", StatusUpdate("ghost", state, exit_code=1))], running((task(), 0)), NOW)
    assert plan == StatusPlan(acks={"a1": ["ghost"]})


@pytest.mark.parametrize("state", [TaskState.STAGING, TaskState.RUNNING])
def test_non_terminal_of_an_unknown_task_is_killed(state: TaskState) -> None:
    plan = plan_statuses([("a2", StatusUpdate("ghost", state))], {}, NOW)
    assert plan == StatusPlan(kills=[("a2", "ghost", UNKNOWN_REASON)])


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (TaskState.RUNNING, StatusPlan(kills=[("a2", "t1", UNKNOWN_REASON)])),
        (TaskState.STAGING, StatusPlan(kills=[("a2", "t1", UNKNOWN_REASON)])),
        (TaskState.FINISHED, StatusPlan(acks={"a2": ["t1"]})),
        (TaskState.LOST, StatusPlan(acks={"a2": ["t1"]})),
    ],
)
def test_a_report_from_another_agent_is_treated_as_unknown(state: TaskState, expected: StatusPlan) -> None:
    # t1 was launched on a1; a2 reporting it must neither update nor delete a1's task.
    report = StatusUpdate("t1", state, exit_code=0)
    assert plan_statuses([("a2", report)], running((task(agent_id="a1"), 5)), NOW) == expected


def test_staging_running_finished_in_one_batch_chain_the_versions() -> None:
    known = task()
    reports = [
        ("a1", StatusUpdate("t1", TaskState.STAGING, timestamp_ms=REPORTED_MS - 2000)),
        ("a1", StatusUpdate("t1", TaskState.RUNNING, timestamp_ms=REPORTED_MS - 1000, started_ms=STARTED_MS)),
        ("a1", StatusUpdate("t1", TaskState.FINISHED, exit_code=0, timestamp_ms=REPORTED_MS,
                            started_ms=STARTED_MS)),
    ]
    plan = plan_statuses(reports, running((known, 7)), NOW)
    updated = replace(known, state=TaskState.RUNNING, started_at=at_ms(STARTED_MS))
    assert plan.updates == [(updated, 7)]
    assert plan.deletes == [(updated, 8)]
    assert plan.acks == {"a1": ["t1"]}
    assert [(e.state, e.exit_code, e.at) for e in plan.events] == [
        (TaskState.RUNNING, None, at_ms(REPORTED_MS - 1000)),
        (TaskState.FINISHED, 0, at_ms(REPORTED_MS)),
    ]
    assert plan.kills == []


def test_a_report_after_the_terminal_one_in_the_same_batch_sees_the_task_gone() -> None:
    reports = [
        ("a1", StatusUpdate("t1", TaskState.FINISHED, exit_code=0)),
        ("a1", StatusUpdate("t1", TaskState.RUNNING)),
    ]
    plan = plan_statuses(reports, running((task(state=TaskState.RUNNING), 2)), NOW)
    assert len(plan.deletes) == 1
    assert plan.kills == [("a1", "t1", UNKNOWN_REASON)]


def test_reports_of_several_tasks_and_agents() -> None:
    t1, t2, t3 = task("t1", "a1"), task("t2", "a2", TaskState.RUNNING), task("t3", "a1", TaskState.RUNNING)
    reports = [
        ("a1", StatusUpdate("t1", TaskState.RUNNING, started_ms=STARTED_MS)),
        ("a2", StatusUpdate("t2", TaskState.FAILED, exit_code=2)),
        ("a1", StatusUpdate("t3", TaskState.KILLED)),
        ("a1", StatusUpdate("gone", TaskState.FINISHED, exit_code=0)),
        ("a2", StatusUpdate("stale", TaskState.RUNNING)),
    ]
    plan = plan_statuses(reports, running((t1, 1), (t2, 2), (t3, 3)), NOW)
    assert [(t.task_id, v) for t, v in plan.updates] == [("t1", 1)]
    assert [(t.task_id, v) for t, v in plan.deletes] == [("t2", 2), ("t3", 3)]
    assert plan.acks == {"a2": ["t2"], "a1": ["t3", "gone"]}
    assert plan.kills == [("a2", "stale", UNKNOWN_REASON)]
    assert [(e.task.task_id, e.state) for e in plan.events] == [
        ("t1", TaskState.RUNNING), ("t2", TaskState.FAILED), ("t3", TaskState.KILLED),
    ]


def test_the_input_mapping_is_not_changed() -> None:
    state = running((task(), 0))
    before = dict(state)
    plan_statuses([("a1", StatusUpdate("t1", TaskState.FINISHED, exit_code=0))], state, NOW)
    assert state == before


def test_a_daemon_run_is_recorded_as_its_own_execution_and_leaves_the_task_running() -> None:
    daemon = task(state=TaskState.RUNNING)
    report = StatusUpdate("t1", TaskState.FAILED, exit_code=3, message="boom", timestamp_ms=5_000, run=2)
    plan = plan_statuses([("a1", report)], running((daemon, 4)), NOW)
    assert plan.updates == [] and plan.deletes == [] and plan.acks == {} and plan.kills == []
    [event] = plan.events
    assert event.task.task_id == "t1#2"
    assert (event.state, event.exit_code, event.message) == (TaskState.FAILED, 3, "boom")
    assert event.finished_at == at_ms(5_000)


# ---- failover decisions and reconciliation ------------------------------------------------------------

from elasticjob.model import App, Job, TaskId  # noqa: E402
from elasticjob.model.failover import FailoverCause, FailoverEntry  # noqa: E402
from elasticjob.scheduler.statuses import Context  # noqa: E402

JOB_KW = {"jobName": "j", "appName": "app", "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": 3,
          "cpuCount": 0.5, "memoryMB": 64}
APP = App.model_validate({"appName": "app", "appURL": "file:///a.tgz", "bootstrapScript": "run"}, strict=False)


def job(**overrides: object) -> Job:
    return Job.model_validate({**JOB_KW, **overrides}, strict=False)


def real_task(item: int = 1, agent: str = "a1", attempt: int = 0) -> RunningTask:
    return replace(task(str(TaskId.new("j", item, TaskKind.READY, agent)), agent_id=agent,
                        state=TaskState.RUNNING), job_name="j", sharding_item=item, firing_id="cron-X",
                   attempt=attempt)


@pytest.mark.parametrize(
    ("state", "reason", "failover", "retries", "expected"),
    [
        (TaskState.LOST, "", True, 0, FailoverCause.LOST),
        (TaskState.FAILED, "fetch", True, 0, FailoverCause.LOST),  # infrastructure: failover
        (TaskState.LOST, "", False, 0, None),  # no failover: recorded, next firing runs normally
        (TaskState.FAILED, "agent", False, 0, None),  # given up by its agent mid-run: no failover, no rerun
        # Nothing of it ran (its agent gave it up at its gate, or never received it): run it, failover or not.
        (TaskState.FAILED, NOT_STARTED, False, 0, FailoverCause.LOST),
        (TaskState.LOST, NOT_STARTED, False, 0, FailoverCause.LOST),
        (TaskState.KILLED, NOT_STARTED, False, 0, None),  # killed on request: not run again
        (TaskState.FAILED, "exit", True, 0, None),  # the job's own failure is not failover
        (TaskState.FAILED, "exit", False, 2, FailoverCause.RETRY),  # ...it follows the retry policy
        (TaskState.FAILED, "memory", False, 1, FailoverCause.RETRY),
        (TaskState.FINISHED, "", True, 3, None),
        (TaskState.KILLED, "killed", True, 3, None),
    ],
)
def test_a_terminal_report_queues_failover_or_retry_per_policy(
    state: TaskState, reason: str, failover: bool, retries: int, expected: FailoverCause | None,
) -> None:
    t = real_task()
    context = Context(jobs={"j": job(failover=failover, shardRetryLimit=retries, shardRetryBackoffSeconds=5)})
    report = StatusUpdate(t.task_id, state, exit_code=1, reason=reason)
    plan = plan_statuses([("a1", report)], running((t, 3)), NOW, context)
    assert plan.deletes == [(t, 3)]
    if expected is None:
        assert plan.failover_creates == []
        return
    [entry] = plan.failover_creates
    assert (entry.job_name, entry.sharding_item, entry.firing_id, entry.original_task_id) == ("j", 1, "cron-X", t.task_id)
    assert entry.cause is expected and entry.attempt == 1
    assert entry.not_before == (NOW if expected is FailoverCause.LOST else NOW + dt.timedelta(seconds=5))


def test_retries_back_off_exponentially_and_stop_at_the_shards_limit() -> None:
    context = Context(jobs={"j": job(shardRetryLimit=2, shardRetryBackoffSeconds=5)})
    second = real_task(attempt=1)
    plan = plan_statuses([("a1", StatusUpdate(second.task_id, TaskState.FAILED, exit_code=1, reason="exit"))],
                         running((second, 0)), NOW, context)
    assert plan.failover_creates[0].attempt == 2
    assert plan.failover_creates[0].not_before == NOW + dt.timedelta(seconds=10)
    last = real_task(attempt=2)
    plan = plan_statuses([("a1", StatusUpdate(last.task_id, TaskState.FAILED, exit_code=1, reason="exit"))],
                         running((last, 0)), NOW, context)
    assert plan.failover_creates == []


def test_an_unknown_running_task_nothing_replaced_is_adopted() -> None:
    tid = str(TaskId.new("j", 2, TaskKind.READY, "a1"))
    context = Context(jobs={"j": job()}, apps={"app": APP})
    report = StatusUpdate(tid, TaskState.RUNNING, started_ms=1_000, firing_id="cron-Y")
    plan = plan_statuses([("a1", report)], {}, NOW, context)
    assert plan.kills == []
    [adopted] = plan.creates
    assert (adopted.task_id, adopted.agent_id, adopted.sharding_item, adopted.firing_id) == (tid, "a1", 2, "cron-Y")
    assert (adopted.cpus, adopted.mem_mb, adopted.app_name, adopted.state) == (0.5, 64, "app", TaskState.RUNNING)
    assert "adopted" in plan.events[0].message


def test_an_adopted_task_cancels_its_pending_failover() -> None:
    tid = str(TaskId.new("j", 1, TaskKind.READY, "a1"))
    entry = FailoverEntry("j", 1, "cron-X", tid, 1, FailoverCause.LOST, NOW)
    context = Context(jobs={"j": job(failover=True)}, apps={"app": APP}, failover={"j": ((entry, 7),)},
                      lost=frozenset({tid}))
    plan = plan_statuses([("a1", StatusUpdate(tid, TaskState.RUNNING, firing_id="cron-X"))], {}, NOW, context)
    assert plan.kills == []
    assert [t.task_id for t in plan.creates] == [tid]
    assert plan.failover_deletes == [("j", "1", 7)]
    assert plan.tombstone_deletes == [tid]


@pytest.mark.parametrize(
    ("context_kw", "why"),
    [
        ({"lost": frozenset({"TID"})}, "declared lost"),  # given up (failover=false) or already re-run
        ({"running_items": frozenset({("j", 1)})}, "another run of this shard"),  # the failed-over copy runs
        ({"jobs": {}}, "no longer exists"),
    ],
)
def test_a_stale_copy_is_killed(context_kw: dict[str, object], why: str) -> None:
    tid = str(TaskId.new("j", 1, TaskKind.READY, "a1"))
    kw = {"jobs": {"j": job()}, "apps": {"app": APP}, **context_kw}
    if "lost" in kw:
        kw["lost"] = frozenset({tid})
    plan = plan_statuses([("a1", StatusUpdate(tid, TaskState.RUNNING))], {}, NOW, Context(**kw))  # type: ignore[arg-type]
    assert plan.creates == []
    [(agent, task_id, reason)] = plan.kills
    assert (agent, task_id) == ("a1", tid) and why in reason


def test_the_end_of_a_run_the_state_no_longer_holds_is_recorded_and_acknowledged() -> None:
    # A leader committed the end and died before the history had it: the agent reports it again.
    t = real_task()
    report = StatusUpdate(t.task_id, TaskState.FINISHED, exit_code=0, timestamp_ms=REPORTED_MS,
                          started_ms=STARTED_MS, firing_id="cron-X")
    plan = plan_statuses([("a1", report)], {}, NOW, Context())
    assert plan.acks == {"a1": [t.task_id]} and not plan.deletes
    [event] = plan.events
    assert (event.task.task_id, event.task.job_name, event.task.sharding_item, event.task.firing_id) == (
        t.task_id, "j", 1, "cron-X")
    assert (event.state, event.exit_code, event.started_at, event.at) == (
        TaskState.FINISHED, 0, at_ms(STARTED_MS), at_ms(REPORTED_MS))


def test_a_stale_copys_end_and_a_not_running_here_answer_are_not_recorded() -> None:
    stale = real_task(item=0)
    plan = plan_statuses([("a1", StatusUpdate(stale.task_id, TaskState.FINISHED, exit_code=0))], {}, NOW,
                         Context(lost=frozenset({stale.task_id})))
    assert plan.events == [] and plan.tombstone_deletes == [stale.task_id]
    unknown_here = real_task(item=2)
    answer = StatusUpdate(unknown_here.task_id, TaskState.KILLED, reason="unknown", message="not running")
    plan = plan_statuses([("a1", answer)], {}, NOW, Context())
    assert plan.events == [] and plan.acks == {"a1": [unknown_here.task_id]}


def test_a_shard_launched_ahead_and_killed_before_its_instant_is_recorded_as_missed() -> None:
    ahead = replace(real_task(), state=TaskState.STAGING, start_at=NOW + dt.timedelta(seconds=1))
    cancelled = StatusUpdate(ahead.task_id, TaskState.KILLED, message="killed: job 'j' was disabled")
    plan = plan_statuses([("a1", cancelled)], running((ahead, 0)), NOW, Context(jobs={"j": job()}))
    assert plan.deletes == [(ahead, 0)] and plan.failover_creates == []
    assert [e.missed for e in plan.events] == [True]
    ran = StatusUpdate(ahead.task_id, TaskState.KILLED, started_ms=STARTED_MS)  # it had started: KILLED
    assert [e.missed for e in plan_statuses([("a1", ran)], running((ahead, 0)), NOW).events] == [False]
    plain = replace(real_task(), state=TaskState.STAGING)  # not launched ahead: KILLED as ever
    killed = StatusUpdate(plain.task_id, TaskState.KILLED)
    assert [e.missed for e in plan_statuses([("a1", killed)], running((plain, 0)), NOW).events] == [False]


def test_a_job_whose_runs_overlap_adopts_a_shard_beside_another_runs_copy_but_not_its_own() -> None:
    tid = str(TaskId.new("j", 1, TaskKind.READY, "a1"))
    allow = job(concurrencyPolicy="ALLOW")
    report = StatusUpdate(tid, TaskState.RUNNING, firing_id="cron-Y")
    beside = Context(jobs={"j": allow}, apps={"app": APP}, running_items=frozenset({("j", 1)}),
                     running_firing_items=frozenset({("j", 1, "cron-X")}))
    plan = plan_statuses([("a1", report)], {}, NOW, beside)
    assert plan.kills == [] and [t.task_id for t in plan.creates] == [tid]
    same = replace(beside, running_firing_items=frozenset({("j", 1, "cron-Y")}))
    plan = plan_statuses([("a1", report)], {}, NOW, same)
    assert plan.creates == [] and "another run of this shard" in plan.kills[0][2]
