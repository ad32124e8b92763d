"""The schedule port shared by every dialect, and helpers that only need that port."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol


class Dialect(enum.Enum):
    """Which expression language a schedule is written in."""

    QUARTZ = "quartz"  # 6-7 fields, seconds first, 1=SUN..7=SAT, L/W/# (Elastic-Job's native dialect)
    UNIX = "unix"  # classic 5-field crontab with Vixie's day-of-month OR day-of-week rule
    ISO8601 = "iso8601"  # repeating interval R[n]/start/period
    METRONOME = "metronome"  # DC/OS Metronome's: Unix fields (+ year), L/W/#, day-of-month AND day-of-week


class Schedule(Protocol):
    """A parsed, immutable schedule.

    Contract of ``next_fire(after)``:

    * ``after`` must be timezone-aware (any zone); a naive datetime raises ``ValueError``.
    * Returns the first firing instant *strictly* after ``after`` as an aware datetime in UTC
      (``tzinfo=timezone.utc``), or ``None`` when the schedule never fires again.
    * Pure and thread-safe: no I/O, no clock reads, no mutable state.
    """

    # A read-only property rather than a bare attribute so that frozen dataclasses satisfy the protocol.
    @property
    def expression(self) -> str: ...

    def next_fire(self, after: datetime) -> datetime | None: ...


def fire_times(schedule: Schedule, after: datetime, limit: int) -> list[datetime]:
    """Return up to ``limit`` successive firings strictly after ``after`` (fewer if the schedule ends)."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    times: list[datetime] = []
    cursor: datetime | None = after
    while cursor is not None and len(times) < limit:
        cursor = schedule.next_fire(cursor)
        if cursor is not None:
            times.append(cursor)
    return times
