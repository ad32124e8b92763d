"""The classic 5-field Unix (Vixie) cron dialect.

``minute hour day-of-month month day-of-week``; seconds are always 0. Days of week are 0-7 with both 0
and 7 meaning Sunday, names SUN-SAT. Nicknames: @yearly @annually @monthly @weekly @daily @midnight
@hourly (``@reboot`` has no firing times and is rejected).

Vixie's day rule: when both day fields are restricted - neither starts with ``*`` - a day fires if it
matches *either* of them (``0 0 13 * 5`` fires on every 13th and every Friday). Otherwise both must
match, which reduces to the restricted one. Unlike Quartz, backwards ranges are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from elasticjob.cron.errors import CronError
from elasticjob.cron.fields import MONTH_NAMES, FieldSpec, parse_field
from elasticjob.cron.wallclock import WallClockPattern, WallClockSchedule

MINUTES = FieldSpec("minutes", 0, 59)
HOURS = FieldSpec("hours", 0, 23)
DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31)
MONTH = FieldSpec("month", 1, 12, names=MONTH_NAMES)
DAY_OF_WEEK = FieldSpec(
    "day-of-week",
    0,
    7,
    names={"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6},
    range_note=" (0 and 7 are Sunday)",
)

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class UnixDays:
    """Day-of-month and day-of-week sets (0=Sunday) combined with OR (``either``) or AND."""

    days_of_month: frozenset[int]
    weekdays: frozenset[int]
    either: bool

    def matches(self, day: date) -> bool:
        by_month_day = day.day in self.days_of_month
        by_week_day = (day.weekday() + 1) % 7 in self.weekdays
        return by_month_day or by_week_day if self.either else by_month_day and by_week_day


def parse_unix(expression: str, time_zone: ZoneInfo) -> WallClockSchedule:
    """Parse a Unix cron expression or nickname evaluated in ``time_zone``; raises :class:`CronError`."""
    fields = _expand_nickname(expression).split()
    if len(fields) != 5:
        raise CronError(
            f"a Unix cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)} in {expression!r}"
        )
    for name, text in zip(("minutes", "hours", "day-of-month", "month", "day-of-week"), fields, strict=True):
        if "?" in text:
            raise CronError(f"{name}: '?' is Quartz syntax; Unix cron uses '*'")
    minutes = parse_field(fields[0], MINUTES)
    hours = parse_field(fields[1], HOURS)
    days_of_month = parse_field(fields[2], DAY_OF_MONTH)
    months = parse_field(fields[3], MONTH)
    weekdays = frozenset(value % 7 for value in parse_field(fields[4], DAY_OF_WEEK))  # 7 is Sunday too
    days = UnixDays(
        days_of_month=days_of_month,
        weekdays=weekdays,
        either=not fields[2].startswith("*") and not fields[4].startswith("*"),
    )
    pattern = WallClockPattern(
        seconds=(0,),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        months=months,
        day_rule=days,
    )
    return WallClockSchedule(expression=expression, time_zone=time_zone, pattern=pattern)


def _expand_nickname(expression: str) -> str:
    if not expression.startswith("@"):
        return expression
    lowered = expression.lower()
    if lowered == "@reboot":
        raise CronError("'@reboot' has no firing times and is not supported")
    if lowered not in NICKNAMES:
        raise CronError(f"unknown nickname {expression!r} (expected one of {', '.join(NICKNAMES)})")
    return NICKNAMES[lowered]
