"""Elastic-Job-Cloud's statistics (``/job/statistics/...``): windows, buckets and JSON shapes. Pure.

What is counted, and from where:

- **Task results** come from the executions: a task *succeeded* when it ended FINISHED and *failed* when
  it ended FAILED or LOST (the original counted Mesos' failed, lost and error states; a KILLED task — a
  stopped run, a removed job — and a MISSED firing are neither). A result belongs to the instant its task
  ended. The original sampled counters into rows once a minute/hour/day and answered the latest row; here
  each answer is counted from the executions when asked, over a window ending now. The history keeps
  ``--run-retention`` runs per job, so ``online`` (all time) counts what is still kept.
- **Running tasks, running jobs and registered jobs over time** cannot be read back from executions
  honestly (a count at an instant needs every task's whole life), so the leader samples them, as the
  original's statistics jobs did, into ``job_statistics_sample`` (``sampler.py``). Series are aggregated
  per bucket (the largest count of the bucket's samples): hours for the last week, days since the
  history began; a bucket without samples (no leader sampling then) is left out, not invented as zero.

Times are rendered as Gson rendered ``java.util.Date`` by default, which is what the original console
parses (``new Date(statisticsTime)``): ``"Mar 1, 2026 8:00:00 AM"`` in the master's local time zone.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

SUCCEEDED = ("FINISHED",)
FAILED = ("FAILED", "LOST")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class StatisticInterval(enum.StrEnum):
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"

    @property
    def seconds(self) -> int:
        return {"MINUTE": 60, "HOUR": 3600, "DAY": 86400}[self.value]


@dataclass(frozen=True)
class ResultWindow:
    """``GET /job/statistics/tasks/results/{period}``: results of tasks that ended in ``[since, until)``
    (``since`` None: all kept), labelled with ``interval`` as the original labelled its rows."""

    since: datetime | None
    until: datetime
    interval: StatisticInterval


PERIODS = ("lastMinute", "lastHour", "lastWeek", "online")


def result_window(period: str, now: datetime) -> ResultWindow:
    """The window of a period name; ``ValueError`` for another name than :data:`PERIODS`."""
    if period == "lastMinute":
        return ResultWindow(now - timedelta(minutes=1), now, StatisticInterval.MINUTE)
    if period == "lastHour":
        return ResultWindow(now - timedelta(hours=1), now, StatisticInterval.HOUR)
    if period == "lastWeek":
        return ResultWindow(now - timedelta(days=7), now, StatisticInterval.DAY)
    if period == "online":
        return ResultWindow(None, now, StatisticInterval.DAY)
    raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


@dataclass(frozen=True)
class Series:
    """A series asked for with ``?since=``: buckets of ``interval`` from the one holding ``since``."""

    since: datetime | None
    until: datetime
    interval: StatisticInterval


RESULT_SERIES = {"last24hours": (timedelta(hours=24), StatisticInterval.MINUTE)}
"""``tasks/results?since=``: the original answered per-minute rows of the last 24 hours."""
RUNNING_SERIES = {"lastWeek": (timedelta(days=7), StatisticInterval.HOUR)}
"""``tasks/running`` and ``jobs/running?since=``: the original answered its per-minute samples of the
last week; here they are aggregated per hour (168 points, not 10,080)."""


def series(
    since: str | None, known: Mapping[str, tuple[timedelta, StatisticInterval]], now: datetime
) -> Series:
    """The series ``since`` names among ``known``; ``ValueError`` otherwise (also when absent)."""
    if since is None or since not in known:
        raise ValueError(f"must be {' or '.join(known)}" + ("" if since is None else f", got {since!r}"))
    span, interval = known[since]
    return Series(now - span, now, interval)


def bucket_of(instant: datetime, interval: StatisticInterval) -> int:
    """The bucket number of ``instant``: whole intervals since the Unix epoch (UTC), as the SQL counts."""
    return int(instant.astimezone(UTC).timestamp()) // interval.seconds


def bucket_start(bucket: int, interval: StatisticInterval) -> datetime:
    return datetime.fromtimestamp(bucket * interval.seconds, UTC)


def gson_date(value: datetime, zone: tzinfo | None = None) -> str:
    """``value`` as Gson's default ``Date`` adapter wrote it (``DateFormat.DEFAULT``, US English):
    ``"Mar 1, 2026 8:00:00 AM"``, in ``zone`` (default: the process's local time zone, like the JVM's)."""
    local = value.astimezone(zone) if zone is not None else value.astimezone()
    hour = local.hour % 12 or 12
    half = "AM" if local.hour < 12 else "PM"
    return f"{_MONTHS[local.month - 1]} {local.day}, {local.year} {hour}:{local:%M:%S} {half}"


def task_result(success: int, failed: int, interval: StatisticInterval, at: datetime, now: datetime,
                zone: tzinfo | None = None, row_id: int = 0) -> dict[str, Any]:
    """Elastic-Job-Cloud's ``TaskResultStatistics`` JSON."""
    return {
        "id": row_id,
        "successCount": success,
        "failedCount": failed,
        "statisticInterval": interval.value,
        "statisticsTime": gson_date(at, zone),
        "creationTime": gson_date(now, zone),
    }


def result_buckets(
    counts: Mapping[int, tuple[int, int]], window: Series, now: datetime, zone: tzinfo | None = None
) -> list[dict[str, Any]]:
    """Every bucket of ``window``, oldest first, with its ``(succeeded, failed)`` from ``counts`` (by
    bucket number; absent: no task ended then, 0 and 0)."""
    assert window.since is not None
    first, last = bucket_of(window.since, window.interval), bucket_of(window.until, window.interval)
    return [
        task_result(*counts.get(b, (0, 0)), window.interval, bucket_start(b, window.interval), now, zone)
        for b in range(first, last + 1)
    ]


def sample_rows(
    samples: Mapping[int, tuple[int, int]], interval: StatisticInterval, field: str, now: datetime,
    zone: tzinfo | None = None,
) -> list[dict[str, Any]]:
    """``TaskRunningStatistics`` / ``JobRunningStatistics`` (``field`` ``runningCount``) or
    ``JobRegisterStatistics`` (``registeredCount``) JSON, one per bucket that has samples, oldest first.
    ``samples``: by bucket number, ``(row id, count)``."""
    return [
        {"id": row_id, field: count, "statisticsTime": gson_date(bucket_start(b, interval), zone),
         "creationTime": gson_date(now, zone)}
        for b, (row_id, count) in sorted(samples.items())
    ]


def job_type_statistics(types: Mapping[str, int]) -> dict[str, int]:
    """Elastic-Job-Cloud's ``JobTypeStatistics`` JSON from counts by ``jobType``."""
    return {"scriptJobCount": types.get("SCRIPT", 0), "simpleJobCount": types.get("SIMPLE", 0),
            "dataflowJobCount": types.get("DATAFLOW", 0)}


def job_execution_type_statistics(kinds: Mapping[str, int]) -> dict[str, int]:
    """Elastic-Job-Cloud's ``JobExecutionTypeStatistics`` JSON from counts by ``jobExecutionType``."""
    return {"transientJobCount": kinds.get("TRANSIENT", 0), "daemonJobCount": kinds.get("DAEMON", 0)}
