"""Time zones and the mapping from local wall-clock time to UTC instants.

Schedules are *evaluated* in local wall time but *identified* by UTC instants. Wall time is not a
one-to-one image of real time around DST transitions, so this module fixes one predictable policy:

* A wall time that does not exist (spring-forward gap, e.g. 02:30 on 2026-03-08 in America/New_York)
  maps to the first real instant after the gap, i.e. the transition instant (03:00 EDT = 07:00Z).
  Several gap wall times therefore collapse onto that single instant and fire once.
* A wall time that occurs twice (fall-back overlap, e.g. 01:30 on 2026-11-01 in America/New_York)
  maps to its first occurrence only (``fold=0``: 01:30 EDT = 05:30Z). The repeated hour does not fire
  again, not even for every-minute/every-second expressions.

Both rules are one rule: a wall time fires at the first instant at which the local clock reads that
time or later. That mapping is monotone non-decreasing, which is what lets the searchers scan wall
time in order and stop at the first candidate later than ``after``.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

from elasticjob.cron.errors import CronError

_ONE_SECOND = timedelta(seconds=1)


def load_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA zone ``name`` (case-sensitive, e.g. ``"Europe/Berlin"``).

    Raises ``CronError("unknown time zone 'X'")`` for any name the tz database does not know, including
    malformed keys and directory names such as ``"America"``.
    """
    try:
        return zoneinfo.ZoneInfo(name)
    # ZoneInfo signals a bad key in several ways: not found (KeyError subclass), malformed or absolute
    # path (ValueError), a directory or over-long name (OSError). To the user they all mean "unknown".
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name!r}") from None


def to_utc(moment: datetime) -> datetime:
    """Convert an aware datetime to UTC; raise ``ValueError`` for a naive one (its instant is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def local_wall_time(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The naive wall-clock reading of the aware ``moment`` in ``zone`` (fold dropped)."""
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def is_second_occurrence(moment: datetime, zone: zoneinfo.ZoneInfo) -> bool:
    """True when ``moment`` falls in the repeated pass of a fall-back overlap in ``zone``."""
    local = moment.astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def wall_time_to_instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """Map the naive local ``wall`` time to its firing instant in UTC under the module's DST policy."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    offset_first = first.utcoffset()
    offset_second = second.utcoffset()
    assert offset_first is not None and offset_second is not None  # ZoneInfo always yields an offset
    if offset_first >= offset_second:
        # Unambiguous (equal offsets) or an overlap (the clock went back): the first occurrence wins.
        return first.astimezone(UTC)
    # A gap: per PEP 495, fold=0 reads the wall time with the offset before the transition and fold=1
    # with the offset after it, so the transition instant lies between those two readings.
    return _transition_instant(zone, second.astimezone(UTC), first.astimezone(UTC))


def end_of_overlap(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """For an ambiguous naive ``wall`` time, the first naive wall time after the repeated interval.

    For a wall time that is not ambiguous, returns ``wall`` unchanged.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    offset_first = first.utcoffset()
    offset_second = second.utcoffset()
    assert offset_first is not None and offset_second is not None
    if offset_first <= offset_second:
        return wall  # unambiguous, or in a gap
    transition = _transition_instant(zone, first.astimezone(UTC), second.astimezone(UTC))
    # Just before the transition the clock read `transition + offset_first`; that reading is where the
    # repeated interval ends and wall time becomes unambiguous again.
    return (transition + offset_first).replace(tzinfo=None)


def _transition_instant(zone: zoneinfo.ZoneInfo, low: datetime, high: datetime) -> datetime:
    """First whole-second UTC instant in ``(low, high]`` whose offset equals the offset at ``high``.

    ``low`` must carry the offset in force before a transition and ``high`` the one after it, so the
    answer is the transition instant. Bisection keeps this at ~12 zone look-ups for a one-hour change.
    """
    target = high.astimezone(zone).utcoffset()
    lo = low.replace(microsecond=0)
    hi = high.replace(microsecond=0) + (_ONE_SECOND if high.microsecond else timedelta(0))
    while hi - lo > _ONE_SECOND:
        mid = lo + _ONE_SECOND * ((hi - lo) // _ONE_SECOND // 2)
        if mid.astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return hi
