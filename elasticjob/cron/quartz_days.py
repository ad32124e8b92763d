"""Quartz day-of-month and day-of-week fields, including the special tokens L, W and #.

Quartz numbers days of week 1=SUN, 2=MON ... 7=SAT (unlike Unix cron and Python). Supported forms:

day-of-month: ``?``, the generic field syntax (``*``, ``1,15``, ``1-10``, ``1/5``), ``L`` (last day),
``L-n`` (n days before the last day), ``nW`` (weekday nearest day n), ``LW`` (last weekday).

day-of-week: ``?``, the generic field syntax with names (``MON-FRI``), ``L`` alone (= 7, Saturday),
``nL`` (last weekday n of the month, e.g. ``6L`` / ``FRIL`` = last Friday), ``n#k`` (k-th weekday n,
e.g. ``6#3`` = third Friday; k is 1-5 and a month without a k-th one simply doesn't fire).

Decisions where the Quartz docs are silent (Quartz's own code rolls into the next month here):
``nW`` does not fire in a month that has no day n (``31W`` skips April), and ``L-n`` does not fire in a
month shorter than n+1 days. Special tokens stand alone: they cannot be part of a list, range or step.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from elasticjob.cron.errors import CronError
from elasticjob.cron.fields import FieldSpec, parse_field, whole_number
from elasticjob.cron.wallclock import DayRule

DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31, wrap_ranges=True)
DAY_OF_WEEK = FieldSpec(
    "day-of-week",
    1,
    7,
    names={"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7},
    wrap_ranges=True,
    range_note=" (Quartz numbers days 1=SUN..7=SAT)",
)

_SATURDAY, _SUNDAY = 5, 6  # Python's date.weekday() numbering (0=Monday)
_MAX_LAST_DAY_OFFSET = 30
_MAX_NTH = 5
_WEEKDAY = r"([0-9]+|[A-Z]{3})"  # a Quartz day number or three-letter name


def quartz_weekday(day: date) -> int:
    """The Quartz day-of-week number of ``day`` (1=SUN..7=SAT)."""
    return (day.weekday() + 1) % 7 + 1


def _month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


@dataclass(frozen=True)
class DaysOfMonth:
    """Plain day numbers, e.g. ``1,15`` or ``*``."""

    days: frozenset[int]

    def matches(self, day: date) -> bool:
        return day.day in self.days


@dataclass(frozen=True)
class LastDayOfMonth:
    """``L`` (offset 0) or ``L-n``: the day ``offset`` days before the month's last day."""

    offset: int = 0

    def matches(self, day: date) -> bool:
        return day.day == _month_length(day) - self.offset


@dataclass(frozen=True)
class NearestWeekday:
    """``nW``: the Monday-Friday nearest to day n, never leaving the month.

    A Saturday moves back to Friday unless it is the 1st (then forward to Monday the 3rd); a Sunday
    moves forward to Monday unless it is the last day (then back to Friday).
    """

    day_of_month: int

    def matches(self, day: date) -> bool:
        length = _month_length(day)
        if self.day_of_month > length:
            return False
        target = self.day_of_month
        weekday = day.replace(day=target).weekday()
        if weekday == _SATURDAY:
            target = target + 2 if target == 1 else target - 1
        elif weekday == _SUNDAY:
            target = target - 2 if target == length else target + 1
        return day.day == target


@dataclass(frozen=True)
class LastWeekdayOfMonth:
    """``LW``: the month's last Monday-Friday."""

    def matches(self, day: date) -> bool:
        last = day.replace(day=_month_length(day))
        shift = {_SATURDAY: 1, _SUNDAY: 2}.get(last.weekday(), 0)
        return day.day == last.day - shift


@dataclass(frozen=True)
class Weekdays:
    """Plain Quartz weekday numbers, e.g. ``2-6`` or ``MON,WED``."""

    weekdays: frozenset[int]

    def matches(self, day: date) -> bool:
        return quartz_weekday(day) in self.weekdays


@dataclass(frozen=True)
class LastWeekdayInMonth:
    """``nL``: the last occurrence of Quartz weekday n in the month."""

    weekday: int

    def matches(self, day: date) -> bool:
        return quartz_weekday(day) == self.weekday and day.day + 7 > _month_length(day)


@dataclass(frozen=True)
class NthWeekdayInMonth:
    """``n#k``: the k-th occurrence of Quartz weekday n in the month."""

    weekday: int
    nth: int

    def matches(self, day: date) -> bool:
        return quartz_weekday(day) == self.weekday and (day.day - 1) // 7 + 1 == self.nth


def parse_day_of_month(text: str) -> DayRule | None:
    """Parse the day-of-month field; ``None`` means ``?`` (no specific value)."""
    if text == "?":
        return None
    upper = text.upper()
    if "#" in upper:
        raise CronError(f"day-of-month: {text!r} is not valid; 'n#k' (k-th weekday) belongs in day-of-week")
    if "L" not in upper and "W" not in upper:
        return DaysOfMonth(parse_field(text, DAY_OF_MONTH))
    if upper == "L":
        return LastDayOfMonth()
    if upper == "LW":
        return LastWeekdayOfMonth()
    if match := re.fullmatch(r"L-([0-9]+)", upper):
        offset = whole_number(match[1], "day-of-month")
        if offset > _MAX_LAST_DAY_OFFSET:
            raise CronError(f"day-of-month: the offset in {text!r} must be 0-{_MAX_LAST_DAY_OFFSET}")
        return LastDayOfMonth(offset)
    if match := re.fullmatch(r"([0-9]+)W", upper):
        return NearestWeekday(DAY_OF_MONTH.check(whole_number(match[1], "day-of-month")))
    if re.fullmatch(_WEEKDAY + "L", upper):
        raise CronError(
            f"day-of-month: {text!r} is not valid here; 'nL' (last given weekday of the month) belongs "
            "in day-of-week; use 'L' or 'L-n' for the last days of the month"
        )
    if "W" in upper and re.search(r"[-,/*]", upper):
        raise CronError(f"day-of-month: 'W' takes a single day such as 15W, not a range or list: {text!r}")
    if "L" in upper and re.search(r"[,/*]", upper):
        raise CronError(f"day-of-month: 'L' must stand alone (L, L-n or LW), not in a list: {text!r}")
    raise CronError(f"day-of-month: {text!r} is not valid (expected a day 1-31, L, L-n, nW or LW)")


def parse_day_of_week(text: str) -> DayRule | None:
    """Parse the day-of-week field; ``None`` means ``?`` (no specific value)."""
    if text == "?":
        return None
    upper = text.upper()
    if upper == "L":
        return Weekdays(frozenset({7}))  # Quartz: a lone L in day-of-week is 7, Saturday
    if "#" in upper:
        match = re.fullmatch(_WEEKDAY + r"#([0-9]+)", upper)
        if match is None:
            raise CronError(
                f"day-of-week: {text!r} is not valid; '#' takes one weekday and a week number, "
                "e.g. 6#3 (third Friday)"
            )
        nth = whole_number(match[2], "day-of-week")
        if not 1 <= nth <= _MAX_NTH:
            raise CronError(f"day-of-week: the week number in {text!r} must be 1-{_MAX_NTH}")
        return NthWeekdayInMonth(DAY_OF_WEEK.value_of(match[1], text), nth)
    if upper.endswith("L"):
        match = re.fullmatch(_WEEKDAY + "L", upper)
        if match is None:
            raise CronError(
                f"day-of-week: {text!r} is not valid; 'L' takes one weekday, e.g. 6L (last Friday)"
            )
        return LastWeekdayInMonth(DAY_OF_WEEK.value_of(match[1], text))
    if re.search(r"[0-9]W|LW|L-", upper):
        raise CronError(f"day-of-week: {text!r} is not valid; 'W' and 'L-n' belong in day-of-month")
    return Weekdays(parse_field(text, DAY_OF_WEEK))
