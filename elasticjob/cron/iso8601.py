"""ISO 8601 repeating intervals: ``R[n]/start/period``.

* ``R5/2026-01-01T00:00:00Z/PT1H`` fires 5 times; the start instant is the first firing. ``R/...`` (no
  count) never ends. ``R0`` is rejected because it could never fire.
* ``start`` is ``YYYY-MM-DDThh:mm[:ss[.ffffff]]`` followed by ``Z``, ``+hh:mm``/``+hhmm``/``+hh``, or
  nothing - then it is a wall time in the schedule's time zone (DST policy as in
  :mod:`elasticjob.cron.zones`).
* ``period`` is ``P[nY][nM][nW][nD][T[nH][nM][nS]]`` with whole numbers; empty and all-zero periods are
  rejected. Other ISO forms (``start/end``, ``period/end``, fractions) are not supported.

Arithmetic: the n-th firing is ``start + n * period``. The calendar part (years, months, weeks, days)
is added to the start's *wall time in the schedule's zone*, so ``P1D`` keeps 09:00 local across DST; the
clock part (hours, minutes, seconds) is added in absolute time, so ``PT24H`` is always 86 400 s. Month
arithmetic counts from the start and clamps to the month's end (Jan 31 + P1M = Feb 28, + P2M = Mar 31).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from elasticjob.cron import zones
from elasticjob.cron.errors import CronError
from elasticjob.cron.fields import whole_number

_REPEAT = re.compile(r"R([0-9]*)")
_START = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,6}))?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_PERIOD = re.compile(
    r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)W)?(?:([0-9]+)D)?"
    r"(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?"
)
_AVERAGE_MONTH = timedelta(days=365.2425 / 12)


@dataclass(frozen=True)
class Period:
    """A parsed ISO duration split into calendar (wall-time) and clock (absolute) parts."""

    months: int  # years folded in
    days: int  # weeks folded in
    clock: timedelta

    @property
    def is_calendar(self) -> bool:
        return self.months != 0 or self.days != 0

    def approximate(self) -> timedelta:
        """A rough length, only used to guess which repetition is near a given instant."""
        return self.months * _AVERAGE_MONTH + timedelta(days=self.days) + self.clock


@dataclass(frozen=True)
class RepeatingInterval:
    """A parsed ``R[n]/start/period`` schedule. Implements ``Schedule``.

    ``start`` is the first firing as a UTC instant; ``repetitions`` is ``None`` when unbounded.
    """

    expression: str
    time_zone: ZoneInfo
    start: datetime
    period: Period
    repetitions: int | None

    def next_fire(self, after: datetime) -> datetime | None:
        """First firing strictly after ``after`` (aware), in UTC; ``None`` once repetitions run out."""
        after_utc = zones.to_utc(after)
        try:
            index = 0
            if after_utc >= self.start:
                # Jump close to the answer, then walk: the estimate is off by at most a few steps
                # because month lengths and DST shifts don't accumulate.
                index = int((after_utc - self.start) / self.period.approximate())
                while index > 0 and self.occurrence(index - 1) > after_utc:
                    index -= 1
                while self.occurrence(index) <= after_utc:
                    index += 1
        except (OverflowError, ValueError):
            return None  # the next repetition lies beyond datetime's range (year 9999)
        if self.repetitions is not None and index >= self.repetitions:
            return None
        return self.occurrence(index)

    def occurrence(self, index: int) -> datetime:
        """The ``index``-th firing (0 = start) as a UTC instant, ignoring the repetition count."""
        if index == 0:
            return self.start
        clock = self.period.clock * index
        if not self.period.is_calendar:
            return self.start + clock
        local_start = zones.local_wall_time(self.start, self.time_zone)
        wall = _add_months(local_start, self.period.months * index) + timedelta(days=self.period.days * index)
        return zones.wall_time_to_instant(wall, self.time_zone) + clock


def parse_iso8601(expression: str, time_zone: ZoneInfo) -> RepeatingInterval:
    """Parse ``R[n]/start/period`` evaluated in ``time_zone``; raises :class:`CronError`."""
    parts = expression.split("/")
    if len(parts) != 3:
        raise CronError(
            f"an ISO 8601 schedule has the form R[n]/start/period, e.g. R5/2026-01-01T00:00:00Z/PT1H; "
            f"got {expression!r}"
        )
    repeat_text, start_text, period_text = parts
    repeat = _REPEAT.fullmatch(repeat_text.upper())
    if repeat is None:
        raise CronError(f"repetitions: {repeat_text!r} is not valid (expected R or Rn, e.g. R5)")
    repetitions = whole_number(repeat[1], "repetitions") if repeat[1] else None
    if repetitions == 0:
        raise CronError("repetitions: R0 would never fire; use R1 or more, or R for unbounded")
    return RepeatingInterval(
        expression=expression,
        time_zone=time_zone,
        start=_parse_start(start_text, time_zone),
        period=_parse_period(period_text),
        repetitions=repetitions,
    )


def _parse_start(text: str, time_zone: ZoneInfo) -> datetime:
    match = _START.fullmatch(text.upper())
    if match is None:
        raise CronError(
            f"start: {text!r} is not valid (expected YYYY-MM-DDThh:mm:ss with optional Z or +hh:mm)"
        )
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    microsecond = int((match[7] or "0").ljust(6, "0"))
    try:
        wall = datetime(year, month, day, hour, minute, second, microsecond)
    except ValueError as error:
        raise CronError(f"start: {text!r} is not a real date-time ({error})") from None
    designator = match[8]
    if designator is None:
        return zones.wall_time_to_instant(wall, time_zone)
    return wall.replace(tzinfo=_offset(designator, text)).astimezone(UTC)


def _offset(designator: str, text: str) -> timezone:
    if designator == "Z":
        return UTC
    digits = designator[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise CronError(f"start: the UTC offset {designator!r} in {text!r} is out of range")
    sign = -1 if designator[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_period(text: str) -> Period:
    upper = text.upper()
    match = _PERIOD.fullmatch(upper)
    if match is None or upper in ("P", "PT") or upper.endswith("T"):
        raise CronError(
            f"period: {text!r} is not valid (expected P[nY][nM][nW][nD][T[nH][nM][nS]], e.g. PT1H or P1D)"
        )
    years, months, weeks, days, hours, minutes, seconds = (
        whole_number(group or "0", "period") for group in match.groups()
    )
    try:
        period = Period(
            months=years * 12 + months,
            days=weeks * 7 + days,
            clock=timedelta(hours=hours, minutes=minutes, seconds=seconds),
        )
        period.approximate()  # a period longer than datetime's whole range could never repeat
    except OverflowError:
        raise CronError(f"period: {text!r} is longer than any date range (years 1-9999)") from None
    if not period.is_calendar and period.clock == timedelta(0):
        raise CronError(f"period: {text!r} is zero; a repeating schedule needs a positive period")
    return period


def _add_months(wall: datetime, months: int) -> datetime:
    """``wall`` moved by whole months, clamping the day to the target month's length."""
    year, month_index = divmod(wall.month - 1 + months, 12)
    year += wall.year
    day = min(wall.day, calendar.monthrange(year, month_index + 1)[1])
    return wall.replace(year=year, month=month_index + 1, day=day)
