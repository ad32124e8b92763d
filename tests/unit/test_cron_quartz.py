"""Quartz dialect: table tests with literal expected firings (UTC zone unless stated).

Calendar facts used below (checked with Python's `calendar` module while writing the table):
2026-01-01 is a Thursday; Feb 2026 starts on a Sunday (4 Mondays); Mar 2026 has 5 Mondays (2..30);
Jun 2026 has 5 Mondays (1..29); 2026-08-01 is a Saturday; 2026-11-01 is a Sunday; 2026-05-31 is a
Sunday; 2026-01-31 is a Saturday; 2028 is the next leap year; Feb 2044 starts on a Monday.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from elasticjob.cron import CronError, Dialect, fire_times, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


FIRINGS = [
    # --- seconds-first fields and increments ---
    ("0/5 * * * * ?", "2026-01-01T00:00:00Z", ["2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"]),
    ("*/20 * * * * ?", "2026-01-01T00:00:50Z", ["2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z"]),
    ("30 * * * * ?", "2026-01-01T00:00:00Z", ["2026-01-01T00:00:30Z", "2026-01-01T00:01:30Z"]),
    ("0 5/20 * * * ?", "2026-01-01T00:00:00Z", ["2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z",
                                                "2026-01-01T00:45:00Z", "2026-01-01T01:05:00Z"]),
    ("0 10-50/20 * * * ?", "2026-01-01T00:00:00Z", ["2026-01-01T00:10:00Z", "2026-01-01T00:30:00Z",
                                                    "2026-01-01T00:50:00Z", "2026-01-01T01:10:00Z"]),
    ("15,45 0 0 * * ?", "2026-01-01T00:00:20Z", ["2026-01-01T00:00:45Z", "2026-01-02T00:00:15Z"]),
    # Backwards ranges wrap around, as in Quartz.
    ("0 0 22-1 * * ?", "2026-01-01T12:00:00Z", ["2026-01-01T22:00:00Z", "2026-01-01T23:00:00Z",
                                                "2026-01-02T00:00:00Z", "2026-01-02T01:00:00Z",
                                                "2026-01-02T22:00:00Z"]),
    # --- day of week: Quartz numbers 1=SUN..7=SAT ---
    ("0 15 10 ? * MON-FRI", "2026-01-01T00:00:00Z", ["2026-01-01T10:15:00Z", "2026-01-02T10:15:00Z",
                                                     "2026-01-05T10:15:00Z"]),
    ("0 0 12 ? * 1", "2026-01-01T00:00:00Z", ["2026-01-04T12:00:00Z", "2026-01-11T12:00:00Z"]),  # Sundays
    ("0 0 12 ? * SUN", "2026-01-01T00:00:00Z", ["2026-01-04T12:00:00Z"]),
    ("0 0 12 ? * 7", "2026-01-01T00:00:00Z", ["2026-01-03T12:00:00Z", "2026-01-10T12:00:00Z"]),  # Saturdays
    ("0 0 12 ? * L", "2026-01-01T00:00:00Z", ["2026-01-03T12:00:00Z"]),  # lone L = 7 = Saturday
    ("0 0 12 ? * 2-6", "2026-01-02T13:00:00Z", ["2026-01-05T12:00:00Z", "2026-01-06T12:00:00Z",
                                                "2026-01-07T12:00:00Z", "2026-01-08T12:00:00Z",
                                                "2026-01-09T12:00:00Z", "2026-01-12T12:00:00Z"]),
    ("0 0 12 ? * 2,4", "2026-01-01T00:00:00Z", ["2026-01-05T12:00:00Z", "2026-01-07T12:00:00Z"]),
    ("0 0 12 ? * FRI-MON", "2026-01-05T13:00:00Z", ["2026-01-09T12:00:00Z", "2026-01-10T12:00:00Z",
                                                    "2026-01-11T12:00:00Z", "2026-01-12T12:00:00Z",
                                                    "2026-01-16T12:00:00Z"]),
    # --- names and case-insensitivity ---
    ("0 0 9 ? jan,Mar mon", "2026-01-01T00:00:00Z", ["2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z",
                                                     "2026-01-19T09:00:00Z", "2026-01-26T09:00:00Z",
                                                     "2026-03-02T09:00:00Z"]),
    ("0 0 9 1 JUN-AUG ?", "2026-01-01T00:00:00Z", ["2026-06-01T09:00:00Z", "2026-07-01T09:00:00Z",
                                                   "2026-08-01T09:00:00Z", "2027-06-01T09:00:00Z"]),
    ("0 0 0 l * ?", "2026-01-01T00:00:00Z", ["2026-01-31T00:00:00Z"]),
    ("0 0 0 ? * fril", "2026-01-01T00:00:00Z", ["2026-01-30T00:00:00Z"]),
    ("0 0 0 ? * fri#3", "2026-01-01T00:00:00Z", ["2026-01-16T00:00:00Z"]),
    ("0 0 0 lw * ?", "2026-01-01T00:00:00Z", ["2026-01-30T00:00:00Z"]),
    # --- day of month: L, L-n ---
    ("0 0 0 L * ?", "2026-01-01T00:00:00Z", ["2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z",
                                             "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"]),
    ("0 0 0 L 2 ?", "2027-03-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"]),
    ("0 0 0 L-3 * ?", "2026-01-01T00:00:00Z", ["2026-01-28T00:00:00Z", "2026-02-25T00:00:00Z",
                                               "2026-03-28T00:00:00Z", "2026-04-27T00:00:00Z"]),
    ("0 0 0 L-3 2 ?", "2027-03-01T00:00:00Z", ["2028-02-26T00:00:00Z"]),
    ("0 0 0 L-0 1 ?", "2026-01-01T00:00:00Z", ["2026-01-31T00:00:00Z"]),
    # --- nearest weekday nW ---
    ("0 0 0 15W * ?", "2026-01-01T00:00:00Z", [
        "2026-01-15T00:00:00Z",  # Thursday itself
        "2026-02-16T00:00:00Z",  # 15th is a Sunday -> Monday
        "2026-03-16T00:00:00Z",  # Sunday -> Monday
        "2026-04-15T00:00:00Z",
    ]),
    ("0 0 0 15W 8 ?", "2026-01-01T00:00:00Z", ["2026-08-14T00:00:00Z"]),  # Saturday -> Friday
    ("0 0 0 1W 8 ?", "2026-01-01T00:00:00Z", ["2026-08-03T00:00:00Z"]),  # Sat the 1st -> Mon the 3rd
    ("0 0 0 1W 11 ?", "2026-01-01T00:00:00Z", ["2026-11-02T00:00:00Z"]),  # Sun the 1st -> Mon the 2nd
    # 1 Jan 2026 fires at midnight, which is not strictly after `after`; Feb and Mar start on Sundays.
    ("0 0 0 1W * ?", "2026-01-01T00:00:00Z", ["2026-02-02T00:00:00Z", "2026-03-02T00:00:00Z",
                                             "2026-04-01T00:00:00Z"]),
    ("0 0 0 31W 5 ?", "2026-01-01T00:00:00Z", ["2026-05-29T00:00:00Z"]),  # last day Sunday -> Friday
    ("0 0 0 31W 1 ?", "2026-01-01T00:00:00Z", ["2026-01-30T00:00:00Z"]),  # last day Saturday -> Friday
    ("0 0 0 31W 4-5 ?", "2026-01-01T00:00:00Z", ["2026-05-29T00:00:00Z"]),  # April has no 31st: skipped
    # --- last weekday of the month LW ---
    ("0 0 0 LW * ?", "2026-01-01T00:00:00Z", [
        "2026-01-30T00:00:00Z",  # 31st is a Saturday
        "2026-02-27T00:00:00Z",  # 28th is a Saturday
        "2026-03-31T00:00:00Z",  # Tuesday
        "2026-04-30T00:00:00Z",  # Thursday
        "2026-05-29T00:00:00Z",  # 31st is a Sunday
    ]),
    # --- last given weekday nL and n-th weekday n#k ---
    ("0 0 0 ? * 6L", "2026-01-01T00:00:00Z", ["2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z",
                                              "2026-03-27T00:00:00Z", "2026-04-24T00:00:00Z",
                                              "2026-05-29T00:00:00Z"]),
    ("0 0 0 ? * 1L", "2026-01-01T00:00:00Z", ["2026-01-25T00:00:00Z", "2026-02-22T00:00:00Z",
                                              "2026-03-29T00:00:00Z"]),
    ("0 0 0 ? * 6#3", "2026-01-01T00:00:00Z", ["2026-01-16T00:00:00Z", "2026-02-20T00:00:00Z",
                                               "2026-03-20T00:00:00Z", "2026-04-17T00:00:00Z"]),
    ("0 0 0 ? * 2#1", "2026-01-01T00:00:00Z", ["2026-01-05T00:00:00Z", "2026-02-02T00:00:00Z"]),
    # Fifth Monday: none in January or February 2026, so the first is 30 March, then 29 June.
    ("0 0 0 ? * 2#5", "2026-01-01T00:00:00Z", ["2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z"]),
    # February with a fifth Monday needs a leap year whose February starts on a Monday.
    ("0 0 0 ? 2 2#5", "2026-01-01T00:00:00Z", ["2044-02-29T00:00:00Z"]),
    # --- leap years ---
    ("0 0 0 29 2 ?", "2026-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
    ("0 0 0 29 2 ?", "2028-02-29T00:00:00Z", ["2032-02-29T00:00:00Z"]),
    # --- year field ---
    ("0 0 12 1 1 ? 2027", "2026-01-01T00:00:00Z", ["2027-01-01T12:00:00Z"]),
    ("0 0 12 1 1 ? 2027-2031/2", "2026-01-01T00:00:00Z", ["2027-01-01T12:00:00Z", "2029-01-01T12:00:00Z",
                                                          "2031-01-01T12:00:00Z"]),
    ("0 0 0 1 1 ? 2030,2090", "2031-01-01T00:00:00Z", ["2090-01-01T00:00:00Z"]),
    ("0 0 12 ? * MON 2027", "2026-06-01T00:00:00Z", ["2027-01-04T12:00:00Z"]),
    # --- month rollover and year end ---
    ("59 59 23 31 12 ?", "2026-06-01T00:00:00Z", ["2026-12-31T23:59:59Z", "2027-12-31T23:59:59Z"]),
    ("0 0 0 31 * ?", "2026-01-31T00:00:00Z", ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]),
]


@pytest.mark.parametrize(("expression", "after", "expected"), FIRINGS)
def test_firings(expression: str, after: str, expected: list[str]) -> None:
    schedule = parse(expression, Dialect.QUARTZ)
    assert fire_times(schedule, at(after), len(expected)) == [at(text) for text in expected]


@pytest.mark.parametrize(
    ("expression", "after"),
    [
        ("0 0 0 30 2 ?", "2026-01-01T00:00:00Z"),  # 30 February never exists
        ("0 0 0 31 4,6,9,11 ?", "2026-01-01T00:00:00Z"),
        ("0 0 0 1 1 ? 2020", "2026-01-01T00:00:00Z"),  # year range in the past
        ("0 0 0 1 1 ? 2026", "2026-01-01T00:00:00Z"),  # its only firing is not strictly after
        ("0 0 0 * * ?", "2099-12-31T00:00:00Z"),  # Quartz's calendar ends with 2099
        ("0 0 0 ? 2 2#5 2045-2050", "2026-01-01T00:00:00Z"),
        ("0 0 0 L-30 2 ?", "2026-01-01T00:00:00Z"),  # February is too short for L-30
    ],
)
def test_never_fires_again(expression: str, after: str) -> None:
    started = time.perf_counter()
    assert parse(expression, Dialect.QUARTZ).next_fire(at(after)) is None
    assert time.perf_counter() - started < 0.5


def test_next_fire_is_strictly_after() -> None:
    schedule = parse("0 0 12 * * ?", Dialect.QUARTZ)
    assert schedule.next_fire(at("2026-01-01T12:00:00Z")) == at("2026-01-02T12:00:00Z")
    assert schedule.next_fire(at("2026-01-01T11:59:59.999999Z")) == at("2026-01-01T12:00:00Z")
    assert schedule.next_fire(at("2026-01-01T12:00:00.000001Z")) == at("2026-01-02T12:00:00Z")


def test_after_in_another_zone_is_the_same_instant() -> None:
    schedule = parse("0 0 12 * * ?", Dialect.QUARTZ)
    tokyo = timezone(timedelta(hours=9))
    # 21:00 in UTC+9 is 12:00Z: the firing at that instant is not strictly after it.
    fired = schedule.next_fire(datetime(2026, 1, 1, 21, 0, tzinfo=tokyo))
    assert fired == at("2026-01-02T12:00:00Z")
    assert fired is not None and fired.tzinfo is UTC


def test_result_is_aware_utc() -> None:
    fired = parse("0 15 10 ? * MON-FRI", Dialect.QUARTZ, "Europe/Berlin").next_fire(
        at("2026-01-01T00:00:00Z")
    )
    assert fired == at("2026-01-01T09:15:00Z")  # 10:15 CET
    assert fired is not None and fired.tzinfo is UTC


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("0 0 12 * * ?", Dialect.QUARTZ).next_fire(datetime(2026, 1, 1))


def test_yearly_expression_is_fast() -> None:
    schedule = parse("0 0 0 29 2 ?", Dialect.QUARTZ)
    started = time.perf_counter()
    assert schedule.next_fire(at("2028-03-01T00:00:00Z")) == at("2032-02-29T00:00:00Z")
    assert time.perf_counter() - started < 0.05


def test_expression_is_kept_and_whitespace_tolerated() -> None:
    schedule = parse("  0  0 12  * * ?\t", Dialect.QUARTZ)
    assert schedule.expression == "0  0 12  * * ?"
    assert schedule.next_fire(at("2026-01-01T00:00:00Z")) == at("2026-01-01T12:00:00Z")


def test_dialect_may_be_given_by_value() -> None:
    schedule = parse("0 0 12 * * ?", "quartz")  # type: ignore[arg-type]
    assert schedule.next_fire(at("2026-01-01T00:00:00Z")) == at("2026-01-01T12:00:00Z")


ERRORS = [
    # field count
    ("0 0 12 * *", "6 or 7 fields"),
    ("0 0 12 * * ? 2026 1", "6 or 7 fields"),
    ("", "empty"),
    # '?' rules
    ("? 0 12 * * ?", "seconds: '?' is only allowed in day-of-month or day-of-week"),
    ("0 0 12 * ? ?", "month: '?' is only allowed"),
    ("0 0 12 ? * ? 2026", "both '?'"),
    ("0 0 12 ? * ?", "both '?'"),
    ("0 0 12 1,? * ?", "day-of-month: '?' must stand alone"),
    ("0 0 12 * * *", "both specified; Quartz needs '?' in one of them"),
    ("0 0 12 1 * MON", "both specified"),
    ("0 0 12 L * 6L", "both specified"),
    # out of range
    ("60 0 12 * * ?", "seconds: 60 is out of range 0-59"),
    ("0 60 12 * * ?", "minutes: 60 is out of range 0-59"),
    ("0 0 24 * * ?", "hours: 24 is out of range 0-23"),
    ("0 0 12 0 * ?", "day-of-month: 0 is out of range 1-31"),
    ("0 0 12 32 * ?", "day-of-month: 32 is out of range 1-31"),
    ("0 0 12 * 13 ?", "month: 13 is out of range 1-12"),
    ("0 0 12 * 0 ?", "month: 0 is out of range 1-12"),
    ("0 0 12 ? * 8", "day-of-week: 8 is out of range 1-7 (Quartz numbers days 1=SUN..7=SAT)"),
    ("0 0 12 ? * 0", "day-of-week: 0 is out of range 1-7 (Quartz numbers days 1=SUN..7=SAT)"),
    ("0 0 12 ? * 8#1", "day-of-week: 8 is out of range 1-7"),
    ("0 0 12 ? * 8L", "day-of-week: 8 is out of range 1-7"),
    ("0 0 12 * * ? 1969", "year: 1969 is out of range 1970-2099"),
    ("0 0 12 * * ? 2100", "year: 2100 is out of range 1970-2099"),
    ("0 0 12 * * ? 2030-2025", "year: range '2030-2025' runs backwards"),
    ("0 0 12 32W * ?", "day-of-month: 32 is out of range 1-31"),
    ("0 0 12 L-31 * ?", "day-of-month: the offset in 'L-31' must be 0-30"),
    ("0 0 12 ? * 6#6", "day-of-week: the week number in '6#6' must be 1-5"),
    ("0 0 12 ? * 6#0", "day-of-week: the week number in '6#0' must be 1-5"),
    # garbage and malformed tokens
    ("a 0 12 * * ?", "seconds: 'a' is not valid"),
    ("0 0 12 * JANX ?", "month: 'JANX' is not valid"),
    ("0 0 12 ? * FUN", "day-of-week: 'FUN' is not valid"),
    ("0 -5 12 * * ?", "minutes: '-5' is not a valid range"),
    ("0 5- 12 * * ?", "minutes: '5-' is not a valid range"),
    ("0 1-2-3 12 * * ?", "minutes: '2-3' in '1-2-3' is not valid"),
    ("0 0 12,,13 * * ?", "hours: '12,,13' has an empty list element"),
    ("*/0 0 12 * * ?", "seconds: the step in '*/0' must be a whole number between 1 and 60"),
    ("0/x 0 12 * * ?", "seconds: the step in '0/x' must be a whole number"),
    ("0/ 0 12 * * ?", "seconds: the step in '0/'"),
    ("/5 0 12 * * ?", "seconds: '/5' is missing a value before '/'"),
    ("0 0 1.5 * * ?", "hours: '1.5' is not valid"),
    ("0 0 12 ? * 6#", "day-of-week: '6#' is not valid; '#' takes one weekday and a week number"),
    ("0 0 12 ? * 1-3#2", "day-of-week: '1-3#2' is not valid"),
    ("0 0 12 ? * 2,6L", "day-of-week: '2,6L' is not valid; 'L' takes one weekday"),
    # special tokens in the wrong field or combined wrongly
    ("0 0 12 6L * ?", "day-of-month: '6L' is not valid here; 'nL' (last given weekday of the month) belongs "
                      "in day-of-week"),
    ("0 0 12 6#3 * ?", "day-of-month: '6#3' is not valid; 'n#k' (k-th weekday) belongs in day-of-week"),
    ("0 0 12 1-5W * ?", "day-of-month: 'W' takes a single day such as 15W, not a range or list"),
    ("0 0 12 1,15W * ?", "day-of-month: 'W' takes a single day"),
    ("0 0 12 */2W * ?", "day-of-month: 'W' takes a single day"),
    ("0 0 12 W * ?", "day-of-month: 'W' is not valid"),
    ("0 0 12 L,15 * ?", "day-of-month: 'L' must stand alone"),
    ("0 0 12 L-x * ?", "day-of-month: 'L-x' is not valid"),
    ("0 0 12 ? * 5W", "day-of-week: '5W' is not valid; 'W' and 'L-n' belong in day-of-month"),
    ("0 0 12 ? * L-2", "day-of-week: 'L-2' is not valid"),
    ("0 0 12 * L ?", "month: 'L' is not valid"),
    ("0 0 L * * ?", "hours: 'L' is not valid"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression, Dialect.QUARTZ)
    assert message in caught.value.message
    assert str(caught.value) == caught.value.message


def test_cron_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="day-of-week: 8 is out of range"):
        parse("0 0 12 ? * 8", Dialect.QUARTZ)


def test_unknown_dialect_is_a_cron_error() -> None:
    with pytest.raises(CronError, match="unknown cron dialect 'cronish'"):
        parse("0 0 12 * * ?", "cronish")  # type: ignore[arg-type]
