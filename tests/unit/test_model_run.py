"""Runs: ids derived from the firing, causes, and the status of a run from its tasks."""

from __future__ import annotations

import datetime as dt

import pytest

from elasticjob.model.run import (
    RUN_ID_RE,
    RunCause,
    RunStatus,
    RunTask,
    active_status,
    assemble,
    cause_of,
    finished_status,
    firing_instant,
    run_id,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 7, 25, 21, 25, 7, tzinfo=UTC)


def test_a_run_id_is_metronomes_form_and_the_same_wherever_it_is_computed() -> None:
    rid = run_id("myjob", "cron-20260725T212507.000Z")
    assert RUN_ID_RE.fullmatch(rid) and rid.startswith("20260725212507")
    assert run_id("myjob", "cron-20260725T212507.000Z") == rid
    assert run_id("other", "cron-20260725T212507.000Z") != rid
    assert run_id("myjob", "cron-20260725T212508.000Z")[:14] == "20260725212508"


def test_a_firing_without_an_instant_takes_the_one_given() -> None:
    assert firing_instant("trigger-0f3a") is None
    assert run_id("j", "trigger-0f3a", T0).startswith("20260725212507")
    assert firing_instant("trigger-20260725T212507.123Z-ab12") == T0


@pytest.mark.parametrize(
    ("firing", "launched", "cause"),
    [
        ("cron-20260725T212507.000Z", T0 - dt.timedelta(seconds=2), RunCause.SCHEDULED),  # launched ahead
        ("cron-20260725T212507.000Z", T0 + dt.timedelta(seconds=3), RunCause.SCHEDULED),
        ("cron-20260725T212507.000Z", T0 + dt.timedelta(minutes=5), RunCause.MISFIRE),  # waited or caught up
        ("trigger-20260725T212507.000Z-ab", T0 + dt.timedelta(minutes=5), RunCause.MANUAL),
        ("trigger-0f3a", None, RunCause.MANUAL),
    ],
)
def test_the_cause_of_a_run(firing: str, launched: dt.datetime | None, cause: RunCause) -> None:
    assert cause_of(firing, launched) is cause


def task(item: int, state: str, at: int, message: str = "") -> RunTask:
    return RunTask(f"t{item}-{at}", item, state, message=message, created_at=T0 + dt.timedelta(seconds=at))


def test_every_shards_last_attempt_finished_is_success_even_after_a_failover() -> None:
    tasks = [task(0, "FINISHED", 1), task(1, "LOST", 1), task(1, "FINISHED", 30)]
    assert finished_status(tasks) == (RunStatus.SUCCESS, "")


def test_a_shard_whose_last_attempt_did_not_finish_fails_the_run_with_its_message() -> None:
    tasks = [task(0, "FINISHED", 1), task(1, "FAILED", 1, "exit 3"), task(1, "FAILED", 20, "exit 4")]
    assert finished_status(tasks) == (RunStatus.FAILED, "shard 1 FAILED: exit 4")
    killed = [task(0, "KILLED", 1, "killed: stopped by the user")]
    assert finished_status(killed) == (RunStatus.FAILED, "shard 0 KILLED: killed: stopped by the user")
    missed = [RunTask("m", None, "MISSED", message="past its deadline", created_at=T0)]
    assert finished_status(missed) == (RunStatus.FAILED, "firing MISSED: past its deadline")


def test_a_shard_without_a_recorded_end_keeps_the_run_active() -> None:
    assert finished_status([task(0, "FINISHED", 1), task(1, "RUNNING", 1)])[0] is RunStatus.ACTIVE
    assert finished_status([])[0] is RunStatus.ACTIVE  # nothing recorded yet


def test_a_launched_run_is_starting_until_a_shard_runs_and_active_while_one_waits_to_rerun() -> None:
    assert active_status(["STAGING", "STAGING"]) is RunStatus.STARTING
    assert active_status(["STAGING", "RUNNING"]) is RunStatus.ACTIVE
    assert active_status([], pending_shards=1) is RunStatus.ACTIVE
    assert RunStatus.SUCCESS.finished and not RunStatus.ACTIVE.finished


def test_a_run_is_assembled_from_its_recorded_tasks_and_the_leaders_newer_state() -> None:
    firing = "cron-20260725T212507.000Z"
    recorded = [task(0, "FINISHED", 1), task(1, "STAGING", 1)]
    newer = RunTask("t1-1", 1, "RUNNING", created_at=T0 + dt.timedelta(seconds=1), started_at=T0 + dt.timedelta(seconds=2))
    run = assemble("myjob", firing, recorded, running=[newer])
    assert run.status is RunStatus.ACTIVE and run.cause is RunCause.SCHEDULED
    assert run.run_id == run_id("myjob", firing) and run.finished_at is None
    assert [t.state for t in run.tasks] == ["FINISHED", "RUNNING"]
    done = assemble("myjob", firing, [task(0, "FINISHED", 1), task(1, "LOST", 1), task(1, "FINISHED", 40)])
    assert done.status is RunStatus.SUCCESS and len(done.tasks) == 3
    waiting = assemble("myjob", "trigger-20260725T212507.000Z-ab", [], queued_at=T0)
    assert (waiting.status, waiting.cause, waiting.created_at) == (RunStatus.INITIAL, RunCause.MANUAL, T0)
    rerun = assemble("myjob", firing, [task(0, "LOST", 1)], pending_shards=1)
    assert rerun.status is RunStatus.ACTIVE


def test_a_missed_firings_run_ends_when_it_was_recorded_missed() -> None:
    missed = RunTask("m", None, "MISSED", message="disabled", created_at=T0 + dt.timedelta(seconds=3))
    run = assemble("myjob", "cron-20260725T212507.000Z", [missed])
    assert run.status is RunStatus.FAILED and run.finished_at == T0 + dt.timedelta(seconds=3)


def test_a_lost_task_declared_in_the_cycle_that_re_runs_its_shard_comes_before_the_re_run() -> None:
    # A new leader whose predecessor died before recording a launch records the task's loss and launches
    # the shard again in one cycle, both at that cycle's instant: the attempt that ended later is the last.
    lost = RunTask("t0-a", 0, "LOST", message="agent restarted", created_at=T0, finished_at=T0)
    rerun = RunTask("t0-b", 0, "FINISHED", created_at=T0, finished_at=T0 + dt.timedelta(seconds=5))
    for recorded in ([lost, rerun], [rerun, lost]):
        assert finished_status(recorded) == (RunStatus.SUCCESS, "")
