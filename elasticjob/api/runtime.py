"""Routes answered from the leader's runtime state: execution history, runs and task logs (``logs``).

The leader holds the agents' streams and (with the default SQLite store) the history, so a follower
forwards these reads to the leader over HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from elasticjob.api.auth import job_scope
from elasticjob.api.bodies import path_name
from elasticjob.api.logs import LogReader, add_log_routes
from elasticjob.api.paging import MAX_PAGE
from elasticjob.api.runs import DEFAULT_PER_PAGE, MAX_PER_PAGE, RunsView
from elasticjob.api.webhooks import add_webhook_routes
from elasticjob.history import HistoryStore, native_page, native_trace_page, parse_query, parse_trace_query
from elasticjob.history.deliveries import DeliveryStore
from elasticjob.model import NotFound, Unavailable, ValidationFailed
from elasticjob.security.sessions import CSRF_HEADER

# What a follower passes on to the leader: the body's type, and who asks — credentials, or a console's
# session cookie and its CSRF header (the leader checks them again: same auth file, same session key, and
# answers only what the caller may see).
FORWARDED_HEADERS = frozenset({"content-type", "authorization", "cookie", CSRF_HEADER})


def _no_job(name: str) -> NotFound:
    return NotFound(f"job '{name}' does not exist")


class LeaderState:
    """What this master knows about leadership, for forwarding decisions."""

    def __init__(self, is_leader: Callable[[], bool], leader_http: Callable[[], str | None]) -> None:
        self.is_leader = is_leader
        self.leader_http = leader_http


def forwarder(leader: LeaderState) -> Callable[[Request], Awaitable[Response | None]]:
    """``forward(request)``: None on the leader (answer here), else the leader's answer to the same
    request (method, path, query, body); ``Unavailable`` when there is no leader or it does not answer."""

    async def forward(request: Request) -> Response | None:
        if leader.is_leader():
            return None
        address = await run_in_threadpool(leader.leader_http)
        if address is None:
            raise Unavailable("no leader is elected at the moment; try again shortly")
        url = f"http://{address}{request.url.path}"
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                upstream = await client.request(
                    request.method, url, params=request.query_params, content=await request.body(),
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            raise Unavailable(f"the leader at {address} did not answer ({type(exc).__name__})") from None
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            media_type=upstream.headers.get("content-type"),
        )

    return forward


def runtime_router(
    leader: LeaderState, history: HistoryStore, agents: LogReader, runs: RunsView,
    deliveries: DeliveryStore | None = None,
) -> APIRouter:
    """``deliveries``: the webhook delivery log's store (the history's; None: no such route)."""
    router = APIRouter(prefix="/job", tags=["runtime"])

    forward = forwarder(leader)

    async def from_history(
        request: Request,
        parse: Callable[[dict[str, str]], Any],
        read: Callable[[Any], Any],
        render: Callable[[Any], Any],
    ) -> Any:
        """Answer a history query here when leading, else from the leader."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        query = parse(dict(request.query_params))
        jobs = job_scope(request)
        if jobs.confined:
            query = dataclasses.replace(query, groups=jobs.groups)
        return render(await run_in_threadpool(read, query))

    @router.get("/events/executions")
    async def executions(request: Request) -> Any:
        """Execution history, newest first: ``{"total", "rows"}``. Query: ``page``, ``per_page``, ``jobName``,
        ``state`` (comma-separated), ``startTime``/``endTime`` (ISO 8601), ``shardingItem``, ``taskId``,
        ``ip`` (the agent's address; each row has it in ``ip``)."""
        return await from_history(request, parse_query, history.executions, native_page)

    @router.get("/events/statusTraces")
    async def status_traces(request: Request) -> Any:
        """Every recorded task state change, newest first: ``{"total", "rows"}`` (Elastic-Job-Cloud's
        JobStatusTraceEvent). Query as for executions (``jobName``, ``taskId``, ``state``, times, paging),
        and the original's ``slaveId``, ``source`` and ``executionType``."""
        return await from_history(request, parse_trace_query, history.status_traces, native_trace_page)

    @router.get("/jobs/{jobName}/runs")
    async def job_runs(
        request: Request, jobName: str,  # noqa: N803
        page: int = Query(1, ge=1, le=MAX_PAGE),
        per_page: int = Query(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE),
    ) -> Any:
        """The job's runs (one per firing, all its shards), newest first, those still queued first:
        ``{"total", "runs"}``. Each run: ``runId``, ``firingId``, ``cause`` (SCHEDULED | MISFIRE | MANUAL),
        ``status`` (INITIAL | STARTING | ACTIVE | SUCCESS | FAILED), ``reason``, times and ``tasks`` (one per
        shard and attempt)."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        return await run_in_threadpool(runs.page, path_name(jobName, _no_job), page, per_page)

    @router.get("/jobs/{jobName}/runs/{runId}")
    async def job_run(request: Request, jobName: str, runId: str) -> Any:  # noqa: N803
        """One run of the job by its run id (404 if the job has no such run)."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        return await run_in_threadpool(runs.get, path_name(jobName, _no_job), runId)

    @router.post("/jobs/{jobName}/runs/{runId}/stop", status_code=202)
    async def stop_run(request: Request, jobName: str, runId: str, reason: str = "") -> Any:  # noqa: N803
        """Stop an unfinished run (202, the run as it was when asked): its running tasks are killed
        (SIGTERM, then SIGKILL after the job's ``taskKillGracePeriodSeconds``, else the agent's grace
        period) and end KILLED, its queued firing and shards
        waiting to run again are dropped; the run ends FAILED. 409 if it had finished already."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        if len(reason) > 1024:
            raise ValidationFailed.field("reason", "must be at most 1024 characters")
        run = await run_in_threadpool(runs.stop, path_name(jobName, _no_job), runId, reason)
        return JSONResponse(run, status_code=202)

    @router.delete("/jobs/{jobName}/runs/{runId}", status_code=204)
    async def delete_run(request: Request, jobName: str, runId: str) -> Response:  # noqa: N803
        """Delete a finished run's record (204): its executions and status traces leave the history, and
        the run the list of runs. 404 if the job has no such run; 409 if it has not finished (stop it
        first)."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        await run_in_threadpool(runs.delete, path_name(jobName, _no_job), runId)
        return Response(status_code=204)

    add_log_routes(router, forward, leader.leader_http, leader.is_leader, agents, runs)
    if deliveries is not None:
        add_webhook_routes(router, forward, deliveries, lambda name: runs.state.job_record(name) is not None)
    return router
