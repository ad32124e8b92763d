"""The statistics' windows, buckets and JSON shapes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from elasticjob.history import statistics as stats
from elasticjob.history.statistics import StatisticInterval

NOW = datetime(2026, 3, 1, 8, 30, 15, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("period", "span", "interval"),
    [("lastMinute", timedelta(minutes=1), "MINUTE"), ("lastHour", timedelta(hours=1), "HOUR"),
     ("lastWeek", timedelta(days=7), "DAY")],
)
def test_periods_are_windows_ending_now(period: str, span: timedelta, interval: str) -> None:
    window = stats.result_window(period, NOW)
    assert (window.since, window.until, window.interval.value) == (NOW - span, NOW, interval)


def test_online_is_everything_kept() -> None:
    assert stats.result_window("online", NOW) == stats.ResultWindow(None, NOW, StatisticInterval.DAY)


@pytest.mark.parametrize("period", ["lastDay", "LASTMINUTE", ""])
def test_an_unknown_period_is_a_value_error(period: str) -> None:
    with pytest.raises(ValueError, match="lastMinute, lastHour, lastWeek, online"):
        stats.result_window(period, NOW)


def test_series_of_the_originals_since_values() -> None:
    assert stats.series("last24hours", stats.RESULT_SERIES, NOW) == stats.Series(
        NOW - timedelta(hours=24), NOW, StatisticInterval.MINUTE)
    assert stats.series("lastWeek", stats.RUNNING_SERIES, NOW).interval is StatisticInterval.HOUR


@pytest.mark.parametrize("since", [None, "lastWeek", "last24Hours"])
def test_other_since_values_are_a_value_error(since: str | None) -> None:
    with pytest.raises(ValueError, match="must be last24hours"):
        stats.series(since, stats.RESULT_SERIES, NOW)


def test_buckets_count_whole_intervals_since_the_epoch() -> None:
    assert stats.bucket_of(datetime(1970, 1, 1, 0, 2, 59, tzinfo=UTC), StatisticInterval.MINUTE) == 2
    bucket = stats.bucket_of(NOW, StatisticInterval.HOUR)
    assert stats.bucket_start(bucket, StatisticInterval.HOUR) == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert stats.bucket_of(NOW.astimezone(CST), StatisticInterval.DAY) == stats.bucket_of(NOW, StatisticInterval.DAY)


@pytest.mark.parametrize(
    ("value", "zone", "text"),
    [
        (datetime(2026, 3, 1, 8, 5, 9, tzinfo=UTC), UTC, "Mar 1, 2026 8:05:09 AM"),
        (datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC), UTC, "Mar 1, 2026 12:00:00 AM"),
        (datetime(2026, 12, 31, 12, 30, 0, tzinfo=UTC), UTC, "Dec 31, 2026 12:30:00 PM"),
        (datetime(2026, 3, 1, 20, 0, 0, tzinfo=UTC), CST, "Mar 2, 2026 4:00:00 AM"),
    ],
)
def test_dates_are_written_as_gsons_default_date_format(value: datetime, zone: timezone, text: str) -> None:
    assert stats.gson_date(value, zone) == text


def test_task_result_has_the_originals_fields() -> None:
    assert stats.task_result(3, 1, StatisticInterval.HOUR, NOW, NOW, UTC) == {
        "id": 0, "successCount": 3, "failedCount": 1, "statisticInterval": "HOUR",
        "statisticsTime": "Mar 1, 2026 8:30:15 AM", "creationTime": "Mar 1, 2026 8:30:15 AM",
    }


def test_result_buckets_cover_the_window_with_zeros_where_nothing_ended() -> None:
    window = stats.Series(NOW - timedelta(minutes=3), NOW, StatisticInterval.MINUTE)
    first = stats.bucket_of(window.since or NOW, StatisticInterval.MINUTE)
    rows = stats.result_buckets({first + 1: (2, 1)}, window, NOW, UTC)
    assert [(r["successCount"], r["failedCount"]) for r in rows] == [(0, 0), (2, 1), (0, 0), (0, 0)]
    assert [r["statisticsTime"] for r in rows] == [
        "Mar 1, 2026 8:27:00 AM", "Mar 1, 2026 8:28:00 AM", "Mar 1, 2026 8:29:00 AM", "Mar 1, 2026 8:30:00 AM"]
    assert {r["statisticInterval"] for r in rows} == {"MINUTE"}


def test_a_last24hours_series_has_one_bucket_a_minute() -> None:
    window = stats.series("last24hours", stats.RESULT_SERIES, NOW)
    assert len(stats.result_buckets({}, window, NOW, UTC)) == 24 * 60 + 1


def test_sample_rows_keep_only_sampled_buckets_oldest_first() -> None:
    hour = stats.bucket_of(NOW, StatisticInterval.HOUR)
    rows = stats.sample_rows({hour: (9, 4), hour - 2: (5, 1)}, StatisticInterval.HOUR, "runningCount", NOW, UTC)
    assert rows == [
        {"id": 5, "runningCount": 1, "statisticsTime": "Mar 1, 2026 6:00:00 AM",
         "creationTime": "Mar 1, 2026 8:30:15 AM"},
        {"id": 9, "runningCount": 4, "statisticsTime": "Mar 1, 2026 8:00:00 AM",
         "creationTime": "Mar 1, 2026 8:30:15 AM"},
    ]


def test_job_type_shapes() -> None:
    assert stats.job_type_statistics({"SCRIPT": 2, "DATAFLOW": 1}) == {
        "scriptJobCount": 2, "simpleJobCount": 0, "dataflowJobCount": 1}
    assert stats.job_execution_type_statistics({"DAEMON": 3}) == {"transientJobCount": 0, "daemonJobCount": 3}
