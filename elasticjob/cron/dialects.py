"""Entry point: turn an expression of any dialect into a :class:`Schedule`."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from elasticjob.cron.errors import CronError
from elasticjob.cron.iso8601 import parse_iso8601
from elasticjob.cron.metronome import parse_metronome
from elasticjob.cron.quartz import parse_quartz
from elasticjob.cron.schedule import Dialect, Schedule
from elasticjob.cron.unix import parse_unix
from elasticjob.cron.zones import load_time_zone


def parse(expression: str, dialect: Dialect | str, time_zone: str = "UTC") -> Schedule:
    """Parse ``expression`` in ``dialect``; field expressions are evaluated in the IANA ``time_zone``.

    Surrounding whitespace is ignored. Raises :class:`CronError` for an unknown time zone or dialect
    and for any malformed expression; the message names the offending field and value. The returned
    schedule is immutable and safe to share between threads.
    """
    try:
        dialect = Dialect(dialect)  # also accepts the enum's string value, e.g. from a config file
    except ValueError:
        choices = ", ".join(member.value for member in Dialect)
        raise CronError(f"unknown cron dialect {dialect!r} (expected one of {choices})") from None
    zone = load_time_zone(time_zone)
    text = expression.strip()
    if not text:
        raise CronError("the schedule expression is empty")
    if dialect is Dialect.QUARTZ:
        return parse_quartz(text, zone)
    if dialect is Dialect.UNIX:
        return parse_unix(text, zone)
    if dialect is Dialect.METRONOME:
        return parse_metronome(text, zone)
    return parse_iso8601(text, zone)


@dataclass(frozen=True)
class _Never:
    """The schedule of a job that has none: it never fires (it runs only when triggered)."""

    expression: str = ""

    def next_fire(self, after: datetime) -> datetime | None:
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        return None


NEVER: Schedule = _Never()


@functools.lru_cache(maxsize=16_384)
def parse_cached(expression: str | None, dialect: Dialect | str, time_zone: str = "UTC") -> Schedule:
    """``parse``, remembered (schedules are immutable: thousands of jobs share a few); ``None`` as the
    expression is ``NEVER``. ``dialect`` may also be given by its name in either case (``"QUARTZ"``)."""
    if expression is None:
        return NEVER
    return parse(expression, dialect.lower() if isinstance(dialect, str) else dialect, time_zone)
