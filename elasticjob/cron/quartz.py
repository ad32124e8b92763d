"""The Quartz cron dialect (Elastic-Job's native one).

``seconds minutes hours day-of-month month day-of-week [year]`` - 6 or 7 whitespace-separated fields,
case-insensitive. Days of week are numbered 1=SUN..7=SAT. Exactly one of day-of-month and day-of-week
must be ``?``. See :mod:`elasticjob.cron.fields` for the generic item syntax and
:mod:`elasticjob.cron.quartz_days` for ``L``, ``W`` and ``#``.

Decisions worth knowing:

* Backwards ranges wrap around like Quartz does (hours ``22-2`` = 22, 23, 0, 1, 2), except in the year.
* The search ends after 2099 (Quartz's last year) - with or without a year field - so a schedule whose
  remaining firings would all be later returns ``None``.
* Quartz's leading-slash shorthand (``/5`` for ``0/5``) is not accepted; write ``0/5`` or ``*/5``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from elasticjob.cron.errors import CronError
from elasticjob.cron.fields import MONTH_NAMES, FieldSpec, parse_field
from elasticjob.cron.quartz_days import parse_day_of_month, parse_day_of_week
from elasticjob.cron.wallclock import WallClockPattern, WallClockSchedule

MAX_YEAR = 2099
SECONDS = FieldSpec("seconds", 0, 59, wrap_ranges=True)
MINUTES = FieldSpec("minutes", 0, 59, wrap_ranges=True)
HOURS = FieldSpec("hours", 0, 23, wrap_ranges=True)
MONTH = FieldSpec("month", 1, 12, names=MONTH_NAMES, wrap_ranges=True)
YEAR = FieldSpec("year", 1970, MAX_YEAR)

_FIELD_NAMES = ("seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_DAY_FIELDS = ("day-of-month", "day-of-week")


def parse_quartz(expression: str, time_zone: ZoneInfo) -> WallClockSchedule:
    """Parse a Quartz expression evaluated in ``time_zone``; raises :class:`CronError`."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise CronError(
            f"a Quartz expression has 6 or 7 fields (seconds minutes hours day-of-month month "
            f"day-of-week [year]), got {len(fields)} in {expression!r}"
        )
    for name, text in zip(_FIELD_NAMES, fields, strict=False):
        if "?" not in text:
            continue
        if name not in _DAY_FIELDS:
            raise CronError(f"{name}: '?' is only allowed in day-of-month or day-of-week")
        if text != "?":
            raise CronError(f"{name}: '?' must stand alone, got {text!r}")

    seconds = parse_field(fields[0], SECONDS)
    minutes = parse_field(fields[1], MINUTES)
    hours = parse_field(fields[2], HOURS)
    by_month_day = parse_day_of_month(fields[3])
    months = parse_field(fields[4], MONTH)
    by_week_day = parse_day_of_week(fields[5])
    years = parse_field(fields[6], YEAR) if len(fields) == 7 else None

    if by_month_day is not None and by_week_day is not None:
        raise CronError(
            f"day-of-month {fields[3]!r} and day-of-week {fields[5]!r} are both specified; Quartz needs "
            "'?' in one of them (e.g. '0 0 12 ? * MON' or '0 0 12 1 * ?')"
        )
    day_rule = by_month_day or by_week_day
    if day_rule is None:
        raise CronError(
            "day-of-month and day-of-week are both '?'; give days in one of them ('*' means every day)"
        )
    pattern = WallClockPattern(
        seconds=tuple(sorted(seconds)),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        months=months,
        day_rule=day_rule,
        years=years,
        max_year=MAX_YEAR,
    )
    return WallClockSchedule(expression=expression, time_zone=time_zone, pattern=pattern)
