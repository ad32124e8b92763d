"""The execs dialect's pure mapping (model/execs.py): the exec-id codec, status letters, durations, the
native job of a body, updates, and how a request on the shared ``/v1/jobs`` is recognised."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from elasticjob.model import ValidationFailed
from elasticjob.model import execs as x
from elasticjob.model.job import CronDialect
from elasticjob.model.run import Run, RunCause, RunStatus, run_id

BODY = {"name": "测试", "namespace": "chennanfei", "command": "echo hi", "docker_image_repo": "repo",
        "docker_image_tag": "latest", "resource_size": "XS", "is_schedule_active": False,
        "schedule_mode": None, "runtime_vars": {"DB_HOST": "localhost"}}


@pytest.mark.parametrize("firing", ["trigger-20240101T000000.000Z-x", "cron-20991231T235959.000Z", "daemon"])
def test_exec_ids_are_uuid_shaped_and_give_the_run_id_back(firing: str) -> None:
    run = run_id("ns.1", firing, dt.datetime(2020, 2, 29, 12, 0, 1, tzinfo=dt.UTC))
    text = x.exec_id(run)
    parsed = uuid.UUID(text)
    assert str(parsed) == text and parsed.version == 8 and parsed.variant == uuid.RFC_4122
    assert x.run_id_of(text) == run
    assert x.run_id_of(text.upper()) == run
    assert text.replace("-", "")[:12] == run[:12]  # the instant reads in it


def test_every_suffix_round_trips() -> None:
    for suffix in ("00000", "zzzzz", "a0b1c", "9zz9z"):
        run = "20151228145153" + suffix
        assert x.run_id_of(x.exec_id(run)) == run


@pytest.mark.parametrize("text", [
    "64b2d045-2881-4293-9bcd-bdc04b953115",  # the seed's: no id of ours
    "not-a-uuid", "",
    "20151228-1451-8530-8000-000000000001",  # padding not zero
    "20151228-1451-4530-8000-000000000000",  # version 4
    "20151228-1451-8530-c000-000000000000",  # another variant
    "2015122a-1451-8530-8000-000000000000",  # the instant is not digits
    "20151328-1451-8530-8000-000000000000",  # month 13
    "20151228-1451-8530-8fff-ffff00000000",  # a suffix beyond base 36's five characters
])
def test_what_is_no_exec_id_decodes_to_nothing(text: str) -> None:
    assert x.run_id_of(text) is None


def test_a_run_id_is_required_to_make_an_exec_id() -> None:
    with pytest.raises(ValueError):
        x.exec_id("nope")


@pytest.mark.parametrize(("status", "letter"), [
    (RunStatus.INITIAL, "W"), (RunStatus.STARTING, "W"), (RunStatus.ACTIVE, "R"),
    (RunStatus.SUCCESS, "F"), (RunStatus.FAILED, "E"),
])
def test_status_letters(status: RunStatus, letter: str) -> None:
    assert x.status_letter(status) == letter


def test_trigger_modes() -> None:
    assert x.trigger_mode(RunCause.MANUAL) == "M"
    assert x.trigger_mode(RunCause.SCHEDULED) == x.trigger_mode(RunCause.MISFIRE) == "S"


def test_duration_in_whole_seconds() -> None:
    start = dt.datetime(2015, 12, 28, 14, 52, 2, 952491, tzinfo=dt.UTC)
    assert x.duration(start, start + dt.timedelta(seconds=10.9)) == {"hours": 0, "minutes": 0, "seconds": 10}
    assert x.duration(start, start + dt.timedelta(hours=26, minutes=3, seconds=4)) == {
        "hours": 26, "minutes": 3, "seconds": 4}
    assert x.duration(start, None) is None and x.duration(None, start) is None


def test_the_native_job_of_a_body() -> None:
    job = x.to_native(x.parse(x.JobBody, BODY), 146)
    assert job.jobName == "chennanfei.146" and job.dialect == "execs"
    assert job.scriptCommandLine == "echo hi" and job.appURL == ""
    assert (job.cpuCount, job.memoryMB) == (0.25, 128)
    assert job.environment == {"DB_HOST": "localhost"}
    assert job.scheduleActive is False and job.cron is None
    assert job.dialectSpec == {"id": 146, "name": "测试", "region_name": "default",
                               "docker_image_repo": "repo", "docker_image_tag": "latest"}
    shown = x.job_json(job, {"createdBy": "me", "createdAt": "t0", "updatedAt": "t1"})
    assert list(shown) == list(x.JOB_FIELDS)
    assert shown["id"] == 146 and shown["namespace"] == "chennanfei" and shown["name"] == "测试"
    assert shown["resource_size"] == "XS" and shown["is_schedule_active"] is False
    nested = x.nested_job_json(job, {})
    assert nested["email_enabled"] is False and nested["runtime_vars"] == json.dumps({"DB_HOST": "localhost"})


def test_defaults_and_a_schedule() -> None:
    body = x.parse(x.JobBody, {"name": "n", "namespace": "a_b-c", "command": "true",
                               "schedule_mode": "R/2099-01-01T00:00:00Z/PT1H"})
    job = x.to_native(body, 1)
    assert job.resourceSize == "XXS" and (job.cpuCount, job.memoryMB) == (0.125, 64)
    assert job.cron == "R/2099-01-01T00:00:00Z/PT1H" and job.cronDialect is CronDialect.ISO8601
    assert job.scheduleActive is None  # active: the native default
    assert x.job_json(job, {})["region_name"] == "default"


@pytest.mark.parametrize(("change", "path"), [
    ({"namespace": "a.b"}, "namespace"), ({"namespace": ""}, "namespace"), ({"namespace": 1}, "namespace"),
    ({"resource_size": "XL"}, "resource_size"), ({"command": ""}, "command"),
    ({"runtime_vars": {"ELASTICJOB_X": "1"}}, "runtime_vars.ELASTICJOB_X"),
    ({"is_schedule_active": "true"}, "is_schedule_active"), ({"unknown": 1}, "unknown"),
])
def test_bad_bodies_name_their_field(change: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        x.parse(x.JobBody, {**BODY, **change})
    assert path in {d.path for d in refused.value.details}


def test_an_update_changes_what_it_gives() -> None:
    job = x.to_native(x.parse(x.JobBody, BODY), 146)
    patch = x.parse(x.JobPatch, {"name": "test2", "command": "/bin bash", "resource_size": "S",
                                 "schedule_mode": "R1/2099-01-01T00:00:00Z/PT1H", "is_schedule_active": True})
    updated = x.patched(job, patch)
    assert updated.jobName == job.jobName and x.id_of(updated) == 146
    assert updated.dialectSpec is not None and updated.dialectSpec["name"] == "test2"
    assert updated.dialectSpec["docker_image_repo"] == "repo"  # kept
    assert updated.environment == job.environment and updated.memoryMB == 256
    assert updated.cron == "R1/2099-01-01T00:00:00Z/PT1H" and updated.scheduleActive is None
    unscheduled = x.patched(updated, x.parse(x.JobPatch, {"schedule_mode": None}))
    assert unscheduled.cron is None and unscheduled.cronDialect is None
    with pytest.raises(ValidationFailed) as moved:
        x.patched(job, x.parse(x.JobPatch, {"namespace": "other"}))
    assert moved.value.details[0].path == "namespace"
    assert x.patched(job, x.parse(x.JobPatch, {"namespace": "chennanfei"})) == job
    with pytest.raises(ValidationFailed):
        x.patched(job, x.parse(x.JobPatch, {"command": None}))


def test_an_exec_of_a_run() -> None:
    job = x.to_native(x.parse(x.JobBody, BODY), 146)
    started = dt.datetime(2015, 12, 28, 14, 52, 2, 952491, tzinfo=dt.UTC)
    run = Run(run_id="20151228145153abcde", job_name=job.jobName, firing_id="f", cause=RunCause.MANUAL,
              status=RunStatus.SUCCESS, created_at=started - dt.timedelta(seconds=9), started_at=started,
              finished_at=started + dt.timedelta(seconds=10), environment={"EXTRA": "1"})
    shown = x.exec_json(job, {"createdBy": "me"}, run)
    assert shown["id"] == x.exec_id(run.run_id) and shown["job"] == 146 and shown["status"] == "F"
    assert shown["started_at"] == "2015-12-28T14:52:02.952491+00:00"
    assert shown["duration"] == {"hours": 0, "minutes": 0, "seconds": 10}
    assert shown["runtime_vars"] == {"DB_HOST": "localhost", "EXTRA": "1"}
    assert shown["trigger_mode"] == "M" and shown["created_by"] == "me"
    assert x.exec_detail_json(job, {}, run)["job"]["id"] == 146
    # Created and already running (or even done) before the answer: answered as created, as the seed shows.
    created = x.created_exec_json(job, {}, run)
    assert (created["status"], created["started_at"], created["ended_at"], created["duration"]) == ("W", None, None, None)
    assert {k: v for k, v in created.items() if k not in ("status", "started_at", "ended_at", "duration")} == {
        k: v for k, v in x.exec_json(job, {}, run).items() if k not in ("status", "started_at", "ended_at", "duration")}


def test_recognition_on_the_shared_path() -> None:
    assert x.is_execs_body({"name": "x", "command": "y"})
    assert not x.is_execs_body({"name": "x", "command": "y", "run": {}})  # Metronome's
    assert not x.is_execs_body({"id": "x", "run": {"cmd": "y"}})
    assert not x.is_execs_body({"name": "x"}) and not x.is_execs_body(["name", "command"])
    assert x.is_execs_list({"namespace": "a"}) and not x.is_execs_list({"embed": "history"})
    assert x.numeric_id("146") == 146
    assert x.numeric_id("0146") is None and x.numeric_id("a.146") is None and x.numeric_id("１") is None


def test_log_windows() -> None:
    assert x.log_window(None, None) == (None, None)
    assert x.log_window("1451350945", "") == (1451350945000, None)
    assert x.log_window(None, "10") == (None, 10999)
    with pytest.raises(ValidationFailed) as refused:
        x.log_window("1.5", "soon")
    assert [d.path for d in refused.value.details] == ["start_time", "end_time"]
