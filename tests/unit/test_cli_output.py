"""The CLI's pure helpers: tables, --env parsing, time and task summaries, log tails, job status."""

from __future__ import annotations

import argparse

import pytest

from elasticjob.cli.joblog import header
from elasticjob.cli.jobs import job_status, last_run, progress_line
from elasticjob.cli.output import env_of, env_pair, short_time, table, task_summary
from elasticjob.client import ApiError, Run, RunTask, last_lines


def test_table_aligns_columns_two_spaces_apart_without_trailing_blanks() -> None:
    assert table([["a", "long value", None], ["bbbb", 2, "x"]], ["ID", "V", "LAST"]).splitlines() == [
        "ID    V           LAST",
        "a     long value",
        "bbbb  2           x",
    ]


def test_table_of_no_rows_is_its_header() -> None:
    assert table([], ["ID", "STATUS"]) == "ID  STATUS"


@pytest.mark.parametrize(
    ("text", "pair"), [("K=V", ("K", "V")), ("K=", ("K", "")), ("K=a=b", ("K", "a=b")), ("K= x ", ("K", " x "))]
)
def test_env_pair_splits_at_the_first_equals_sign(text: str, pair: tuple[str, str]) -> None:
    assert env_pair(text) == pair


@pytest.mark.parametrize("text", ["K", "=V", "", " K=V"])
def test_env_pair_refuses_what_is_not_name_equals_value(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not NAME=VALUE"):
        env_pair(text)


def test_env_of_keeps_the_last_value_of_a_name() -> None:
    assert env_of([("A", "1"), ("B", "2"), ("A", "3")]) == {"A": "3", "B": "2"}
    assert env_of(None) == {}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-03T16:05:02.123+0000", "2026-12-03 16:05:02"),
        ("2026-12-03T16:05:02.123+00:00", "2026-12-03 16:05:02"),
        (None, ""),
        ("", ""),
        ("soon", "soon"),
    ],
)
def test_short_time(value: str | None, shown: str) -> None:
    assert short_time(value) == shown


def test_task_summary_counts_states_in_the_order_first_seen() -> None:
    assert task_summary(["RUNNING", "FINISHED", "RUNNING"]) == "2 RUNNING, 1 FINISHED"
    assert task_summary([]) == ""


@pytest.mark.parametrize(
    ("text", "count", "whole", "kept"),
    [
        ("a\nb\nc\n", 2, True, "b\nc\n"),
        ("a\nb\nc", 1, True, "c"),
        ("a\nb\n", 5, True, "a\nb\n"),
        ("cut\nb\nc\n", 5, False, "b\nc\n"),  # the first line of a tail read is partial
        ("a\n", 0, True, ""),
        ("", 3, True, ""),
    ],
)
def test_last_lines(text: str, count: int, whole: bool, kept: str) -> None:
    assert last_lines(text, count, whole) == kept


def test_job_status_as_dcos_shows_it() -> None:
    assert job_status({"activeRuns": [{"id": "r"}], "schedules": []}) == "Running"
    assert job_status({"activeRuns": [], "schedules": [{"enabled": True}]}) == "Scheduled"
    assert job_status({"activeRuns": [], "schedules": [{"enabled": False}]}) == "Unscheduled"
    assert job_status({}) == "Unscheduled"


def test_last_run_is_the_newer_of_last_success_and_last_failure() -> None:
    assert last_run({"lastSuccessAt": None, "lastFailureAt": None}) == "N/A"
    assert last_run(None) == "N/A"
    assert last_run({"lastSuccessAt": "2026-01-02T00:00:00.000+0000", "lastFailureAt": None}) == "Success"
    assert last_run({"lastSuccessAt": "2026-01-02T00:00:00.000+0000",
                     "lastFailureAt": "2026-01-03T00:00:00.000+0000"}) == "Failed"


def test_progress_line_and_log_header() -> None:
    tasks = (RunTask("t0", 0, "RUNNING"), RunTask("t1", 1, "FINISHED"))
    assert progress_line(Run("r1", "j", "f", "MANUAL", "ACTIVE", tasks=tasks)) == "r1 ACTIVE (1 RUNNING, 1 FINISHED)"
    assert progress_line(Run("r1", "j", "f", "MANUAL", "FAILED", reason="stopped")) == "r1 FAILED: stopped"
    assert header(tasks[1]) == "==> t1 (shard 1) <=="


def test_run_from_json_keeps_the_raw_answer_and_is_frozen() -> None:
    raw = {"runId": "r", "jobName": "j", "firingId": "f", "cause": "MANUAL", "status": "SUCCESS",
           "createdAt": "2026-12-03T16:05:02.123+00:00", "environment": {"A": "1"}, "new": 1,
           "tasks": [{"taskId": "t", "shardingItem": 0, "state": "FINISHED", "exitCode": 0}]}
    run = Run.from_json(raw)
    assert run.finished and run.raw["new"] == 1 and run.environment == {"A": "1"}
    assert run.created_at is not None and run.created_at.year == 2026
    assert run.tasks[0].exit_code == 0 and not run.tasks[0].going
    with pytest.raises(AttributeError):
        run.status = "FAILED"  # type: ignore[misc]


def test_api_error_names_the_resource_and_lists_field_errors() -> None:
    error = ApiError(404, "Job not found", resource_id="myjob")
    assert str(error) == "Job not found: myjob (HTTP 404)"
    assert str(ApiError(409, "job 'x' exists", resource_id="x")) == "job 'x' exists (HTTP 409)"
    invalid = ApiError(422, "Object is not valid", [{"path": "/run/mem", "errors": ["too small", "odd"]},
                                                    {"errors": ["bad body"]}])
    assert invalid.field_errors() == [("/run/mem", "too small; odd"), ("(body)", "bad body")]
