"""ISO 8601 repeating intervals R[n]/start/period: literal expected firings.

DST facts (from the tz database): America/New_York springs forward on 2026-03-08 at 07:00Z (EST -5 ->
EDT -4); Europe/Berlin falls back on 2026-10-25 at 01:00Z (CEST +2 -> CET +1). 2028 is a leap year.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from elasticjob.cron import CronError, Dialect, fire_times, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


FIRINGS = [
    # (expression, zone, after, limit, expected): fewer than `limit` results means the count ran out.
    ("R5/2026-01-01T00:00:00Z/PT1H", "UTC", "2025-12-31T00:00:00Z", 10,
     ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z",
      "2026-01-01T04:00:00Z"]),
    # The start counts as the first repetition, so only four are strictly after it.
    ("R5/2026-01-01T00:00:00Z/PT1H", "UTC", "2026-01-01T00:00:00Z", 10,
     ["2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z"]),
    ("R1/2026-01-01T00:00:00Z/P1D", "UTC", "2025-01-01T00:00:00Z", 3, ["2026-01-01T00:00:00Z"]),
    ("R3/2026-01-01T00:00:00Z/PT90M", "UTC", "2026-01-01T01:00:00Z", 5,
     ["2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"]),
    # Unbounded, queried far from the start.
    ("R/2026-01-01T00:00:00Z/PT1H", "UTC", "2050-06-15T10:30:00Z", 2,
     ["2050-06-15T11:00:00Z", "2050-06-15T12:00:00Z"]),
    ("R/2026-01-01T00:00:00Z/PT1H", "UTC", "2050-06-15T11:00:00Z", 1, ["2050-06-15T12:00:00Z"]),
    # Offsets: Z, +hh:mm, +hhmm, -hh.
    ("R3/2026-01-01T09:00:00+05:30/PT30M", "UTC", "2025-01-01T00:00:00Z", 3,
     ["2026-01-01T03:30:00Z", "2026-01-01T04:00:00Z", "2026-01-01T04:30:00Z"]),
    ("R2/2026-01-01T09:00:00+0530/PT30M", "UTC", "2025-01-01T00:00:00Z", 2,
     ["2026-01-01T03:30:00Z", "2026-01-01T04:00:00Z"]),
    ("R2/2026-01-01T09:00:00-08/PT30M", "UTC", "2025-01-01T00:00:00Z", 2,
     ["2026-01-01T17:00:00Z", "2026-01-01T17:30:00Z"]),
    # An explicit offset wins over the schedule's zone for the start instant.
    ("R2/2026-01-01T09:00:00Z/PT1H", "Asia/Tokyo", "2025-01-01T00:00:00Z", 2,
     ["2026-01-01T09:00:00Z", "2026-01-01T10:00:00Z"]),
    # No offset: the start is a wall time in the schedule's zone.
    ("R2/2026-01-01T09:00:00/PT1H", "Europe/Berlin", "2025-01-01T00:00:00Z", 2,
     ["2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z"]),
    ("R2/2026-07-01T09:00/PT1H", "America/New_York", "2025-01-01T00:00:00Z", 2,
     ["2026-07-01T13:00:00Z", "2026-07-01T14:00:00Z"]),
    ("R2/2026-01-01T00:00:00.5Z/PT1S", "UTC", "2025-01-01T00:00:00Z", 2,
     ["2026-01-01T00:00:00.500000Z", "2026-01-01T00:00:01.500000Z"]),
    # Calendar periods.
    ("R/2026-01-01T00:00:00Z/P1W", "UTC", "2026-01-01T00:00:00Z", 2,
     ["2026-01-08T00:00:00Z", "2026-01-15T00:00:00Z"]),
    ("R/2026-01-31T09:00:00Z/P1M", "UTC", "2026-01-01T00:00:00Z", 4,
     ["2026-01-31T09:00:00Z", "2026-02-28T09:00:00Z", "2026-03-31T09:00:00Z", "2026-04-30T09:00:00Z"]),
    ("R/2026-01-31T09:00:00Z/P1M", "UTC", "2090-05-05T00:00:00Z", 1, ["2090-05-31T09:00:00Z"]),
    ("R/2028-02-29T00:00:00Z/P1Y", "UTC", "2028-02-29T00:00:00Z", 4,
     ["2029-02-28T00:00:00Z", "2030-02-28T00:00:00Z", "2031-02-28T00:00:00Z", "2032-02-29T00:00:00Z"]),
    ("R/2026-01-01T00:00:00Z/P1DT12H", "UTC", "2026-01-01T00:00:00Z", 2,
     ["2026-01-02T12:00:00Z", "2026-01-04T00:00:00Z"]),
    ("R/2026-01-01T00:00:00Z/P1Y2M10DT2H30M15S", "UTC", "2026-01-01T00:00:00Z", 1,
     ["2027-03-11T02:30:15Z"]),
    # P1D keeps the wall-clock time across DST; PT24H keeps the absolute spacing.
    ("R/2026-03-07T09:00:00/P1D", "America/New_York", "2026-03-01T00:00:00Z", 3,
     ["2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"]),
    ("R/2026-03-07T09:00:00/PT24H", "America/New_York", "2026-03-01T00:00:00Z", 3,
     ["2026-03-07T14:00:00Z", "2026-03-08T14:00:00Z", "2026-03-09T14:00:00Z"]),
    ("R/2026-10-24T09:00:00/P1D", "Europe/Berlin", "2026-10-01T00:00:00Z", 3,
     ["2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z"]),
    # A local start inside the spring-forward gap begins at the first real instant after the gap.
    ("R2/2026-03-08T02:30:00/PT1H", "America/New_York", "2026-03-01T00:00:00Z", 5,
     ["2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]),
    # Lower case is accepted.
    ("r2/2026-01-01t00:00:00z/pt1h", "UTC", "2025-01-01T00:00:00Z", 5,
     ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"]),
]


@pytest.mark.parametrize(("expression", "zone", "after", "limit", "expected"), FIRINGS)
def test_firings(expression: str, zone: str, after: str, limit: int, expected: list[str]) -> None:
    schedule = parse(expression, Dialect.ISO8601, zone)
    assert fire_times(schedule, at(after), limit) == [at(text) for text in expected]


@pytest.mark.parametrize(
    ("expression", "after"),
    [
        ("R5/2026-01-01T00:00:00Z/PT1H", "2026-01-01T04:00:00Z"),  # the 5th and last firing
        ("R5/2026-01-01T00:00:00Z/PT1H", "2030-01-01T00:00:00Z"),
        ("R1/2026-01-01T00:00:00Z/P1D", "2026-01-01T00:00:00Z"),
        ("R/2026-01-01T00:00:00Z/P1Y", "9999-06-01T00:00:00Z"),  # beyond datetime's range
        ("R/2026-01-01T00:00:00Z/PT1S", "9999-12-31T23:59:59Z"),
    ],
)
def test_exhausted(expression: str, after: str) -> None:
    assert parse(expression, Dialect.ISO8601).next_fire(at(after)) is None


def test_after_in_another_zone() -> None:
    schedule = parse("R/2026-01-01T00:00:00Z/PT1H", Dialect.ISO8601)
    after = datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))  # = 00:00Z, the start
    fired = schedule.next_fire(after)
    assert fired == at("2026-01-01T01:00:00Z")
    assert fired is not None and fired.tzinfo is UTC


ERRORS = [
    ("R5/2026-01-01T00:00:00Z", "R[n]/start/period"),
    ("R5/2026-01-01T00:00:00Z/PT1H/x", "R[n]/start/period"),
    ("2026-01-01T00:00:00Z/PT1H", "R[n]/start/period"),
    ("X5/2026-01-01T00:00:00Z/PT1H", "repetitions: 'X5' is not valid"),
    ("R-1/2026-01-01T00:00:00Z/PT1H", "repetitions: 'R-1' is not valid"),
    ("R0/2026-01-01T00:00:00Z/PT1H", "R0 would never fire"),
    ("R5/2026-13-01T00:00:00Z/PT1H", "start: '2026-13-01T00:00:00Z' is not a real date-time"),
    ("R5/2026-02-30T00:00:00Z/PT1H", "is not a real date-time"),
    ("R5/2026-01-01T25:00:00Z/PT1H", "is not a real date-time"),
    ("R5/2026-01-01/PT1H", "start: '2026-01-01' is not valid"),
    ("R5/tomorrow/PT1H", "start: 'tomorrow' is not valid"),
    ("R5/2026-01-01T00:00:00+25:00/PT1H", "the UTC offset '+25:00'"),
    ("R5/2026-01-01T00:00:00Z/P", "period: 'P' is not valid"),
    ("R5/2026-01-01T00:00:00Z/PT", "period: 'PT' is not valid"),
    ("R5/2026-01-01T00:00:00Z/P1DT", "period: 'P1DT' is not valid"),
    ("R5/2026-01-01T00:00:00Z/P0D", "period: 'P0D' is zero"),
    ("R5/2026-01-01T00:00:00Z/PT0H0M0S", "is zero"),
    ("R5/2026-01-01T00:00:00Z/1D", "period: '1D' is not valid"),
    ("R5/2026-01-01T00:00:00Z/P1.5D", "period: 'P1.5D' is not valid"),
    ("R5/2026-01-01T00:00:00Z/P-1D", "period: 'P-1D' is not valid"),
    ("R5/2026-01-01T00:00:00Z/P1H", "period: 'P1H' is not valid"),
    ("R5/2026-01-01T00:00:00Z/PT1D", "period: 'PT1D' is not valid"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression, Dialect.ISO8601)
    assert message in caught.value.message
