"""DC/OS Metronome's cron dialect: Unix fields, Quartz's special days, and both day fields must match.

``minute hour day-of-month month day-of-week [year]`` - 5 or 6 fields; seconds are always 0. Days of week
are numbered the Unix way, 0-7 with 0 and 7 meaning Sunday, names SUN-SAT. Metronome parses schedules
with cron-utils' Unix definition, whose rules differ from Vixie cron (``unix.py``) in three ways:

* day-of-month **and** day-of-week must both match when both are restricted (``0 0 13 * 5`` fires on
  Friday the 13th only); ``*`` or ``?`` in one of them leaves the other to decide;
* day-of-month takes ``L``, ``L-n``, ``nW`` and ``LW``; day-of-week takes ``nL`` (last weekday n of the
  month, ``5L`` = last Friday) and ``n#k`` (k-th weekday n, ``5#3`` = third Friday), n in Unix numbering;
* an optional sixth field names years (1970-2099).

Backwards ranges and nicknames (``@daily``) are rejected. A schedule that can never fire
(``0 0 31 2 *``) yields ``None`` from ``next_fire`` quickly (see ``wallclock``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from elasticjob.cron.errors import CronError
from elasticjob.cron.fields import parse_field, whole_number
from elasticjob.cron.quartz import MAX_YEAR, YEAR
from elasticjob.cron.quartz_days import (
    DaysOfMonth,
    LastWeekdayInMonth,
    NthWeekdayInMonth,
    Weekdays,
    parse_day_of_month,
)
from elasticjob.cron.unix import DAY_OF_MONTH, DAY_OF_WEEK, HOURS, MINUTES, MONTH
from elasticjob.cron.wallclock import DayRule, WallClockPattern, WallClockSchedule

_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_MAX_NTH = 5


@dataclass(frozen=True)
class BothDays:
    """Day-of-month and day-of-week, both restricted: a day must match both."""

    by_month_day: DayRule
    by_week_day: DayRule

    def matches(self, day: date) -> bool:
        return self.by_month_day.matches(day) and self.by_week_day.matches(day)


def _quartz_weekday(unix: int) -> int:
    return unix % 7 + 1  # Unix 0/7=SUN..6=SAT -> Quartz 1=SUN..7=SAT


def _day_of_week(text: str) -> DayRule | None:
    if text in ("*", "?"):
        return None
    upper = text.upper()
    if match := re.fullmatch(r"([0-9]+|[A-Z]{3})#([0-9]+)", upper):
        nth = whole_number(match[2], "day-of-week")
        if not 1 <= nth <= _MAX_NTH:
            raise CronError(f"day-of-week: the week number in {text!r} must be 1-{_MAX_NTH}")
        return NthWeekdayInMonth(_quartz_weekday(DAY_OF_WEEK.value_of(match[1], text)), nth)
    if match := re.fullmatch(r"([0-9]+|[A-Z]{3})L", upper):
        return LastWeekdayInMonth(_quartz_weekday(DAY_OF_WEEK.value_of(match[1], text)))
    if "#" in upper or "L" in upper or "W" in upper.replace("WED", ""):
        raise CronError(f"day-of-week: {text!r} is not valid (expected days 0-7 or SUN-SAT, nL or n#k)")
    return Weekdays(frozenset(_quartz_weekday(v) for v in parse_field(text, DAY_OF_WEEK)))


def _day_of_month(text: str) -> DayRule | None:
    if text in ("*", "?"):
        return None
    upper = text.upper()
    if "L" in upper or "W" in upper or "#" in upper:
        return parse_day_of_month(upper)
    return DaysOfMonth(parse_field(text, DAY_OF_MONTH))


def parse_metronome(expression: str, time_zone: ZoneInfo) -> WallClockSchedule:
    """Parse a Metronome cron expression evaluated in ``time_zone``; raises :class:`CronError`."""
    if expression.startswith("@"):
        raise CronError(f"{expression!r}: nicknames are not part of Metronome's cron; write the 5 fields")
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise CronError(
            f"a Metronome cron expression has 5 fields (minute hour day-of-month month day-of-week) and an "
            f"optional year, got {len(fields)} in {expression!r}"
        )
    for name, text in zip(_FIELDS, fields, strict=False):
        if "?" in text and (name not in ("day-of-month", "day-of-week") or text != "?"):
            raise CronError(f"{name}: '?' stands alone, in day-of-month or day-of-week only")
    by_month_day = _day_of_month(fields[2])
    by_week_day = _day_of_week(fields[4])
    if by_month_day is not None and by_week_day is not None:
        days: DayRule = BothDays(by_month_day, by_week_day)
    else:
        days = by_month_day or by_week_day or Weekdays(frozenset(range(1, 8)))
    pattern = WallClockPattern(
        seconds=(0,),
        minutes=tuple(sorted(parse_field(fields[0], MINUTES))),
        hours=tuple(sorted(parse_field(fields[1], HOURS))),
        months=parse_field(fields[3], MONTH),
        day_rule=days,
        years=parse_field(fields[5], YEAR) if len(fields) == 6 else None,
        max_year=MAX_YEAR,
    )
    return WallClockSchedule(expression=expression, time_zone=time_zone, pattern=pattern)
