"""A ``/v1`` PUT on a job registered through another API (``metronome.update_native``, pure): only the fields
``/v1`` shows that the PUT changes, the job kept in its own dialect; what it cannot hold is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from elasticjob.model import App, Job, ValidationFailed
from elasticjob.model import metronome as m
from elasticjob.model.secrets import SECRET_MASK, keep_secrets

APP = App(appName="billing", appURL="http://h/billing.tgz", bootstrapScript="bin/start.sh")


def native(**extra: Any) -> Job:
    """A native job of the app ``billing`` using everything ``/v1`` cannot express."""
    return Job.model_validate({
        "jobName": "team.report", "appName": "billing", "cron": "0 0/5 * * * ?", "cronDialect": "QUARTZ",
        "timeZone": "Europe/Berlin", "jobExecutionType": "DAEMON", "shardingTotalCount": 2,
        "shardingItemParameters": "0=a,1=b", "jobParameter": "p", "resourceSize": "S", "failover": True,
        "misfire": False, "scheduleActive": False, "maxPendingFirings": 3, "shardRetryLimit": 2,
        "shardRetryBackoffSeconds": 1.5, "shardRetryDeadlineSeconds": 600, "startingDeadlineSeconds": 120,
        "description": "the report", "dockerImageName": "img:1", "jobProperties": {"k": "v"},
        "environment": {"A": "1", "TOKEN": "s3cret"}, "secretEnvironment": ["TOKEN"],
        "constraints": {"rack": "a"},
        "patternConstraints": [{"attribute": "host", "operator": "LIKE", "value": "web-.*"}],
        "artifacts": [{"uri": "http://h/tool", "executable": True}],
        "webhooks": [{"url": "https://hooks.example/x", "events": ["end"], "secret": "0123456789abcdef"}],
        **extra,
    }, strict=False)


def shown(job: Job, app: App | None = APP) -> dict[str, Any]:
    """What a client GETs from ``/v1/jobs/{id}`` (through JSON, as it reads it)."""
    value: dict[str, Any] = json.loads(json.dumps(m.job_json(job, app)))
    return value


def put(job: Job, value: dict[str, Any], app: App | None = APP) -> Job:
    return m.update_native(job, m.parse_model(m.JobSpec, value), app)


def changed(before: Job, after: Job) -> set[str]:
    return {name for name in Job.model_fields if getattr(before, name) != getattr(after, name)}


STORED = [
    native(),
    native(appName=None, appURL="http://h/own.tgz", scriptCommandLine="bin/run", jobExecutionType="TRANSIENT",
           concurrencyPolicy="REPLACE", cron="0 0 3 * * ?", resourceSize=None, cpuCount=0.25, memoryMB=64),
    Job(jobName="bare", appURL="", scriptCommandLine="echo 'a b'", shardingTotalCount=1, cpuCount=1,
        memoryMB=128),
    native(dialect="regions", dialectSpec={"region": "eu", "document": {"completions": 2}}),
]


@pytest.mark.parametrize("stored", STORED, ids=["app", "single-step", "bare", "other-dialect"])
def test_putting_back_what_v1_shows_changes_nothing(stored: Job) -> None:
    assert put(stored, shown(stored)) == stored


def test_the_shown_restart_carries_the_retry_deadline() -> None:
    assert shown(native())["run"]["restart"] == {"policy": "ON_FAILURE", "activeDeadlineSeconds": 600}
    assert shown(native(shardRetryLimit=0, shardRetryDeadlineSeconds=None))["run"]["restart"] == {
        "policy": "NEVER"}


def test_the_schedule_is_no_part_of_a_put() -> None:
    stored = native()
    value = {**shown(stored), "schedules": [{"id": "default", "cron": "0 3 * * *"}]}
    assert put(stored, value) == stored


def test_new_resources_change_them_and_drop_a_size_that_no_longer_says_them() -> None:
    stored = native()
    value = shown(stored)
    value["run"]["cpus"] = 1.5
    updated = put(stored, value)
    assert (updated.cpuCount, updated.memoryMB, updated.resourceSize) == (1.5, 256, None)
    assert changed(stored, updated) == {"cpuCount", "resourceSize"}
    value["run"].update(cpus=1, mem=512)  # exactly size M: the numbers it has now, not the name
    assert changed(stored, put(stored, value)) == {"cpuCount", "memoryMB", "resourceSize"}


def test_a_new_command_is_the_jobs_own_and_the_app_stays() -> None:
    stored = native()
    assert shown(stored)["run"]["cmd"] == "bin/start.sh"  # the app's
    value = shown(stored)
    value["run"]["cmd"] = "bin/other.sh --fast"
    updated = put(stored, value)
    assert updated.scriptCommandLine == "bin/other.sh --fast" and updated.appName == "billing"
    assert changed(stored, updated) == {"scriptCommandLine"}
    del value["run"]["cmd"]
    value["run"]["args"] = ["echo", "a b"]
    assert put(stored, value).scriptCommandLine == "echo 'a b'"


def test_a_new_environment_keeps_the_secret_marks_of_the_keys_it_still_has() -> None:
    stored = native()
    value = shown(stored)
    assert value["run"]["env"] == {"A": "1", "TOKEN": SECRET_MASK}
    value["run"]["env"] = {"A": "2", "TOKEN": SECRET_MASK, "B": "3"}
    updated = put(stored, value)
    assert changed(stored, updated) == {"environment"} and updated.secretEnvironment == ["TOKEN"]
    # The service then keeps the stored secret for the mask sent back.
    assert keep_secrets(updated, stored).environment == {"A": "2", "TOKEN": "s3cret", "B": "3"}
    value["run"]["env"] = {"A": "1"}
    updated = put(stored, value)
    assert updated.environment == {"A": "1"} and updated.secretEnvironment is None


def test_new_shards_and_placement_change_those_fields() -> None:
    stored = native()
    value = shown(stored)
    value["run"]["shards"] = 3
    value["run"]["placement"] = {"constraints": [{"attribute": "rack", "operator": "IS", "value": "b"},
                                                 {"attribute": "host", "operator": "UNLIKE", "value": "db-.*"}]}
    updated = put(stored, value)
    assert changed(stored, updated) == {"shardingTotalCount", "constraints", "patternConstraints"}
    assert updated.shardingTotalCount == 3 and updated.constraints == {"rack": "b"}
    assert [(p.attribute, p.operator.value, p.value) for p in updated.patternConstraints or ()] == [
        ("host", "UNLIKE", "db-.*")]
    value["run"]["placement"] = {"constraints": []}
    updated = put(stored, value)
    assert updated.constraints == {} and updated.patternConstraints is None


def test_fewer_shards_than_the_item_parameters_name_are_refused_at_run_shards() -> None:
    value = shown(native())
    del value["run"]["shards"]
    with pytest.raises(ValidationFailed) as caught:
        put(native(), value)
    assert [d.path for d in caught.value.details] == ["/run/shards"]


def test_new_artifacts_keep_the_app_and_a_new_archive_is_the_jobs_app_url() -> None:
    stored = native()
    value = shown(stored)
    assert [a["uri"] for a in value["run"]["artifacts"]] == ["http://h/billing.tgz", "http://h/tool"]
    value["run"]["artifacts"].append({"uri": "http://h/conf.json", "extract": False})
    updated = put(stored, value)
    assert changed(stored, updated) == {"artifacts"}
    assert updated.appURL is None and updated.appName == "billing"  # still the app's own archive
    assert [a.uri for a in updated.artifacts or ()] == ["http://h/tool", "http://h/conf.json"]
    value["run"]["artifacts"][0] = {"uri": "http://h/billing-2.tgz"}
    updated = put(stored, value)
    assert (updated.appURL, updated.appName) == ("http://h/billing-2.tgz", "billing")
    single = STORED[1]
    value = shown(single)
    value["run"]["artifacts"] = [{"uri": "http://h/script.sh"}]
    updated = put(single, value)
    assert updated.appURL == "" and [a.uri for a in updated.artifacts or ()] == ["http://h/script.sh"]


def test_restart_grace_launch_delay_and_description_change_their_fields() -> None:
    stored = native()
    value = shown(stored)
    value["run"]["restart"] = {"policy": "ON_FAILURE", "activeDeadlineSeconds": 30}
    updated = put(stored, value)
    assert changed(stored, updated) == {"shardRetryDeadlineSeconds"} and updated.shardRetryLimit == 2
    value["run"]["restart"] = {"policy": "NEVER"}
    updated = put(stored, value)
    assert (updated.shardRetryLimit, updated.shardRetryDeadlineSeconds) == (0, None)
    never = native(shardRetryLimit=0)
    value = shown(never)
    value["run"]["restart"]["policy"] = "ON_FAILURE"
    assert put(never, value).shardRetryLimit == m.ON_FAILURE_RETRIES
    value = shown(stored)
    value["run"].update(taskKillGracePeriodSeconds=5, maxLaunchDelay=60)
    value["description"] = "new"
    updated = put(stored, value)
    assert changed(stored, updated) == {"taskKillGracePeriodSeconds", "startingDeadlineSeconds", "description"}
    assert (updated.taskKillGracePeriodSeconds, updated.startingDeadlineSeconds) == (5, 60)


def test_the_job_stays_in_its_own_dialect() -> None:
    stored = STORED[3]
    value = shown(stored)
    value["run"]["cpus"] = 2
    updated = put(stored, value)
    assert (updated.dialect, updated.dialectSpec) == ("regions", stored.dialectSpec)


@pytest.mark.parametrize(("field", "value", "paths"), [
    ("labels", {"team": "data"}, ["/labels"]),
    ("user", "nobody", ["/run/user"]),
    ("disk", 10, ["/run/disk"]),
])
def test_fields_a_native_job_cannot_hold_are_refused(field: str, value: Any, paths: list[str]) -> None:
    body = shown(native())
    if field == "labels":
        body["labels"] = value
    else:
        body["run"][field] = value
    body["run"]["cpus"] = 2  # a change beside it: refused with it
    with pytest.raises(ValidationFailed) as caught:
        put(native(), body)
    assert caught.value.message == "Object is not valid"
    assert [d.path for d in caught.value.details] == paths
    assert "registered through the native API has no such field" in caught.value.details[0].errors[0]


def test_every_field_it_cannot_hold_is_named() -> None:
    body = shown(native())
    body["labels"] = {"a": "b"}
    body["run"].update(user="nobody", disk=1)
    with pytest.raises(ValidationFailed) as caught:
        put(native(), body)
    assert [d.path for d in caught.value.details] == ["/labels", "/run/user", "/run/disk"]
