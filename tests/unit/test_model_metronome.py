"""Metronome's job shapes and their mapping onto native jobs (pure)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from elasticjob.model import ConcurrencyPolicy, CronDialect, Job, ValidationFailed, parse_json_model
from elasticjob.model import metronome as m
from elasticjob.model.run import Run, RunCause, RunStatus, RunTask


def spec(**run: Any) -> dict[str, Any]:
    return {"id": "team.job", "run": {"cmd": "echo hi", "cpus": 0.5, "mem": 64, **run}}


def paths(value: Any, model: type = m.JobSpec) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        m.parse_model(model, value)
    assert caught.value.message == "Object is not valid"
    return [d.path for d in caught.value.details]


def test_a_job_spec_becomes_a_native_job_with_its_metronome_fields_kept() -> None:
    parsed = m.parse_model(m.JobSpec, {
        **spec(env={"A": "1"}, disk=10, user="nobody", placement={"constraints": [
            {"attribute": "rack", "operator": "EQ", "value": "a"}]}, restart={"policy": "ON_FAILURE"},
            maxLaunchDelay=60),
        "labels": {"team": "data"}, "description": "d",
        "schedules": [{"id": "s", "cron": "0 3 * * 1", "timezone": "Europe/Berlin", "concurrencyPolicy": "ALLOW"}],
    })
    job = m.to_native(parsed, parsed.schedules[0])
    assert (job.jobName, job.scriptCommandLine, job.cpuCount, job.memoryMB) == ("team.job", "echo hi", 0.5, 64)
    assert job.appURL == "" and job.environment == {"A": "1"} and job.constraints == {"rack": "a"}
    assert job.cron == "0 3 * * 1" and job.cronDialect is CronDialect.METRONOME
    # The schedule's 900 s, or maxLaunchDelay if smaller: a run that cannot start by then is given up.
    assert job.timeZone == "Europe/Berlin" and job.startingDeadlineSeconds == 60
    assert job.shardRetryDeadlineSeconds is None
    unscheduled = m.to_native(parsed, None)
    assert unscheduled.startingDeadlineSeconds == 60 and unscheduled.cron is None
    deadline = m.parse_model(m.JobSpec, spec(restart={"policy": "ON_FAILURE", "activeDeadlineSeconds": 120}))
    assert m.to_native(deadline, None).shardRetryDeadlineSeconds == 120
    assert m.to_native(deadline, None).startingDeadlineSeconds == m.DEFAULT_MAX_LAUNCH_DELAY
    assert job.concurrencyPolicy is ConcurrencyPolicy.ALLOW
    for policy in ("FORBID", "REPLACE"):
        other = m.parse_model(m.ScheduleSpec, {"id": "s", "cron": "0 3 * * 1", "concurrencyPolicy": policy})
        assert m.to_native(parsed, other).concurrencyPolicy is ConcurrencyPolicy(policy)
    assert m.to_native(parsed, None).concurrencyPolicy is ConcurrencyPolicy.ALLOW  # runs by hand overlap
    assert job.shardRetryLimit == m.ON_FAILURE_RETRIES and job.misfire
    shown = m.job_json(job, None)
    assert shown == {"id": "team.job", "description": "d", "labels": {"team": "data"}, "run": {
        "cpus": 0.5, "mem": 64, "disk": 10, "cmd": "echo hi", "user": "nobody", "env": {"A": "1"},
        "placement": {"constraints": [{"attribute": "rack", "operator": "EQ", "value": "a"}]},
        "artifacts": [], "maxLaunchDelay": 60, "restart": {"policy": "ON_FAILURE"}}}
    assert m.stored_schedule(job) == parsed.schedules[0].model_copy(update={"nextRunAt": None})
    assert m.spec_of(job).schedules == [m.stored_schedule(job)]


def test_args_run_as_an_argv_and_a_disabled_schedule_leaves_the_job_unscheduled() -> None:
    parsed = m.parse_model(m.JobSpec, {"id": "j", "run": {"args": ["echo", "a b", "$HOME"], "cpus": 1, "mem": 32},
                                       "schedules": [{"id": "s", "cron": "* * * * *", "enabled": False}]})
    job = m.to_native(parsed, parsed.schedules[0])
    assert job.scriptCommandLine == "echo 'a b' '$HOME'" and job.cron is None
    assert m.job_json(job, None)["run"]["args"] == ["echo", "a b", "$HOME"]
    assert m.stored_schedule(job) is not None and not m.stored_schedule(job).enabled  # type: ignore[union-attr]


def test_a_native_job_is_shown_in_metronomes_shape() -> None:
    job = Job(jobName="n", appURL="http://h/app.tgz", cron="0 0 3 * * ?", shardingTotalCount=3, cpuCount=1,
              memoryMB=128, scriptCommandLine="bin/run", constraints={"zone": "b"})
    shown = m.job_json(job, None)
    assert shown["run"]["artifacts"] == [{"uri": "http://h/app.tgz", "extract": True, "executable": False,
                                          "cache": False}]
    assert shown["run"]["shards"] == 3 and shown["run"]["cmd"] == "bin/run" and shown["labels"] == {}
    assert shown["run"]["placement"]["constraints"] == [{"attribute": "zone", "operator": "EQ", "value": "b"}]
    schedule = m.stored_schedule(job)
    assert schedule is not None and (schedule.id, schedule.cron, schedule.concurrencyPolicy) == (
        "default", "0 0 3 * * ?", "FORBID")


@pytest.mark.parametrize(("value", "path"), [
    ({"id": "Upper", "run": {"cmd": "x", "cpus": 1, "mem": 32}}, "/id"),
    ({"id": "a..b", "run": {"cmd": "x", "cpus": 1, "mem": 32}}, "/id"),
    (spec(mem=31), "/run/mem"),
    (spec(cpus=0), "/run/cpus"),
    (spec(args=["x"]), "/run/cmd"),
    ({"id": "j", "run": {"cpus": 1, "mem": 32}}, "/run/cmd"),
    (spec(docker={"image": "busybox"}), "/run/docker"),
    (spec(volumes=[]), "/run/volumes"),
    (spec(gpus=1), "/run/gpus"),
    (spec(env={"S": {"secret": "db"}}), "/run/env/S"),
    (spec(placement={"constraints": [{"attribute": "h", "operator": "LIKE", "value": "a("}]}),
     "/run/placement/constraints/0/value"),
    (spec(placement={"constraints": [{"attribute": "r", "operator": "EQ", "value": "a"},
                                     {"attribute": "h", "operator": "UNLIKE", "value": "[z"}]}),
     "/run/placement/constraints/1/value"),
    (spec(placement={"constraints": [{"attribute": "h", "operator": "LIKE"}]}),
     "/run/placement/constraints/0/value"),
    (spec(placement={"constraints": [{"attribute": "h", "operator": "GROUP_BY"}]}),
     "/run/placement/constraints/0/operator"),
    (spec(artifacts=[{"uri": "http://h/"}]), "/run/artifacts/0/uri"),
    (spec(artifacts=[{"uri": "http://h/a.sh"}, {"uri": "http://h/b/.."}]), "/run/artifacts/1/uri"),
    (spec(artifacts=[{"uri": "http://h/a.sh", "extract": "yes"}]), "/run/artifacts/0/extract"),
    (spec(artifacts=[{"uri": f"http://h/{i}.sh"} for i in range(65)]), "/run/artifacts"),
    (spec(artifacts=[{"uri": "ftp://h/a.tgz"}]), "/run/artifacts/0/uri"),
    (spec(restart={"policy": "ALWAYS"}), "/run/restart/policy"),
    (spec(surprise=1), "/run/surprise"),
    ({**spec(), "schedules": [{"id": "a", "cron": "* * * * *"}, {"id": "b", "cron": "* * * * *"}]}, "/schedules"),
    ({**spec(), "schedules": [{"id": "a", "cron": "* * * * *", "concurrencyPolicy": "SOMETIMES"}]},
     "/schedules/0/concurrencyPolicy"),
])
def test_invalid_specs_are_refused_at_the_field_they_name(value: dict[str, Any], path: str) -> None:
    assert path in paths(value)


def test_a_body_that_is_no_object_is_refused() -> None:
    assert paths([1, 2]) == ["/"]


def test_a_run_is_shown_as_metronomes_job_run() -> None:
    t0 = dt.datetime(2026, 12, 3, 10, 0, 0, 123_000, tzinfo=dt.UTC)
    run = Run("20261203100000abcde", "j", "f", RunCause.MANUAL, RunStatus.FAILED, t0,
              started_at=t0, finished_at=t0 + dt.timedelta(seconds=5), tasks=(
                  RunTask("t0", 0, "KILLED", started_at=t0, finished_at=t0 + dt.timedelta(seconds=5)),
                  RunTask("t1", 1, "LOST", started_at=t0),
                  RunTask("missed", None, "MISSED")))
    assert m.run_json("j", run) == {
        "id": "20261203100000abcde", "jobId": "j", "status": "FAILED", "createdAt": "2026-12-03T10:00:00.123+0000",
        "completedAt": "2026-12-03T10:00:05.123+0000",
        "tasks": [{"id": "t0", "status": "TASK_KILLED", "startedAt": "2026-12-03T10:00:00.123+0000",
                   "completedAt": "2026-12-03T10:00:05.123+0000"},
                  {"id": "t1", "status": "TASK_FAILED", "startedAt": "2026-12-03T10:00:00.123+0000"}]}


def test_the_kill_grace_period_is_the_native_jobs() -> None:
    job = m.to_native(m.parse_model(m.JobSpec, spec(taskKillGracePeriodSeconds=7)), None)
    assert job.taskKillGracePeriodSeconds == 7 and job.cron is None
    assert m.job_json(job, None)["run"]["taskKillGracePeriodSeconds"] == 7
    assert "/run/taskKillGracePeriodSeconds" in paths(spec(taskKillGracePeriodSeconds=-1))


def test_several_artifacts_the_first_archive_to_extract_is_the_app() -> None:
    artifacts = [
        {"uri": "http://h/run.sh", "executable": True},
        {"uri": "http://h/app.tar.gz", "extract": True},
        {"uri": "http://h/data.tgz", "cache": True},
        {"uri": "file:///srv/conf.json", "extract": False},
    ]
    job = m.to_native(m.parse_model(m.JobSpec, spec(artifacts=artifacts)), None)
    assert job.appURL == "http://h/app.tar.gz"
    assert [a.model_dump() for a in job.artifacts or ()] == [
        {"uri": "http://h/run.sh", "extract": True, "executable": True, "cache": False},
        {"uri": "http://h/data.tgz", "extract": True, "executable": False, "cache": True},
        {"uri": "file:///srv/conf.json", "extract": False, "executable": False, "cache": False},
    ]
    assert m.job_json(job, None)["run"]["artifacts"] == [  # as given, defaults filled in
        {"uri": "http://h/run.sh", "extract": True, "executable": True, "cache": False},
        {"uri": "http://h/app.tar.gz", "extract": True, "executable": False, "cache": False},
        {"uri": "http://h/data.tgz", "extract": True, "executable": False, "cache": True},
        {"uri": "file:///srv/conf.json", "extract": False, "executable": False, "cache": False},
    ]


def test_one_archive_keeps_the_native_shape_it_always_had() -> None:
    job = m.to_native(m.parse_model(m.JobSpec, spec(artifacts=[{"uri": "http://h/app.tgz"}])), None)
    assert job.appURL == "http://h/app.tgz" and job.artifacts is None and job.patternConstraints is None
    native = job.as_json()
    assert "artifacts" not in native and "patternConstraints" not in native


def test_an_artifact_whose_name_is_no_archive_is_fetched_as_an_artifact() -> None:
    job = m.to_native(m.parse_model(m.JobSpec, spec(artifacts=[{"uri": "http://h/script.sh"}])), None)
    assert job.appURL == "" and [a.uri for a in job.artifacts or ()] == ["http://h/script.sh"]


def test_like_and_unlike_become_pattern_constraints() -> None:
    constraints = [{"attribute": "rack", "operator": "IS", "value": "a"},
                   {"attribute": "host", "operator": "LIKE", "value": "web-[0-9]+"},
                   {"attribute": "zone", "operator": "UNLIKE", "value": "eu-.*"}]
    job = m.to_native(m.parse_model(m.JobSpec, spec(placement={"constraints": constraints})), None)
    assert job.constraints == {"rack": "a"}
    assert [(p.attribute, p.operator.value, p.value) for p in job.patternConstraints or ()] == [
        ("host", "LIKE", "web-[0-9]+"), ("zone", "UNLIKE", "eu-.*")]
    assert m.job_json(job, None)["run"]["placement"] == {"constraints": constraints}  # as given


def test_a_native_jobs_patterns_and_artifacts_are_shown_on_v1() -> None:
    job = Job.model_validate_json(
        '{"jobName": "n", "appURL": "http://h/app.tgz", "cron": "0 0 3 * * ?", "shardingTotalCount": 1,'
        ' "cpuCount": 1, "memoryMB": 64, "scriptCommandLine": "x", "constraints": {"zone": "b"},'
        ' "patternConstraints": [{"attribute": "rack", "operator": "LIKE", "value": "a|b"}],'
        ' "artifacts": [{"uri": "http://h/tool", "executable": true}]}')
    shown = m.job_json(job, None)["run"]
    assert shown["placement"]["constraints"] == [{"attribute": "zone", "operator": "EQ", "value": "b"},
                                                 {"attribute": "rack", "operator": "LIKE", "value": "a|b"}]
    assert shown["artifacts"][1] == {"uri": "http://h/tool", "extract": True, "executable": True, "cache": False}


@pytest.mark.parametrize(("field", "value", "path"), [
    ("patternConstraints", [{"attribute": "rack", "operator": "LIKE", "value": "a("}], "patternConstraints.0.value"),
    ("patternConstraints", [{"attribute": "rack", "operator": "EQ", "value": "a"}], "patternConstraints.0.operator"),
    ("patternConstraints", [{"attribute": "a=b", "operator": "LIKE", "value": "a"}],
     "patternConstraints.0.attribute"),
    ("artifacts", [{"uri": "ftp://h/x"}], "artifacts.0.uri"),
    ("artifacts", [{"uri": "http://h/x"}, {"uri": "http://h/"}], "artifacts.1.uri"),
    ("artifacts", [{"uri": "http://h/x", "mode": 7}], "artifacts.0.mode"),
    ("artifacts", [{"uri": f"http://h/{i}"} for i in range(65)], "artifacts"),
])
def test_the_native_fields_are_validated_at_their_path(field: str, value: Any, path: str) -> None:
    body = {"jobName": "n", "appURL": "", "cron": "0 0 3 * * ?", "shardingTotalCount": 1, "cpuCount": 1,
            "memoryMB": 64, "scriptCommandLine": "x", field: value}
    with pytest.raises(ValidationFailed) as caught:
        parse_json_model(Job, json.dumps(body))
    assert path in [d.path for d in caught.value.details]


@pytest.mark.parametrize("raw", [b"", b"  \n", b"null", b"{}", b'{"env": {}}'])
def test_a_run_request_without_env_is_metronomes_own(raw: bytes) -> None:
    assert m.parse_run_request(raw).env == {}


def test_a_run_request_carries_env_for_that_run() -> None:
    assert m.parse_run_request(b'{"env": {"RUN_ONLY": "1", "_X": ""}}').env == {"RUN_ONLY": "1", "_X": ""}


@pytest.mark.parametrize(("raw", "path"), [
    (b'{"env": {"1BAD": "x"}}', "/env/1BAD"),
    (b'{"env": {"ELASTICJOB_JOB_NAME": "x"}}', "/env/ELASTICJOB_JOB_NAME"),
    (b'{"env": {"A": 1}}', "/env/A"),
    (b'{"env": {"A": {"secret": "s"}}}', "/env/A"),
    (b'{"env": []}', "/env"),
    (b'{"surprise": 1}', "/surprise"),
    (b"[1]", "/"),
    (b"{nope", "/"),
])
def test_an_invalid_run_request_is_refused_at_its_path(raw: bytes, path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        m.parse_run_request(raw)
    assert caught.value.message == "Object is not valid"
    assert path in [d.path for d in caught.value.details]
