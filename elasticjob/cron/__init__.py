"""Pure schedule evaluation: Quartz cron, Unix cron and ISO 8601 repeating intervals.

No I/O beyond reading the tz database, no clock reads, no imports from other elasticjob packages.

Firing identity is the UTC instant; field expressions are evaluated in the schedule's local wall time.
DST policy (Quartz and Unix, and ISO 8601 calendar periods): a wall time that falls in a
spring-forward gap fires once at the first real instant after the gap (several gap matches collapse
into that single firing); a wall time that repeats in a fall-back overlap fires only on its first
occurrence, even for every-minute or every-second expressions. See :mod:`elasticjob.cron.zones`.

Usage::

    schedule = parse("0 15 10 ? * MON-FRI", Dialect.QUARTZ, "Europe/Berlin")
    schedule.next_fire(datetime.now(timezone.utc))  # aware UTC datetime, or None
"""

from elasticjob.cron.dialects import NEVER, parse, parse_cached
from elasticjob.cron.errors import CronError
from elasticjob.cron.schedule import Dialect, Schedule, fire_times
from elasticjob.cron.zones import load_time_zone

__all__ = [
    "NEVER", "CronError", "Dialect", "Schedule", "fire_times", "load_time_zone", "parse", "parse_cached",
]
