"""Time zones and DST for the field dialects (Quartz and Unix).

Transitions used (from the tz database, 2026):
* America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT (= 07:00Z) and falls back
  2026-11-01 02:00 EDT -> 01:00 EST (= 06:00Z), so 01:00-01:59 happens twice (05:xxZ and 06:xxZ).
* Europe/Berlin springs forward 2026-03-29 02:00 CET -> 03:00 CEST (= 01:00Z) and falls back
  2026-10-25 03:00 CEST -> 02:00 CET (= 01:00Z), so 02:00-02:59 happens twice (00:xxZ and 01:xxZ).

Policy: a gap wall time fires once at the first instant after the gap; a repeated wall time fires only
on its first occurrence.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import pytest

from elasticjob.cron import CronError, Dialect, fire_times, load_time_zone, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


NY = "America/New_York"
BERLIN = "Europe/Berlin"
Q = Dialect.QUARTZ
U = Dialect.UNIX

FIRINGS = [
    # --- New York, spring forward: 02:00-02:59 does not exist on 2026-03-08 ---
    (Q, "0 30 2 * * ?", NY, "2026-03-07T12:00:00Z",
     ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),  # 02:30 -> 03:00 EDT, then 02:30 EDT
    (U, "30 2 * * *", NY, "2026-03-07T12:00:00Z", ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
    # 02:00, 02:15, 02:30, 02:45 all collapse into one firing at 03:00 EDT.
    (Q, "0 0/15 2 * * ?", NY, "2026-03-08T06:00:00Z", ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"]),
    # ... and 03:00 itself is that same instant, so it does not fire a second time.
    (Q, "0 0,15,30 2,3 * * ?", NY, "2026-03-08T06:00:00Z",
     ["2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:00:00Z"]),
    (U, "0,15,30 2,3 * * *", NY, "2026-03-08T06:00:00Z",
     ["2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:00:00Z"]),
    (Q, "0 * * * * ?", NY, "2026-03-08T06:58:00Z",
     ["2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:01:00Z"]),
    # `after` exactly at the collapsed firing: nothing more until the next day.
    (Q, "0 30 2 * * ?", NY, "2026-03-08T07:00:00Z", ["2026-03-09T06:30:00Z"]),
    # Times outside the gap are unaffected: 01:30 EST and 03:30 EDT.
    (Q, "0 30 1,3 * * ?", NY, "2026-03-08T00:00:00Z", ["2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"]),
    # --- New York, fall back: 01:00-01:59 happens twice on 2026-11-01 ---
    (Q, "0 30 1 * * ?", NY, "2026-10-31T12:00:00Z",
     ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),  # first occurrence only (EDT), not 06:30Z
    (U, "30 1 * * *", NY, "2026-10-31T12:00:00Z", ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
    (Q, "0 0/30 * * * ?", NY, "2026-11-01T04:45:00Z",
     ["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z"]),
    # `after` inside the repeated hour (01:10 EST, second pass): the 01:xx wall times already fired.
    (Q, "0 * 1 * * ?", NY, "2026-11-01T06:10:00Z", ["2026-11-02T06:00:00Z"]),
    (Q, "0 0 2 * * ?", NY, "2026-11-01T06:10:00Z", ["2026-11-01T07:00:00Z"]),
    (U, "* * * * *", NY, "2026-11-01T05:58:30Z",
     ["2026-11-01T05:59:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:01:00Z"]),
    # --- Berlin, spring forward: 02:00-02:59 does not exist on 2026-03-29 ---
    (Q, "0 30 2 * * ?", BERLIN, "2026-03-28T12:00:00Z",
     ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),  # 03:00 CEST, then 02:30 CEST
    (U, "30 2 * * *", BERLIN, "2026-03-28T12:00:00Z", ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
    (Q, "0 0 2-3 * * ?", BERLIN, "2026-03-29T00:00:00Z", ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]),
    # --- Berlin, fall back: 02:00-02:59 happens twice on 2026-10-25 ---
    (Q, "0 30 2 * * ?", BERLIN, "2026-10-24T12:00:00Z",
     ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),  # 02:30 CEST only, then 02:30 CET
    (U, "30 2 * * *", BERLIN, "2026-10-24T12:00:00Z", ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
    (Q, "0 0 * * * ?", BERLIN, "2026-10-24T23:30:00Z",
     ["2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"]),  # 02:00 CEST, 03:00 CET
    (Q, "0 15 2 * * ?", BERLIN, "2026-10-25T01:00:00Z", ["2026-10-26T01:15:00Z"]),  # after in 2nd pass
    # --- ordinary days keep their local wall time across the seasons ---
    (Q, "0 0 9 ? * MON", BERLIN, "2026-03-20T00:00:00Z", ["2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z"]),
    (Q, "0 0 9 ? * MON", NY, "2026-10-26T00:00:00Z", ["2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z"]),
]


@pytest.mark.parametrize(("dialect", "expression", "zone", "after", "expected"), FIRINGS)
def test_dst_firings(dialect: Dialect, expression: str, zone: str, after: str, expected: list[str]) -> None:
    schedule = parse(expression, dialect, zone)
    assert fire_times(schedule, at(after), len(expected)) == [at(text) for text in expected]


def test_after_may_be_given_in_the_schedule_zone_during_the_second_pass() -> None:
    new_york = zoneinfo.ZoneInfo(NY)
    second_pass = datetime(2026, 11, 1, 1, 10, tzinfo=new_york, fold=1)  # 01:10 EST = 06:10Z
    first_pass = datetime(2026, 11, 1, 1, 10, tzinfo=new_york, fold=0)  # 01:10 EDT = 05:10Z
    schedule = parse("0 30 1 * * ?", Dialect.QUARTZ, NY)
    assert schedule.next_fire(first_pass) == at("2026-11-01T05:30:00Z")
    assert schedule.next_fire(second_pass) == at("2026-11-02T06:30:00Z")


def test_load_time_zone_known() -> None:
    assert load_time_zone(BERLIN) == zoneinfo.ZoneInfo(BERLIN)
    assert str(load_time_zone("UTC")) == "UTC"


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "America", "", "../etc/passwd", "/etc/localtime", "utc"]
)
def test_unknown_time_zone(name: str) -> None:
    with pytest.raises(CronError) as caught:
        load_time_zone(name)
    assert caught.value.message == f"unknown time zone {name!r}"


@pytest.mark.parametrize("dialect", list(Dialect))
def test_parse_rejects_unknown_time_zone(dialect: Dialect) -> None:
    with pytest.raises(CronError, match="unknown time zone 'Europe/Atlantis'"):
        parse("0 0 12 * * ?", dialect, "Europe/Atlantis")
