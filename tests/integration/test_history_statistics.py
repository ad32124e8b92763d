"""The statistics' aggregate queries on SQLite and PostgreSQL: results by end time, per bucket, and the
leader's samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from elasticjob.history import ExecutionEvent, SqlHistoryStore, open_history
from elasticjob.history.statistics import StatisticInterval, bucket_of
from tests.integration.test_history_sql import url  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(url: str) -> Iterator[SqlHistoryStore]:  # noqa: F811
    with open_history(url) as opened:
        yield opened


def _ended(task: str, state: str, seconds: float) -> list[ExecutionEvent]:
    end = T0 + timedelta(seconds=seconds)
    events = [ExecutionEvent(task, "daily", 0, "f1", "RUNNING", at=end - timedelta(seconds=1))]
    return events + [ExecutionEvent(task, "daily", 0, "f1", state, at=end)]


@pytest.fixture
def results(store: SqlHistoryStore) -> SqlHistoryStore:
    """Ends at T0+10s FINISHED, +20s FAILED, +70s LOST, +80s KILLED, +3700s FINISHED; a running task and a
    MISSED firing, which count for nothing."""
    for task, state, at in [("a", "FINISHED", 10), ("b", "FAILED", 20), ("c", "LOST", 70), ("d", "KILLED", 80),
                            ("e", "FINISHED", 3700)]:
        store.record(_ended(task, state, at))
    store.record([ExecutionEvent("r", "daily", 0, "f2", "RUNNING", at=T0 + timedelta(seconds=30))])
    store.record([ExecutionEvent.missed("daily", "f3", at=T0 + timedelta(seconds=40))])
    return store


def test_results_count_finished_as_success_failed_and_lost_as_failure(results: SqlHistoryStore) -> None:
    assert results.task_results(None, T0 + timedelta(days=1)) == (2, 2)
    assert results.task_results(T0, T0 + timedelta(seconds=60)) == (1, 1)
    assert results.task_results(T0 + timedelta(seconds=20), T0 + timedelta(seconds=70)) == (0, 1)  # [since, until)
    assert results.task_results(T0 + timedelta(days=1), T0 + timedelta(days=2)) == (0, 0)


def test_results_per_minute_bucket(results: SqlHistoryStore) -> None:
    found = results.task_result_buckets(T0, T0 + timedelta(hours=2), StatisticInterval.MINUTE)
    first = bucket_of(T0, StatisticInterval.MINUTE)
    assert found == {first: (1, 1), first + 1: (0, 1), first + 61: (1, 0)}


def test_results_per_hour_bucket_within_the_window(results: SqlHistoryStore) -> None:
    found = results.task_result_buckets(T0 + timedelta(seconds=15), T0 + timedelta(hours=2), StatisticInterval.HOUR)
    hour = bucket_of(T0, StatisticInterval.HOUR)
    assert found == {hour: (0, 2), hour + 1: (1, 0)}


def test_samples_aggregate_per_bucket_as_the_largest_count(store: SqlHistoryStore) -> None:
    for minutes, tasks, jobs, registered in [(0, 3, 1, 10), (30, 7, 2, 11), (65, 1, 1, 12), (60 * 25, 0, 0, 9)]:
        store.record_sample(T0 + timedelta(minutes=minutes), tasks, jobs, registered)
    hour = bucket_of(T0, StatisticInterval.HOUR)
    tasks = store.sample_buckets("running_task_count", T0, StatisticInterval.HOUR)
    assert {b: v for b, (_id, v) in tasks.items()} == {hour: 7, hour + 1: 1, hour + 25: 0}
    ids = [row_id for row_id, _v in tasks.values()]
    assert len(set(ids)) == 3 and all(isinstance(i, int) and i > 0 for i in ids)
    jobs = store.sample_buckets("running_job_count", T0 + timedelta(minutes=31), StatisticInterval.HOUR)
    assert {b: v for b, (_id, v) in jobs.items()} == {hour + 1: 1, hour + 25: 0}
    day = bucket_of(T0, StatisticInterval.DAY)
    registered = store.sample_buckets("registered_job_count", None, StatisticInterval.DAY)
    assert {b: v for b, (_id, v) in registered.items()} == {day: 12, day + 1: 9}


def test_old_samples_are_pruned(store: SqlHistoryStore) -> None:
    store.record_sample(T0, 1, 1, 1)
    store.record_sample(T0 + timedelta(days=2), 2, 2, 2)
    assert store.prune_samples(T0 + timedelta(days=1)) == 1
    found = store.sample_buckets("running_task_count", None, StatisticInterval.DAY)
    assert [v for _id, v in found.values()] == [2]


def test_an_unknown_sample_column_is_refused(store: SqlHistoryStore) -> None:
    with pytest.raises(ValueError, match="no sample column"):
        store.sample_buckets("id; DROP TABLE job_run", None, StatisticInterval.DAY)
