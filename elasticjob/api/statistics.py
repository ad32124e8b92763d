"""Elastic-Job-Cloud's statistics API (``/job/statistics/...``), with the original's routes and JSON.

Results over time and samples come from the history (``history.statistics``: what is counted, how);
a follower forwards those to the leader, as every history read. Job counts by type come from the
master's in-memory state and are answered by any master.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from elasticjob.api.runtime import LeaderState, forwarder
from elasticjob.history import statistics as stats
from elasticjob.history.store import StatisticsStore
from elasticjob.model import NotFound, ValidationFailed


def statistics_router(
    leader: LeaderState,
    store: StatisticsStore,
    job_kinds: Callable[[], tuple[dict[str, int], dict[str, int]]],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> APIRouter:
    """``job_kinds()``: counts of the registered jobs by ``jobType`` and by ``jobExecutionType``."""
    router = APIRouter(prefix="/statistics", tags=["statistics"])
    forward = forwarder(leader)

    def _series(since: str | None, known: dict[str, Any]) -> stats.Series:
        try:
            return stats.series(since, known, now())
        except ValueError as exc:
            raise ValidationFailed.field("since", str(exc)) from None

    @router.get("/tasks/results")
    async def results_over_time(request: Request, since: str | None = None) -> Any:
        """Task results per minute of the last 24 hours (``?since=last24hours``), oldest first: a list of
        ``{"id", "successCount", "failedCount", "statisticInterval", "statisticsTime", "creationTime"}``."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        window = _series(since, stats.RESULT_SERIES)
        assert window.since is not None
        counts = await run_in_threadpool(
            store.task_result_buckets, window.since, window.until, window.interval
        )
        return stats.result_buckets(counts, window, window.until)

    @router.get("/tasks/results/{period}")
    async def results(request: Request, period: str) -> Any:
        """Task results of ``lastMinute``, ``lastHour``, ``lastWeek`` (windows ending now) or ``online``
        (all the history keeps): ``{"successCount", "failedCount", ...}``. Succeeded: FINISHED; failed:
        FAILED or LOST."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        at = now()
        try:
            window = stats.result_window(period, at)
        except ValueError as exc:
            raise NotFound(f"no task result statistics for {str(exc).removeprefix('unknown ')}") from None
        success, failed = await run_in_threadpool(store.task_results, window.since, window.until)
        return stats.task_result(success, failed, window.interval, window.since or at, at)

    async def _samples(request: Request, since: str | None, column: str, field: str) -> Any:
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        window = _series(since, stats.RUNNING_SERIES)
        found = await run_in_threadpool(store.sample_buckets, column, window.since, window.interval)
        return stats.sample_rows(found, window.interval, field, window.until)

    @router.get("/tasks/running")
    async def running_tasks(request: Request, since: str | None = None) -> Any:
        """Launched unfinished tasks over the last week (``?since=lastWeek``): per hour, the largest count
        the leader sampled, ``[{"id", "runningCount", "statisticsTime", "creationTime"}]``."""
        return await _samples(request, since, "running_task_count", "runningCount")

    @router.get("/jobs/running")
    async def running_jobs(request: Request, since: str | None = None) -> Any:
        """Jobs with launched unfinished tasks over the last week (``?since=lastWeek``), as tasks/running."""
        return await _samples(request, since, "running_job_count", "runningCount")

    @router.get("/jobs/register")
    async def registered(request: Request) -> Any:
        """Registered jobs per day since sampling began: the largest count the leader sampled that day,
        ``[{"id", "registeredCount", "statisticsTime", "creationTime"}]``."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        interval = stats.StatisticInterval.DAY
        found = await run_in_threadpool(store.sample_buckets, "registered_job_count", None, interval)
        return stats.sample_rows(found, interval, "registeredCount", now())

    @router.get("/jobs/type")
    async def job_types() -> dict[str, int]:
        """Registered jobs by type: ``{"scriptJobCount", "simpleJobCount", "dataflowJobCount"}``."""
        return stats.job_type_statistics(job_kinds()[0])

    @router.get("/jobs/executionType")
    async def job_execution_types() -> dict[str, int]:
        """Registered jobs by execution type: ``{"transientJobCount", "daemonJobCount"}``."""
        return stats.job_execution_type_statistics(job_kinds()[1])

    return router
