"""``/v1/regions/{region}/jobs`` — the Kubernetes-style jobs API of a hosted service (seed ``004``), over
the native core (``model.regions`` maps the shapes).

- ``GET /v1/regions/{region}/jobs``: ``{"jobs": [...]}``, the jobs created through this API in that region;
- ``GET .../jobs/{name}``: one, with ``instance_names`` (its run's shards);
- ``POST .../jobs/{name}``: create it from a ``containers`` document; it runs once, now (201, ``{"job"}``);
- ``DELETE .../jobs/{name}``: remove it (``{"jobName"}``; a running shard is killed);
- ``GET .../jobs/{name}/instances/{instance}/logs?date=&from=&size=``: an instance's log lines, a JSON
  array of strings.

A job created through another API is not one of these (404 here), as a job of this API is not a Metronome
job. Every answer carries the job's run, which the leader knows: followers forward these reads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from elasticjob.api.auth import creator_of, job_scope, require_in_scope
from elasticjob.api.bodies import json_model, path_name
from elasticjob.api.logs import MAX_LINES, LogReader
from elasticjob.api.paging import MAX_PAGE, whole
from elasticjob.api.runs import RunsView
from elasticjob.api.service import JobService
from elasticjob.model import Conflict, Job, NotFound, Unavailable, ValidationFailed
from elasticjob.model import regions as r
from elasticjob.model.run import Run
from elasticjob.model.task import TaskId

Forward = Callable[[Request], Awaitable[Response | None]]
PREFIX = "/v1/regions/{region}/jobs"


def regions_router(service: JobService, runs: RunsView, agents: LogReader, forward: Forward) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["regions"])
    state = service.state

    def missing(name: str) -> NotFound:
        return NotFound(f"job '{name}' does not exist in this region")

    def ours(region: str, name: str) -> tuple[Job, int]:
        """The job ``name`` of this dialect in ``region`` and its version, else 404."""
        stored = state.job(path_name(name, missing))
        if stored is None or stored.model.dialect != r.DIALECT or (stored.model.dialectSpec or {}).get(
            "region"
        ) != region:
            raise missing(name)
        return stored.model, stored.version

    def latest_run(name: str) -> Run | None:
        try:
            _, found = runs.runs(name, 0, 1)
        except NotFound:
            return None
        return found[0] if found else None

    @router.get("")
    async def list_jobs(request: Request, region: str) -> Any:
        """The jobs created through this API in ``region``, by name: ``{"jobs": [...]}``."""
        if (forwarded := await forward(request)) is not None:
            return forwarded
        jobs = job_scope(request)

        def read() -> dict[str, Any]:
            shown = []
            for job in service.jobs(jobs):
                if job.dialect == r.DIALECT and (job.dialectSpec or {}).get("region") == region:
                    stored = state.job(job.jobName)
                    version = stored.version if stored is not None else 0
                    shown.append(r.job_json(job, version, latest_run(job.jobName)))
            return {"jobs": shown}

        return await run_in_threadpool(read)

    @router.get("/{name}")
    async def get_job(request: Request, region: str, name: str) -> Any:
        """One job with ``instance_names``: its run's instances (one per shard and attempt)."""
        if (forwarded := await forward(request)) is not None:
            return forwarded

        def read() -> dict[str, Any]:
            job, version = ours(region, name)
            run = latest_run(job.jobName)
            return {"instance_names": list(r.instances(run)), **r.job_json(job, version, run)}

        return await run_in_threadpool(read)

    @router.post("/{name}", status_code=201)
    async def create_job(request: Request, region: str, name: str) -> JSONResponse:
        """Create the job from ``{"containers": [...], "completions", "parallelism"}``; it runs once, now."""
        job_name = path_name(name, lambda n: ValidationFailed.field("name", f"{n!r} is not a valid job name"))
        require_in_scope(request, "job", job_name)
        document = await json_model(request, r.JobDocument)
        job = r.to_native(job_name, region, document, str(uuid.uuid4()), dt.datetime.now(dt.UTC))
        try:
            await run_in_threadpool(service.register_job, job, creator_of(request), True)
        except Conflict:
            raise Conflict(f"job '{job_name}' already exists") from None
        stored = state.job(job_name)
        value = r.job_json(job, stored.version if stored is not None else 0, None, created=True)
        return JSONResponse({"job": value}, status_code=201)

    @router.delete("/{name}")
    async def delete_job(request: Request, region: str, name: str) -> dict[str, str]:
        """Remove the job (its running shards are killed): ``{"jobName"}``."""
        job, _ = ours(region, name)
        await run_in_threadpool(service.deregister_job, job.jobName)
        return {"jobName": job.jobName}

    @router.get("/{name}/instances/{instance}/logs")
    async def instance_logs(request: Request, region: str, name: str, instance: str) -> Any:
        """An instance's stdout lines as a JSON array of strings. ``date`` (YYYY.MM.DD, UTC): only lines of
        that day; ``from``: the first line (0: the oldest kept); ``size``: at most that many (100)."""
        if (forwarded := await forward(request)) is not None:
            return forwarded
        params = request.query_params
        day = r.log_date(params.get("date"))
        start = whole(params.get("from"), "from", 0, 0, MAX_PAGE)
        size = whole(params.get("size"), "size", 100, 1, MAX_LINES)

        def locate() -> str:
            job, _ = ours(region, name)
            task_id = r.instances(latest_run(job.jobName)).get(instance)
            if task_id is None:
                raise NotFound(f"job '{name}' has no instance '{instance}'")
            return task_id

        task_id = await run_in_threadpool(locate)
        agent_id = TaskId.parse(task_id).agent_id
        try:
            chunk = await run_in_threadpool(
                lambda: agents.read_lines(agent_id, task_id, "stdout", start=start, size=size)
            )
        except Unavailable as exc:
            raise Unavailable(f"cannot read the log of instance {instance}: {exc.message}") from None
        if chunk.error:
            raise NotFound(chunk.error)
        lines = [
            line.data.decode("utf-8", errors="replace")
            for line in chunk.lines
            if day is None or dt.datetime.fromtimestamp(line.time_ms / 1000, dt.UTC).date() == day
        ]
        return JSONResponse(lines)

    return router

