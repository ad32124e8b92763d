"""parse_query (HTTP query parameters -> ExecutionQuery), native_row (Execution -> Elastic-Job-Cloud JSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from elasticjob.history import (
    MAX_PER_PAGE,
    Execution,
    ExecutionPage,
    ExecutionQuery,
    QueryError,
    native_page,
    native_row,
    parse_query,
    parse_trace_query,
)
from elasticjob.model import ValidationFailed

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def _execution(**changes: object) -> Execution:
    values: dict[str, object] = {
        "task_id": "daily@-@2@-@READY@-@agent-1@-@abc", "job_name": "daily", "sharding_item": 2,
        "firing_id": "fire-1", "state": "FINISHED", "agent_id": "agent-1", "hostname": "host-a",
        "exit_code": 0, "message": "", "started_at": T0, "finished_at": T0 + timedelta(seconds=90),
        "created_at": T0 - timedelta(seconds=1), "updated_at": T0 + timedelta(seconds=90),
    }
    values.update(changes)
    return Execution(**values)  # type: ignore[arg-type]


# -- parse_query --------------------------------------------------------------------------------------


def test_defaults() -> None:
    assert parse_query({}) == ExecutionQuery()
    query = parse_query({})
    assert (query.page, query.per_page, query.newest_first, query.states) == (1, 20, True, frozenset())


def test_every_parameter() -> None:
    query = parse_query({
        "page": "3", "per_page": "50", "jobName": "daily", "state": "finished, FAILED,", "startTime":
        "2026-03-01T00:00:00Z", "endTime": "2026-03-02T00:00:00+08:00", "shardingItem": "4",
        "taskId": "t-1", "firingId": "f-1", "order": "ASC", "sort": "startTime", "_": "123",
    })
    assert query == ExecutionQuery(
        job_name="daily", states=frozenset({"FINISHED", "FAILED"}),
        since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 3, 1, 16, tzinfo=UTC),
        sharding_item=4, task_id="t-1", firing_id="f-1", page=3, per_page=50, newest_first=False,
    )
    assert query.offset == 100


def test_aliases_naive_times_mean_utc() -> None:
    query = parse_query({"since": "2026-03-01 08:30:00", "until": "2026-03-02"})
    assert query.since == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert query.until == datetime(2026, 3, 2, tzinfo=UTC)


def test_fractional_seconds_and_z_suffix() -> None:
    query = parse_query({"startTime": "2026-03-01T08:00:00.250Z"})
    assert query.since == T0 + timedelta(milliseconds=250)


def test_offset_plus_lost_in_url_decoding_is_repaired() -> None:
    # "+08:00" sent unencoded arrives as " 08:00"
    query = parse_query({"startTime": "2026-03-01T08:00:00 08:00"})
    assert query.since == datetime(2026, 3, 1, tzinfo=UTC)
    assert query.since == datetime(2026, 3, 1, 8, tzinfo=timezone(timedelta(hours=8)))


def test_empty_values_count_as_absent() -> None:
    blank = {"jobName": "", "state": " ", "page": "", "startTime": "", "order": ""}
    assert parse_query(blank) == ExecutionQuery()


def test_per_page_is_capped() -> None:
    assert parse_query({"per_page": "100000"}).per_page == MAX_PER_PAGE
    assert parse_query({"per_page": str(MAX_PER_PAGE)}).per_page == MAX_PER_PAGE


@pytest.mark.parametrize(
    ("params", "path", "fragment"),
    [
        ({"page": "0"}, "page", "between 1"),
        ({"page": "-1"}, "page", "between 1"),
        ({"page": "two"}, "page", "integer"),
        ({"page": "1.5"}, "page", "integer"),
        ({"page": "99999999999"}, "page", "between 1"),
        ({"per_page": "0"}, "per_page", "between 1"),
        ({"per_page": "x"}, "per_page", "integer"),
        ({"state": "FINISHED,DONE"}, "state", "DONE"),
        ({"state": "TASK_RUNNNING"}, "state", "RUNNNING"),  # misspelt, with or without the TASK_ prefix
        ({"startTime": "yesterday"}, "startTime", "ISO 8601"),
        ({"since": "2026-13-01"}, "since", "ISO 8601"),
        ({"endTime": "2026-03-01T25:00"}, "endTime", "ISO 8601"),
        ({"startTime": "2026-03-01", "since": "2026-03-01"}, "since", "not both"),
        ({"endTime": "2026-03-01", "until": "2026-03-02"}, "until", "not both"),
        ({"startTime": "2026-03-02", "endTime": "2026-03-01"}, "endTime", "before startTime"),
        ({"shardingItem": "-1"}, "shardingItem", "between 0"),
        ({"shardingItem": "99999999999"}, "shardingItem", "between 0"),
        ({"shardingItem": "a"}, "shardingItem", "integer"),
        ({"order": "newest"}, "order", "'asc' or 'desc'"),
    ],
)
def test_invalid_parameters(params: dict[str, str], path: str, fragment: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(params)
    error = caught.value
    assert error.path == path
    assert fragment in error.reason
    # A ValueError, and a ValidationFailed the API turns into 422 with the field path.
    assert isinstance(error, ValueError)
    assert isinstance(error, ValidationFailed)
    assert error.message == f"{path}: {error.reason}"
    assert [d.as_json() for d in error.details] == [{"path": path, "errors": [error.reason]}]


def test_every_known_state_parses() -> None:
    states = "STAGING,RUNNING,FINISHED,FAILED,KILLED,LOST,MISSED"
    assert parse_query({"state": states}).states == frozenset(states.split(","))


# -- ExecutionQuery validation (the value object guards direct callers too) -----------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"states": frozenset({"DONE"})},
        {"since": datetime(2026, 1, 1)},
        {"since": T0, "until": T0 - timedelta(seconds=1)},
        {"page": 0},
        {"per_page": 0},
        {"per_page": MAX_PER_PAGE + 1},
    ],
)
def test_execution_query_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ExecutionQuery(**kwargs)  # type: ignore[arg-type]


def test_execution_query_accepts_any_iterable_of_states() -> None:
    query = ExecutionQuery(states={"FAILED", "LOST"})  # type: ignore[arg-type]
    assert query.states == frozenset({"FAILED", "LOST"})
    hash(query)


# -- native_row ---------------------------------------------------------------------------------------


def test_native_row_of_a_finished_execution() -> None:
    assert native_row(_execution()) == {
        "id": "daily@-@2@-@READY@-@agent-1@-@abc",
        "hostname": "host-a",
        "ip": "",
        "taskId": "daily@-@2@-@READY@-@agent-1@-@abc",
        "jobName": "daily",
        "source": "CLOUD_EXECUTOR",
        "shardingItem": 2,
        "startTime": "2026-03-01T08:00:00+00:00",
        "completeTime": "2026-03-01T08:01:30+00:00",
        "success": True,
        "failureCause": "",
        "state": "FINISHED",
        "exitCode": 0,
        "agentId": "agent-1",
        "firingId": "fire-1",
    }


def test_native_row_of_a_failed_execution_carries_the_cause() -> None:
    row = native_row(_execution(state="FAILED", exit_code=3, message="exit status 3", hostname="10.1.2.3"))
    assert (row["success"], row["failureCause"], row["exitCode"]) == (False, "exit status 3", 3)
    assert row["ip"] == "10.1.2.3"


def test_native_row_success_hides_message() -> None:
    assert native_row(_execution(message="done in 90s"))["failureCause"] == ""


def test_native_row_of_a_running_execution_has_null_complete_time() -> None:
    row = native_row(_execution(state="RUNNING", exit_code=None, finished_at=None))
    assert row["completeTime"] is None
    assert row["success"] is False
    assert row["exitCode"] is None


def test_native_row_of_a_missed_firing() -> None:
    row = native_row(_execution(
        task_id="missed@-@daily@-@fire-9", sharding_item=None, firing_id="fire-9", state="MISSED",
        agent_id="", hostname="", exit_code=None, message="skipped: previous run still running",
        started_at=None, finished_at=None,
    ))
    assert row["id"] == row["taskId"] == "missed@-@daily@-@fire-9"
    assert (row["shardingItem"], row["startTime"], row["completeTime"]) == (None, None, None)
    assert (row["success"], row["failureCause"]) == (False, "skipped: previous run still running")
    assert (row["ip"], row["hostname"], row["agentId"]) == ("", "", "")


def test_native_row_renders_times_in_utc() -> None:
    eight = timezone(timedelta(hours=8))
    row = native_row(_execution(started_at=datetime(2026, 3, 1, 16, 0, 0, 500000, tzinfo=eight)))
    assert row["startTime"] == "2026-03-01T08:00:00.500000+00:00"
    assert datetime.fromisoformat(str(row["startTime"])) == T0 + timedelta(milliseconds=500)


def test_native_page_is_json_serialisable() -> None:
    body = native_page(ExecutionPage(total=7, rows=[_execution(), _execution(task_id="other")]))
    assert body["total"] == 7
    assert [r["taskId"] for r in body["rows"]] == ["daily@-@2@-@READY@-@agent-1@-@abc", "other"]  # type: ignore[attr-defined]
    json.dumps(body)


def test_is_success_filters_like_elastic_job_cloud() -> None:
    assert parse_query({"isSuccess": "true"}).states == frozenset({"FINISHED"})
    assert parse_query({"isSuccess": "FALSE"}).states == frozenset({"FAILED", "KILLED", "LOST", "MISSED"})
    assert parse_query({"isSuccess": "false", "state": "LOST,FINISHED"}).states == frozenset({"LOST"})
    with pytest.raises(QueryError) as bad:
        parse_query({"isSuccess": "maybe"})
    assert bad.value.path == "isSuccess"
    with pytest.raises(QueryError) as contradiction:
        parse_query({"isSuccess": "true", "state": "FAILED"})
    assert contradiction.value.path == "isSuccess"


def test_is_success_takes_the_original_consoles_radio_values() -> None:
    assert parse_query({"isSuccess": "1"}).states == parse_query({"isSuccess": "true"}).states
    assert parse_query({"isSuccess": "0"}).states == parse_query({"isSuccess": "false"}).states
    assert parse_query({"isSuccess": ""}).states == frozenset()  # "全部" (all)
    for bad in ("2", "yes", "01"):
        with pytest.raises(QueryError) as error:
            parse_query({"isSuccess": bad})
        assert error.value.path == "isSuccess"


def test_status_trace_queries_take_slave_id_source_and_execution_type() -> None:
    assert parse_trace_query({"slaveId": "", "source": "", "executionType": ""}) == ExecutionQuery()
    query = parse_trace_query({"jobName": "daily", "slaveId": "agent-1", "source": "CLOUD_SCHEDULER",
                               "executionType": "FAILOVER", "state": "TASK_STAGING"})
    assert (query.job_name, query.agent_id, query.by_scheduler, query.failover) == ("daily", "agent-1", True, True)
    assert query.states == frozenset({"STAGING"})
    query = parse_trace_query({"source": "cloud_executor", "executionType": "ready"})
    assert (query.by_scheduler, query.failover) == (False, False)
    # Executions keep ignoring them, as the original did.
    assert parse_query({"slaveId": "agent-1", "source": "CLOUD_SCHEDULER"}) == ExecutionQuery()
    for name, value in (("source", "CLOUD"), ("executionType", "DAEMON")):
        with pytest.raises(QueryError) as error:
            parse_trace_query({name: value})
        assert error.value.path == name


def test_mesos_style_state_names_are_accepted() -> None:
    assert parse_query({"state": "TASK_RUNNING,task_finished"}).states == frozenset({"RUNNING", "FINISHED"})
