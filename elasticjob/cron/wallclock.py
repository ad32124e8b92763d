"""Field-based schedules (Quartz and Unix) evaluated in local wall time.

A :class:`WallClockPattern` is the dialect-neutral result of parsing: sets of seconds, minutes, hours,
months and years plus a :class:`DayRule` deciding which calendar days match. :class:`WallClockSchedule`
turns the pattern into UTC firing instants through :mod:`elasticjob.cron.zones` (see its docstring for
the DST gap/overlap policy).

Why the search is fast and always terminates: it walks months and days (never seconds), jumps to the
first matching time of day inside a matching day, and remembers which *kinds* of year produced no match.
Whether a day matches depends only on its month, day of month and weekday, and a year's calendar is
fully determined by (leap year?, weekday of 1 January) - only 14 kinds. Once a kind of year has been
scanned in full without a hit it is never scanned again, so an expression that can never fire (say
``0 0 0 30 2 ?``) is recognised after at most 14 year scans and yields ``None``.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from elasticjob.cron import zones

_ONE_SECOND = timedelta(seconds=1)


class DayRule(Protocol):
    """Decides whether a calendar day can fire.

    Implementations must depend only on the month, the day of month, the weekday and the length of
    the month (true for every cron day syntax); :class:`WallClockPattern` relies on that to skip
    whole years.
    """

    def matches(self, day: date) -> bool: ...


@dataclass(frozen=True)
class WallClockPattern:
    """The local wall times a field expression matches.

    ``seconds``/``minutes``/``hours`` are sorted, non-empty tuples. ``years`` is ``None`` for "any
    year"; ``max_year`` bounds the search (Quartz: 2099; Unix: the datetime limit).
    """

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    day_rule: DayRule
    years: frozenset[int] | None = None
    max_year: int = 9999

    def first_match_from(self, lower: datetime) -> datetime | None:
        """Earliest matching naive wall time ``>= lower`` (``lower`` is naive, whole seconds)."""
        empty_year_kinds: set[tuple[bool, int]] = set()
        year = lower.year
        day, clock = lower.date(), lower.time()
        while year <= self.max_year:
            if self.years is None or year in self.years:
                kind = (calendar.isleap(year), date(year, 1, 1).weekday())
                whole_year = day == date(year, 1, 1) and clock == time.min
                if not (whole_year and kind in empty_year_kinds):
                    found = self._first_in_year(day, clock)
                    if found is not None:
                        return found
                    if whole_year:
                        empty_year_kinds.add(kind)
                        if len(empty_year_kinds) == 14:
                            return None  # every kind of year has been tried: it can never fire
            year += 1
            if year > self.max_year:
                break  # don't build 1 January of a year past the limit (date(10000, 1, 1) is invalid)
            day, clock = date(year, 1, 1), time.min
        return None

    def _first_in_year(self, start: date, clock: time) -> datetime | None:
        year = start.year
        for month in sorted(m for m in self.months if m >= start.month):
            first_day = start.day if month == start.month else 1
            for day_number in range(first_day, calendar.monthrange(year, month)[1] + 1):
                day = date(year, month, day_number)
                if not self.day_rule.matches(day):
                    continue
                found = self._first_time_from(clock if day == start else time.min)
                if found is not None:
                    return datetime.combine(day, found)
        return None

    def _first_time_from(self, lower: time) -> time | None:
        """Earliest matching time of day ``>= lower``, or ``None`` if the day has none left."""
        for hour in self.hours[bisect_left(self.hours, lower.hour) :]:
            if hour > lower.hour:
                return time(hour, self.minutes[0], self.seconds[0])
            for minute in self.minutes[bisect_left(self.minutes, lower.minute) :]:
                if minute > lower.minute:
                    return time(hour, minute, self.seconds[0])
                index = bisect_left(self.seconds, lower.second)
                if index < len(self.seconds):
                    return time(hour, minute, self.seconds[index])
        return None


@dataclass(frozen=True)
class WallClockSchedule:
    """A Quartz or Unix schedule: a pattern evaluated in ``time_zone``. Implements ``Schedule``."""

    expression: str
    time_zone: ZoneInfo
    pattern: WallClockPattern

    def next_fire(self, after: datetime) -> datetime | None:
        """First firing strictly after ``after`` (aware), in UTC; ``None`` if there is none."""
        after_utc = zones.to_utc(after)
        try:
            wall = zones.local_wall_time(after_utc, self.time_zone)
            # Whole-second wall times only: the first candidate is the next whole second after `after`.
            lower = wall.replace(microsecond=0) + _ONE_SECOND
            if zones.is_second_occurrence(after_utc, self.time_zone):
                # `after` lies in the repeated pass of a fall-back hour whose wall times already fired
                # on their first pass; resume once the wall clock is unambiguous again.
                lower = max(lower, zones.end_of_overlap(wall, self.time_zone))
            while True:
                candidate = self.pattern.first_match_from(lower)
                if candidate is None:
                    return None
                instant = zones.wall_time_to_instant(candidate, self.time_zone)
                if instant > after_utc:
                    return instant
                # Defensive: the mapping is monotone, so this only happens for odd historical zones.
                lower = candidate + _ONE_SECOND
        except OverflowError:
            return None  # ran past the end of datetime's range (year 9999)
