"""Pure validation of App and Job (no I/O): the checks the API relies on for 422s with field paths."""

from __future__ import annotations

import json
from typing import Any

import pytest

from elasticjob.model import (
    App,
    Job,
    JobType,
    ValidationFailed,
    parse_json_model,
    parse_sharding_item_parameters,
)

BASE_JOB: dict[str, Any] = {
    "jobName": "foo_job",
    "cron": "0/5 * * * * ?",
    "shardingTotalCount": 5,
    "cpuCount": 0.1,
    "memoryMB": 64.0,
    "appURL": "http://app_host:8080/foo-job.tar.gz",
}


def _job(**changes: Any) -> Job:
    return parse_json_model(Job, json.dumps({**BASE_JOB, **changes}))


def _paths(**changes: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        _job(**changes)
    return {d.path: list(d.errors) for d in caught.value.details}


def test_seed_job_is_valid_with_defaults() -> None:
    job = _job(dockerImageName="", failover=True, misfire=True)
    assert job.effective_app_name == "foo_job"
    assert job.jobType is JobType.SCRIPT
    assert job.timeZone == "UTC"
    assert job.as_json()["jobExecutionType"] == "TRANSIENT"
    assert "appName" not in job.as_json()  # nulls are omitted, like Gson


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"jobName": "a/b"}, "jobName"),
        ({"jobName": "x" * 129}, "jobName"),
        ({"jobName": ".."}, "jobName"),
        ({"jobName": ""}, "jobName"),
        ({"shardingTotalCount": 0}, "shardingTotalCount"),
        ({"shardingTotalCount": -3}, "shardingTotalCount"),
        ({"shardingTotalCount": "5"}, "shardingTotalCount"),
        ({"shardingTotalCount": 5.5}, "shardingTotalCount"),
        ({"shardingTotalCount": True}, "shardingTotalCount"),
        ({"cpuCount": 0}, "cpuCount"),
        ({"cpuCount": 0.0005}, "cpuCount"),
        ({"memoryMB": 0.5}, "memoryMB"),
        ({"failover": "yes"}, "failover"),
        ({"appURL": "ftp://host/x.tgz"}, "appURL"),
        ({"appURL": "http:///x.tgz"}, "appURL"),
        ({"jobExecutionType": "SOMETIMES"}, "jobExecutionType"),
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"environment": {"1BAD": "x"}}, "environment"),
        ({"environment": {"ELASTICJOB_JOB_NAME": "x"}}, "environment"),
        ({"bogus": 1}, "bogus"),
        ({"shardingItemParameters": "0=a,5=b"}, "shardingItemParameters"),
        ({"shardingItemParameters": "x=a"}, "shardingItemParameters"),
        ({"shardingItemParameters": "0=a,0=b"}, "shardingItemParameters"),
        ({"jobType": "SIMPLE"}, "jobClass"),
        ({"jobType": "SIMPLE", "jobClass": "no-colon"}, "jobClass"),
        ({"jobClass": "pkg.mod:Job"}, "jobClass"),
        ({"streamingProcess": True, "jobType": "SIMPLE", "jobClass": "m:f"}, "streamingProcess"),
        ({"appURL": None}, "appName"),
        ({"taskKillGracePeriodSeconds": -1}, "taskKillGracePeriodSeconds"),
        ({"taskKillGracePeriodSeconds": 3600.5}, "taskKillGracePeriodSeconds"),
        ({"taskKillGracePeriodSeconds": "10"}, "taskKillGracePeriodSeconds"),
    ],
)
def test_invalid_job_fields_are_reported_by_path(changes: dict[str, Any], path: str) -> None:
    assert path in _paths(**changes)


def test_task_kill_grace_period_is_optional_and_bounded_from_0_to_3600_seconds() -> None:
    assert _job().taskKillGracePeriodSeconds is None  # the agent's own --kill-grace
    assert "taskKillGracePeriodSeconds" not in _job().as_json()
    for seconds in (0, 1.5, 3600):
        assert _job(taskKillGracePeriodSeconds=seconds).as_json()["taskKillGracePeriodSeconds"] == seconds


def test_all_field_errors_are_reported_together() -> None:
    paths = _paths(jobName="a/b", shardingTotalCount=-1, cpuCount=0)
    assert set(paths) == {"jobName", "shardingTotalCount", "cpuCount"}


def test_sharding_item_parameters() -> None:
    assert parse_sharding_item_parameters("0=a, 1 = b ,2=c=d") == {0: "a", 1: "b", 2: "c=d"}
    assert parse_sharding_item_parameters("  ") == {}
    with pytest.raises(ValueError, match="not below shardingTotalCount 2"):
        parse_sharding_item_parameters("2=x", total=2)
    with pytest.raises(ValueError, match="negative"):
        parse_sharding_item_parameters("-1=x")
    assert _job(shardingItemParameters="0=Beijing,4=Shanghai").sharding_parameters == {
        0: "Beijing",
        4: "Shanghai",
    }


def test_two_step_and_python_jobs() -> None:
    job = parse_json_model(
        Job,
        json.dumps(
            {
                **{k: v for k, v in BASE_JOB.items() if k != "appURL"},
                "appName": "shared",
                "jobType": "DATAFLOW",
                "jobClass": "myapp.jobs:Orders",
                "streamingProcess": True,
            }
        ),
    )
    assert job.effective_app_name == "shared"
    assert job.jobType is JobType.DATAFLOW


def test_app_defaults_and_errors() -> None:
    app = parse_json_model(
        App, '{"appName":"a","appURL":"file:///tmp/a.tgz","bootstrapScript":"bin/start.sh"}'
    )
    assert (app.cpuCount, app.memoryMB, app.appCacheEnable, app.eventTraceSamplingCount) == (
        1.0,
        128.0,
        True,
        0,
    )
    with pytest.raises(ValidationFailed) as caught:
        parse_json_model(App, '{"appName":"a b","appURL":"x","eventTraceSamplingCount":-1}')
    assert {d.path for d in caught.value.details} == {
        "appName",
        "appURL",
        "bootstrapScript",
        "eventTraceSamplingCount",
    }
