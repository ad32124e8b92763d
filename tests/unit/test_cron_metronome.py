"""Metronome's cron dialect: Unix fields and numbering, L/W/#, an optional year, day fields ANDed."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from elasticjob import cron

AFTER = dt.datetime(2026, 12, 3, 21, 0, tzinfo=dt.UTC)


def fires(expression: str, count: int = 3, zone: str = "UTC", after: dt.datetime = AFTER) -> list[str]:
    schedule = cron.parse(expression, cron.Dialect.METRONOME, zone)
    return [t.isoformat() for t in cron.fire_times(schedule, after, count)]


def test_both_day_fields_must_match_unlike_vixie_cron() -> None:
    assert fires("0 0 13 * 5") == ["2027-08-13T00:00:00+00:00", "2028-10-13T00:00:00+00:00",
                                   "2029-04-13T00:00:00+00:00"]  # Friday the 13th only
    vixie = cron.fire_times(cron.parse("0 0 13 * 5", cron.Dialect.UNIX), AFTER, 2)
    assert [t.day for t in vixie] == [4, 11]  # Vixie: every Friday or 13th


@pytest.mark.parametrize(("expression", "expected"), [
    ("20 0 * * *", ["2026-12-04T00:20:00+00:00", "2026-12-05T00:20:00+00:00", "2026-12-06T00:20:00+00:00"]),
    ("0 0 * * 5L", ["2026-12-25T00:00:00+00:00", "2027-01-29T00:00:00+00:00", "2027-02-26T00:00:00+00:00"]),
    ("0 0 * * FRI#3", ["2026-12-18T00:00:00+00:00", "2027-01-15T00:00:00+00:00", "2027-02-19T00:00:00+00:00"]),
    ("0 0 L * *", ["2026-12-31T00:00:00+00:00", "2027-01-31T00:00:00+00:00", "2027-02-28T00:00:00+00:00"]),
    ("0 0 LW * *", ["2026-12-31T00:00:00+00:00", "2027-01-29T00:00:00+00:00", "2027-02-26T00:00:00+00:00"]),
    ("0 0 15W * *", ["2026-12-15T00:00:00+00:00", "2027-01-15T00:00:00+00:00", "2027-02-15T00:00:00+00:00"]),
    ("0 0 ? * 0-6/2", ["2026-12-05T00:00:00+00:00", "2026-12-06T00:00:00+00:00", "2026-12-08T00:00:00+00:00"]),
    ("0 0 * * 7", ["2026-12-06T00:00:00+00:00", "2026-12-13T00:00:00+00:00", "2026-12-20T00:00:00+00:00"]),
    ("30 12 1 1 * 2030", ["2030-01-01T12:30:00+00:00"]),
])
def test_firing_times(expression: str, expected: list[str]) -> None:
    assert fires(expression) == expected


def test_fields_are_evaluated_in_the_schedules_time_zone() -> None:
    assert fires("0 0 1 1 *", 2, "Europe/Berlin") == ["2026-12-31T23:00:00+00:00", "2027-12-31T23:00:00+00:00"]


def test_a_date_that_never_comes_has_no_firing_and_is_found_quickly() -> None:
    started = time.monotonic()
    for expression in ("0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "0 0 * * * 2020"):
        assert cron.parse(expression, cron.Dialect.METRONOME).next_fire(AFTER) is None, expression
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(("expression", "message"), [
    ("* * * *", "5 fields"),
    ("* * * * * * *", "5 fields"),
    ("@daily", "nicknames"),
    ("61 * * * *", "minutes: 61 is out of range"),
    ("0 24 * * *", "hours: 24"),
    ("0 0 32 * *", "day-of-month: 32"),
    ("0 0 * 13 *", "month"),
    ("0 0 * * 8", "day-of-week: 8"),
    ("0 0 * * 5#6", "week number"),
    ("0 0 * * L", "day-of-week"),
    ("0 0 5#2 * *", "day-of-month"),
    ("0 0 5-1 * *", "backwards"),
    ("? * * * *", "'?'"),
    ("0 0 * * * 1900", "year"),
])
def test_malformed_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(cron.CronError, match=message):
        cron.parse(expression, cron.Dialect.METRONOME)
