"""Issue 11's core pieces, pure: namespaces, the schedule dialect rule, the schedule switch, named
resource sizes and job metadata."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from elasticjob import cron
from elasticjob.api.service import in_namespace
from elasticjob.model import CronDialect, Job, ValidationFailed, parse_json_model
from elasticjob.model.job import infer_cron_dialect
from elasticjob.model.jobmeta import JobMeta
from elasticjob.model.names import DEFAULT_NAMESPACE, namespace_of
from elasticjob.model.sizes import SIZES, ResourceSize, resources_of

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def job(**fields: Any) -> Job:
    body = {"jobName": "team.job", "appName": "app", "cron": "0 * * * * ?", "shardingTotalCount": 1,
            "cpuCount": 0.5, "memoryMB": 64, **fields}
    return parse_json_model(Job, json.dumps({k: v for k, v in body.items() if v is not None}))


def refusal(**fields: Any) -> dict[str, tuple[str, ...]]:
    with pytest.raises(ValidationFailed) as refused:
        job(**fields)
    return {d.path: d.errors for d in refused.value.details}


# ---- namespaces -----------------------------------------------------------------------------------


def test_a_namespace_is_the_dotted_name_without_its_last_part() -> None:
    assert namespace_of("chennanfei.test") == "chennanfei"
    assert namespace_of("a.b.c") == "a.b"
    assert namespace_of("plain") == DEFAULT_NAMESPACE == "default"


def test_a_namespace_holds_the_jobs_directly_in_it_not_nested_ones() -> None:
    names = sorted(["a", "a.x", "a.y", "a.b.z", "ab.q", "b", "default.d", "z"])
    assert in_namespace(names, "a") == ["a.x", "a.y"]
    assert in_namespace(names, "a.b") == ["a.b.z"]
    assert in_namespace(names, "default") == ["a", "b", "default.d", "z"]
    assert in_namespace(names, "nothing") == []


# ---- which dialect a schedule is in -----------------------------------------------------------------


@pytest.mark.parametrize(("expression", "dialect"), [
    ("R5/2026-01-01T00:00:00Z/PT1H", CronDialect.ISO8601),
    ("R/2026-01-01T00:00:00Z/P1D", CronDialect.ISO8601),
    ("r1/2015-12-31T16:00:23.446Z/PT1H", CronDialect.ISO8601),
    ("*/5 * * * *", CronDialect.UNIX),
    ("0 9 * * MON-FRI", CronDialect.UNIX),
    ("0/5 * * * * ?", CronDialect.QUARTZ),
    ("0 15 10 ? * 6L 2030", CronDialect.QUARTZ),
    ("not a schedule", CronDialect.QUARTZ),  # refused as Quartz, as before
])
def test_the_dialect_rule_without_crondialect(expression: str, dialect: CronDialect) -> None:
    assert infer_cron_dialect(expression) is dialect


def test_the_rule_never_changes_what_a_valid_quartz_expression_means() -> None:
    for expression in ["0/5 * * * * ?", "0 0 12 * * ?", "0 15 10 ? * MON-FRI", "0 0 0 L * ? 2030"]:
        cron.parse(expression, cron.Dialect.QUARTZ)  # valid Quartz ...
        assert job(cron=expression).cron_dialect is CronDialect.QUARTZ  # ... still read as Quartz
    for expression in ["*/5 * * * *", "R5/2026-01-01T00:00:00Z/PT1H"]:  # ... what the rule reads otherwise
        with pytest.raises(cron.CronError):
            cron.parse(expression, cron.Dialect.QUARTZ)  # was never valid Quartz


def test_crondialect_names_any_dialect_and_wins_over_the_rule() -> None:
    assert job(cron="*/5 * * * *", cronDialect="METRONOME").cron_dialect is CronDialect.METRONOME
    assert job(cron="R/2026-01-01T00:00:00Z/PT1H", cronDialect="ISO8601").cron_dialect is CronDialect.ISO8601
    assert job(cron="0 9 * * 1", cronDialect="UNIX").cron_dialect is CronDialect.UNIX
    assert job(cron="0 9 * * 1").as_json().get("cronDialect") is None  # the rule is not written into the job


def test_a_daemon_job_keeps_quartz_only() -> None:
    assert "cron" in refusal(jobExecutionType="DAEMON", cron="*/5 * * * *")
    assert "cron" in refusal(jobExecutionType="DAEMON", cron="R/2026-01-01T00:00:00Z/PT1H")
    assert "cronDialect" in refusal(jobExecutionType="DAEMON", cron="0 * * * *", cronDialect="UNIX")
    assert job(jobExecutionType="DAEMON").cron_dialect is CronDialect.QUARTZ


def test_a_bounded_iso_schedule_fires_its_repetitions_then_never() -> None:
    schedule = cron.parse_cached("R3/2026-01-01T00:00:00Z/PT1S", job(cron="R3/2026-01-01T00:00:00Z/PT1S")
                                 .cron_dialect, "UTC")
    fired = cron.fire_times(schedule, NOW - dt.timedelta(seconds=1), 10)
    assert fired == [NOW, NOW + dt.timedelta(seconds=1), NOW + dt.timedelta(seconds=2)]
    assert schedule.next_fire(fired[-1]) is None
    once = cron.parse("R1/2026-01-01T00:00:00Z/PT1H", cron.Dialect.ISO8601)
    assert cron.fire_times(once, NOW - dt.timedelta(days=1), 5) == [NOW]
    unbounded = cron.parse("R/2026-01-01T00:00:00Z/PT1H", cron.Dialect.ISO8601)
    assert len(cron.fire_times(unbounded, NOW, 1000)) == 1000


# ---- the schedule switch ------------------------------------------------------------------------------


def test_schedule_active_is_absent_unless_switched_off() -> None:
    assert "scheduleActive" not in job().as_json() and job().schedule_active
    assert "scheduleActive" not in job(scheduleActive=True).as_json() and job(scheduleActive=True).schedule_active
    off = job(scheduleActive=False)
    assert off.as_json()["scheduleActive"] is False and not off.schedule_active
    assert Job.model_validate(off.as_json(), strict=False) == off
    assert "scheduleActive" in refusal(scheduleActive="no")


# ---- named resource sizes -----------------------------------------------------------------------------


def test_the_size_table() -> None:
    assert {size.value: tuple(res) for size, res in SIZES.items()} == {
        "XXS": (0.125, 64.0), "XS": (0.25, 128.0), "S": (0.5, 256.0), "M": (1.0, 512.0), "L": (2.0, 1024.0)}
    assert resources_of("M") == resources_of(ResourceSize.M)
    with pytest.raises(ValueError):
        resources_of("XL")


def test_a_size_stands_for_cpu_and_memory_and_the_job_keeps_both() -> None:
    sized = job(cpuCount=None, memoryMB=None, resourceSize="XS")
    assert (sized.cpuCount, sized.memoryMB, sized.resourceSize) == (0.25, 128.0, ResourceSize.XS)
    assert {k: sized.as_json()[k] for k in ("cpuCount", "memoryMB", "resourceSize")} == {
        "cpuCount": 0.25, "memoryMB": 128.0, "resourceSize": "XS"}
    assert Job.model_validate(sized.as_json(), strict=False) == sized  # read back from ZooKeeper
    assert job(cpuCount=0.25, memoryMB=None, resourceSize="XS").memoryMB == 128.0  # numbers that agree
    assert "resourceSize" not in job().as_json()


def test_a_size_and_numbers_that_disagree_are_refused_naming_the_field() -> None:
    assert refusal(cpuCount=1, memoryMB=None, resourceSize="XS") == {
        "cpuCount": ("is 1, but resourceSize XS means 0.25; give either, or both agreeing",)}
    assert list(refusal(cpuCount=None, memoryMB=100, resourceSize="XXS")) == ["memoryMB"]
    assert "resourceSize" in refusal(cpuCount=None, memoryMB=None, resourceSize="XL")


# ---- job metadata ---------------------------------------------------------------------------------------


def test_job_metadata_round_trips_and_leaves_out_what_is_unknown() -> None:
    created = JobMeta.created("alice", NOW)
    assert created.to_json() == {"createdBy": "alice", "createdAt": "2026-01-01T00:00:00.000000+00:00",
                                 "updatedAt": "2026-01-01T00:00:00.000000+00:00"}
    later = created.updated(NOW + dt.timedelta(minutes=5))
    assert later.created_at == NOW and later.updated_at == NOW + dt.timedelta(minutes=5)
    assert JobMeta.from_json(later.to_json()) == later
    assert JobMeta.created(None, NOW).to_json().keys() == {"createdAt", "updatedAt"}  # no authentication
    assert JobMeta().updated(NOW).to_json() == {"updatedAt": "2026-01-01T00:00:00.000000+00:00"}
    with pytest.raises(ValueError):
        JobMeta.from_json({"createdBy": 5})
