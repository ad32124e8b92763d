"""Unix (Vixie) cron dialect: table tests with literal expected firings in UTC.

Calendar facts (checked with Python's `calendar` module): 2026-01-01 is a Thursday, so January 2026's
Fridays are 2, 9, 16, 23, 30 and its Mondays 5, 12, 19, 26; 2026-02-01 is a Sunday; 2026-01-13 is a
Tuesday, 2026-06-13 a Saturday and 2026-05-11 the first 1st/11th/21st/31st of 2026 that is a Monday.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from elasticjob.cron import CronError, Dialect, fire_times, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


FIRINGS = [
    ("*/15 * * * *", "2026-01-01T00:00:00Z", ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z",
                                              "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"]),
    ("5-20/5 3 * * *", "2026-01-01T00:00:00Z", ["2026-01-01T03:05:00Z", "2026-01-01T03:10:00Z",
                                                "2026-01-01T03:15:00Z", "2026-01-01T03:20:00Z",
                                                "2026-01-02T03:05:00Z"]),
    ("5/20 * * * *", "2026-01-01T00:00:00Z", ["2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z",
                                              "2026-01-01T00:45:00Z"]),
    ("0,30 9-10 * * *", "2026-01-01T09:10:00Z", ["2026-01-01T09:30:00Z", "2026-01-01T10:00:00Z",
                                                 "2026-01-01T10:30:00Z", "2026-01-02T09:00:00Z"]),
    # Seconds are always 0, so a sub-minute `after` moves to the next whole minute.
    ("* * * * *", "2026-01-01T00:00:30Z", ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"]),
    # 0 and 7 both mean Sunday; names work too.
    ("0 12 * * 0", "2026-01-01T00:00:00Z", ["2026-01-04T12:00:00Z", "2026-01-11T12:00:00Z"]),
    ("0 12 * * 7", "2026-01-01T00:00:00Z", ["2026-01-04T12:00:00Z", "2026-01-11T12:00:00Z"]),
    ("0 12 * * sun", "2026-01-01T00:00:00Z", ["2026-01-04T12:00:00Z"]),
    ("0 12 * * 5-7", "2026-01-01T00:00:00Z", ["2026-01-02T12:00:00Z", "2026-01-03T12:00:00Z",
                                              "2026-01-04T12:00:00Z", "2026-01-09T12:00:00Z"]),
    ("0 12 * * 1-5", "2026-01-02T13:00:00Z", ["2026-01-05T12:00:00Z", "2026-01-06T12:00:00Z"]),
    ("0 12 * * MON-FRI", "2026-01-02T13:00:00Z", ["2026-01-05T12:00:00Z", "2026-01-06T12:00:00Z"]),
    ("0 9 * JAN-feb Mon", "2026-01-27T00:00:00Z", ["2026-02-02T09:00:00Z", "2026-02-09T09:00:00Z"]),
    # OR rule: both day fields restricted -> either one matching is enough.
    ("0 0 13 * 5", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z",
                                            "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z",
                                            "2026-01-23T00:00:00Z"]),
    ("0 0 1 * MON", "2026-01-20T00:00:00Z", ["2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z",
                                             "2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"]),
    # A field starting with '*' is unrestricted, so the other one decides alone (AND rule).
    ("0 0 1 * *", "2026-01-20T00:00:00Z", ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
    ("0 0 * * 5", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"]),
    ("0 0 13 * */2", "2026-01-01T00:00:00Z", ["2026-01-13T00:00:00Z", "2026-06-13T00:00:00Z"]),
    ("0 0 */10 * MON", "2026-01-01T00:00:00Z", ["2026-05-11T00:00:00Z"]),
    # Leap day and month ends.
    ("0 0 29 2 *", "2026-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
    ("0 0 31 * *", "2026-01-31T00:00:00Z", ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]),
    # Nicknames.
    ("@yearly", "2026-01-01T00:00:00Z", ["2027-01-01T00:00:00Z"]),
    ("@annually", "2026-06-01T00:00:00Z", ["2027-01-01T00:00:00Z"]),
    ("@monthly", "2026-01-01T00:00:00Z", ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
    ("@weekly", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
    ("@daily", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z"]),
    ("@midnight", "2026-01-01T12:00:00Z", ["2026-01-02T00:00:00Z"]),
    ("@hourly", "2026-01-01T00:30:00Z", ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"]),
    ("@Daily", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z"]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), FIRINGS)
def test_firings(expression: str, after: str, expected: list[str]) -> None:
    schedule = parse(expression, Dialect.UNIX)
    assert fire_times(schedule, at(after), len(expected)) == [at(text) for text in expected]


def test_strictly_after_and_any_input_zone() -> None:
    schedule = parse("0 12 * * *", Dialect.UNIX)
    assert schedule.next_fire(at("2026-01-01T12:00:00Z")) == at("2026-01-02T12:00:00Z")
    new_york_morning = datetime(2026, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))  # = 12:00Z
    assert schedule.next_fire(new_york_morning) == at("2026-01-02T12:00:00Z")


def test_local_time_zone() -> None:
    schedule = parse("0 9 * * *", Dialect.UNIX, "Asia/Tokyo")
    assert schedule.next_fire(at("2026-01-01T00:00:00Z")) == at("2026-01-02T00:00:00Z")  # 09:00 JST


@pytest.mark.parametrize("expression", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6 *"])
def test_never_fires(expression: str) -> None:
    started = time.perf_counter()
    assert parse(expression, Dialect.UNIX).next_fire(at("2026-01-01T00:00:00Z")) is None
    assert time.perf_counter() - started < 0.5


ERRORS = [
    ("* * * *", "5 fields"),
    ("0 * * * * *", "5 fields"),
    ("60 * * * *", "minutes: 60 is out of range 0-59"),
    ("* 24 * * *", "hours: 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month: 0 is out of range 1-31"),
    ("* * 32 * *", "day-of-month: 32 is out of range 1-31"),
    ("* * * 13 *", "month: 13 is out of range 1-12"),
    ("* * * * 8", "day-of-week: 8 is out of range 0-7 (0 and 7 are Sunday)"),
    ("* * ? * *", "day-of-month: '?' is Quartz syntax"),
    ("* * * * ?", "day-of-week: '?' is Quartz syntax"),
    ("5-1 * * * *", "minutes: range '5-1' runs backwards"),
    ("*/0 * * * *", "minutes: the step in '*/0' must be a whole number between 1 and 60"),
    ("* * L * *", "day-of-month: 'L' is not valid"),
    ("* * * * 5L", "day-of-week: '5L' is not valid"),
    ("* * * * FUN", "day-of-week: 'FUN' is not valid"),
    ("x * * * *", "minutes: 'x' is not valid"),
    ("@reboot", "'@reboot' has no firing times"),
    ("@fortnightly", "unknown nickname '@fortnightly'"),
    ("", "empty"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression, Dialect.UNIX)
    assert message in caught.value.message
