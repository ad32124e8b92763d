"""Elastic-Job-Cloud's job API (``/job/...``): same paths, verbs, status codes and JSON shapes.

Void operations answer 204 like the original JAX-RS resources; lists are JSON arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from elasticjob.api.auth import creator_of, job_scope, require_in_scope
from elasticjob.api.bodies import form_model, json_model, name_body, path_name
from elasticjob.api.openapi import json_body, json_response, name_or_json_body
from elasticjob.api.paging import list_body, parse_paging
from elasticjob.api.service import JobService
from elasticjob.model import Job, ManualRun, NotFound, ValidationFailed, check_name
from elasticjob.model.lenient import JOB_FORM
from elasticjob.model.queue import Overrides
from elasticjob.security.scopes import EVERYTHING, JobScope


def _no_job(name: str) -> NotFound:
    return NotFound(f"job '{name}' does not exist")


def _scheduled(job: Job) -> Job:
    """The native API requires ``cron``, as Elastic-Job-Cloud's; only a job created through another API
    (``dialect``: a Metronome job without a schedule) may lack one."""
    if job.cron is None and job.dialect is None:
        raise ValidationFailed.field("cron", "Field required")
    return job


def jobs_page(
    service: JobService, query: Mapping[str, str], path: str, jobs: JobScope = EVERYTHING
) -> tuple[bytes, dict[str, str]]:
    """``GET /job/jobs``: the JSON of the page ``query`` asks for (or of the whole list) of the jobs in
    ``jobs``, and its headers; ``ValidationFailed`` for paging parameters out of range or a namespace that
    is no name. ``?namespace=`` keeps the jobs directly in that namespace. Shared with ``hot.HotReads``."""
    paging = parse_paging(query)
    namespace = query.get("namespace")
    if namespace is not None:
        try:
            check_name(namespace)
        except ValueError as exc:
            raise ValidationFailed.field("namespace", str(exc)) from None
    items, total = service.jobs_json(paging.start, paging.stop, jobs, namespace)
    extra = "" if namespace is None else f"namespace={quote(namespace)}"
    return list_body(items, total, paging, path, extra)


def _require_job(request: Request, job: Job) -> None:
    require_in_scope(request, "job", job.jobName)
    require_in_scope(request, "app", job.effective_app_name)


def job_router(service: JobService) -> APIRouter:
    router = APIRouter(prefix="/job", tags=["jobs"])

    @router.post("/register", status_code=204, openapi_extra=json_body(Job))
    async def register(request: Request) -> Response:
        """Register a job (``appName`` of a registered app, or ``appURL`` for the single-step form).
        Bound as leniently as Elastic-Job-Cloud bound its console's form: numbers may be JSON strings
        (``"shardingTotalCount": "2"``), booleans ``"true"``/``"false"``, and ``jobClass``, ``beanName``,
        ``applicationContext``, ``bootstrapScript`` and ``scriptCommandLine`` ``""`` (absent)."""
        job = _scheduled(await form_model(request, Job, JOB_FORM))
        _require_job(request, job)
        await run_in_threadpool(service.register_job, job, creator_of(request))
        return Response(status_code=204)

    @router.put("/update", status_code=204, openapi_extra=json_body(Job))
    async def update(request: Request) -> Response:
        """Replace a registered job's configuration (bound as leniently as ``/job/register``)."""
        job = _scheduled(await form_model(request, Job, JOB_FORM))
        _require_job(request, job)
        await run_in_threadpool(service.update_job, job)
        return Response(status_code=204)

    async def _deregister(request: Request) -> Response:
        name = await name_body(request, "jobName")
        require_in_scope(request, "job", name)
        await run_in_threadpool(service.deregister_job, name)
        return Response(status_code=204)

    router.add_api_route(
        "/unregister",
        _deregister,
        methods=["DELETE"],
        status_code=204,
        summary="Remove a job (body: the job name as text)",
    )
    router.add_api_route(
        "/deregister",
        _deregister,
        methods=["DELETE"],
        status_code=204,
        summary="Remove a job (body: the job name as text); same as /unregister",
        operation_id="deregister_job_alias",
    )

    @router.get("/jobs", response_model=None, openapi_extra=json_response("Job", many=True))
    async def jobs(request: Request) -> Response:
        """Registered jobs in name order: all of them (at most 10,000; ``X-Total-Count`` tells how many
        exist and ``Link`` names the next page), or one page with ``?page=&per_page=`` (at most 1,000);
        ``?namespace=`` keeps those directly in a namespace (``a`` holds ``a.x``, not ``a.b.x``; ``default``
        holds the names without dots)."""
        body, headers = jobs_page(service, request.query_params, request.url.path, job_scope(request))
        return Response(body, media_type="application/json", headers=headers)

    @router.get("/jobs/{jobName}", response_model=None, openapi_extra=json_response("JobView"))
    async def detail(jobName: str) -> Response:  # noqa: N803 - the original's path variable
        """One job's configuration with ``nextFireTime`` and ``lastFireTime``; 404 if it does not exist."""
        return Response(service.job_view(path_name(jobName, _no_job)), media_type="application/json")

    @router.get("/jobs/{jobName}/meta")
    async def meta(jobName: str) -> dict[str, Any]:  # noqa: N803
        """Who registered the job (``createdBy``: the authenticated user; absent without authentication) and
        when it was registered and last updated (``createdAt``, ``updatedAt``: ISO 8601, UTC), set by the
        master; absent for a job registered before they were recorded. 404 if the job does not exist."""
        return await run_in_threadpool(service.job_meta, path_name(jobName, _no_job))

    @router.get("/{jobName}/disable")
    async def is_disabled(jobName: str) -> bool:  # noqa: N803
        """``true`` if the job is disabled."""
        return await run_in_threadpool(service.job_disabled, path_name(jobName, _no_job))

    @router.post("/{jobName}/disable", status_code=204)
    async def disable(jobName: str) -> Response:  # noqa: N803
        """Stop scheduling the job until it is enabled again (running shards finish)."""
        await run_in_threadpool(service.set_job_disabled, path_name(jobName, _no_job), True)
        return Response(status_code=204)

    async def enable(jobName: str) -> Response:  # noqa: N803
        """Resume scheduling a disabled job."""
        await run_in_threadpool(service.set_job_disabled, path_name(jobName, _no_job), False)
        return Response(status_code=204)

    router.add_api_route("/{jobName}/enable", enable, methods=["POST"], status_code=204)
    # Elastic-Job-Cloud's own verb for it, which its console sends.
    router.add_api_route(
        "/{jobName}/disable", enable, methods=["DELETE"], status_code=204,
        summary="Resume scheduling a disabled job; same as POST /{jobName}/enable",
        operation_id="enable_job_by_delete",
    )

    @router.post("/trigger", status_code=204, openapi_extra=name_or_json_body(ManualRun, "the job name"))
    async def trigger(request: Request) -> Response:
        """Queue one firing of a TRANSIENT job now. Body: the job name as text, or a JSON object
        ``{"jobName", "environment": {...}, "jobParameter": "..."}`` whose environment variables and job
        parameter apply to this run only (every shard and every attempt of it)."""
        if (await request.body()).lstrip().startswith(b"{"):
            run = await json_model(request, ManualRun)
            require_in_scope(request, "job", run.jobName)
            overrides = Overrides.of(run.environment, run.jobParameter)
            await run_in_threadpool(service.trigger, run.jobName, None, overrides)
        else:
            name = await name_body(request, "jobName")
            require_in_scope(request, "job", name)
            await run_in_threadpool(service.trigger, name)
        return Response(status_code=204)

    @router.get("/tasks/ready")
    async def ready(request: Request) -> list[dict[str, Any]]:
        """Jobs with queued firings: ``[{"jobName", "times"}]``."""
        return await run_in_threadpool(service.ready_tasks, job_scope(request))

    @router.get("/tasks/running")
    async def running(request: Request) -> list[Any]:
        """Every launched task not yet finished."""
        return await run_in_threadpool(service.running_tasks, job_scope(request))

    @router.get("/tasks/failover")
    async def failover(request: Request) -> list[Any]:
        """Shards queued for failover."""
        return await run_in_threadpool(service.failover_tasks, job_scope(request))

    return router
