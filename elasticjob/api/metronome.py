"""``/v1`` — DC/OS Metronome's jobs API (also under ``/service/metronome/v1``), over the native core.

Jobs and schedules are native jobs (``model/metronome.py`` maps the shapes); runs are the core's runs
(``RunsView``). Answers carry Metronome's fields only, so that its own clients — which reject fields they
do not know — work unchanged; errors have Metronome's shapes: 422 ``{"message": "Object is not valid",
"details": [{"path": "/run/mem", "errors": [...]}]}``, 404 ``{"id": ..., "message": "Job not found"}``,
409 for duplicates and active runs. Configuration reads and writes are served by any master (from its
in-memory state; writes are ZooKeeper transactions); run routes are answered by the leader (followers
forward them), as the native run routes are.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from elasticjob.api.auth import creator_of, job_scope, require_in_scope
from elasticjob.api.openapi import json_body
from elasticjob.api.runs import RunsView
from elasticjob.api.service import JobService
from elasticjob.model import Conflict, Job, NotFound, ValidationFailed
from elasticjob.model import metronome as m
from elasticjob.model.queue import Overrides
from elasticjob.model.run import run_id as run_id_of
from elasticjob.model.secrets import carry_secret_marks

HISTORY_RUNS = 1000  # the newest runs a job's history embeds (Metronome keeps as many by default)
EMBEDS = ("activeRuns", "schedules", "history", "historySummary")
SHARED_PATHS = ("/jobs", "/jobs/{job_id}")  # where another dialect may answer (``SharedJobs``)

Forward = Callable[[Request], Awaitable[Response | None]]
# Another dialect on /v1/jobs, told apart by the request's shape (the execs dialect, ``api.execs``): its
# answer to a request on ``/v1/jobs`` (job id None) or ``/v1/jobs/{job_id}``, or None (Metronome's).
SharedJobs = Callable[[Request, str | None], Awaitable[Response | None]]


def _json(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(value, status_code=status)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return _json({**extra, "message": message}, status)


def _invalid(exc: ValidationFailed) -> JSONResponse:
    details = [m.pointer(d).as_json() for d in exc.details] or [{"path": "/", "errors": [exc.message]}]
    return _error(422, "Object is not valid", details=details)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "Object is not valid", [m.FieldError("/", ("the body is not valid JSON",))]
        ) from None


def _schedule_error(exc: ValidationFailed, prefix: str) -> ValidationFailed:
    """The service's verdict on a job (``cron``: e.g. a date that never comes; a URL the deployment does
    not allow) at its ``/v1`` path (``/schedules/0/cron`` in a job, ``/cron`` in a schedule;
    ``/run/artifacts`` for a URL)."""
    details = [
        m.FieldError(prefix + "/cron", d.errors) if d.path == "cron" else m.native_path(d)
        for d in exc.details
    ]
    return ValidationFailed("Object is not valid", details)


def _wrong_id() -> ValidationFailed:
    return ValidationFailed("Object is not valid", [m.FieldError("/id", ("must be the id of the path",))])


def metronome_router(
    service: JobService, runs: RunsView, forward: Forward, shared: SharedJobs | None = None
) -> APIRouter:
    """``shared``: the dialect that shares ``/v1/jobs`` and ``/v1/jobs/{job_id}`` (see ``SharedJobs``); it
    is asked first, and answers in its own shapes (its errors too)."""
    router = APIRouter(tags=["metronome"])
    state = service.state

    def job_or_none(job_id: str) -> Job | None:
        stored = state.job(job_id)
        return None if stored is None else stored.model

    def shape(job: Job, embed: list[str]) -> dict[str, Any]:
        app = state.app(job.effective_app_name)
        value = m.job_json(job, app.model if app else None)
        if "schedules" in embed:
            schedule = m.stored_schedule(job)
            value["schedules"] = (
                [] if schedule is None else [m.schedule_json(schedule, service.next_fire(job.jobName))]
            )
        if "activeRuns" in embed:
            value["activeRuns"] = [m.run_json(job.jobName, r) for r in runs.active(job.jobName)]
        if "history" in embed or "historySummary" in embed:
            value["history" if "history" in embed else "historySummary"] = history(
                job.jobName, "history" in embed
            )
        return value

    def history(job_id: str, with_runs: bool) -> dict[str, Any]:
        _, recent = runs.runs(job_id, 0, HISTORY_RUNS)
        done = [r for r in recent if r.status.finished]
        ok = [r for r in done if r.status.value == "SUCCESS"]
        failed = [r for r in done if r.status.value == "FAILED"]
        value: dict[str, Any] = {
            "successCount": len(ok),
            "failureCount": len(failed),
            "lastSuccessAt": m.timestamp(max((r.finished_at for r in ok if r.finished_at), default=None)),
            "lastFailureAt": m.timestamp(max((r.finished_at for r in failed if r.finished_at), default=None)),
        }
        if with_runs:

            def info(r: Any) -> dict[str, Any]:
                return {
                    "id": r.run_id,
                    "createdAt": m.timestamp(r.created_at),
                    "finishedAt": m.timestamp(r.finished_at),
                }

            value["successfulFinishedRuns"] = [info(r) for r in ok]
            value["failedFinishedRuns"] = [info(r) for r in failed]
        return value

    def embeds(request: Request) -> list[str]:
        asked = [e for value in request.query_params.getlist("embed") for e in value.split(",") if e]
        unknown = [e for e in asked if e not in EMBEDS]
        if unknown:
            raise ValidationFailed(
                "Object is not valid",
                [m.FieldError("/embed", (f"unknown embed {unknown[0]!r}; one of {', '.join(EMBEDS)}",))],
            )
        return asked

    def handled(func: Callable[..., Awaitable[Response]], shares: bool) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(func)
        async def wrapper(request: Request, **params: Any) -> Response:
            if shares and shared is not None:
                answer = await shared(request, params.get("job_id"))
                if answer is not None:
                    return answer
            try:
                if "job_id" in params:
                    # A numeric id passes the middleware's scope check (it may be an execs job's number,
                    # whose namespace the path does not show): as a Metronome id, it is checked here.
                    require_in_scope(request, "job", params["job_id"])
                return await func(request, **params)
            except ValidationFailed as exc:
                return _invalid(exc)
            except NotFound as exc:
                return _error(404, exc.message)
            except Conflict as exc:
                return _error(409, exc.message)

        return wrapper

    async def for_runs(request: Request, embed: list[str]) -> Response | None:
        """Runs are the leader's to tell (its state and history): an answer that embeds them is its."""
        return await forward(request) if set(embed) - {"schedules"} else None

    def missing_job(job_id: str) -> JSONResponse:
        return _error(404, "Job not found", id=job_id)

    # ---- jobs ---------------------------------------------------------------------------------------
    async def list_jobs(request: Request) -> Response:
        """Every job, in Metronome's shape; ``embed`` = activeRuns | schedules | history | historySummary."""
        embed = embeds(request)
        if (forwarded := await for_runs(request, embed)) is not None:
            return forwarded
        jobs = job_scope(request)
        return _json(await run_in_threadpool(lambda: [shape(job, embed) for job in service.jobs(jobs)]))

    async def create_job(request: Request) -> Response:
        """Create a job (201, the job as stored); its ``schedules`` (at most one) come with it."""
        spec = m.parse_model(m.JobSpec, await _body(request))
        require_in_scope(request, "job", spec.id)
        if job_or_none(spec.id) is not None:
            return _error(409, f"Job with this id already exists: {spec.id}", id=spec.id)
        job = m.to_native(spec, spec.schedules[0] if spec.schedules else None)
        try:
            await run_in_threadpool(service.register_job, job, creator_of(request))
        except ValidationFailed as exc:
            raise _schedule_error(exc, "/schedules/0") from None
        except Conflict:
            return _error(409, f"Job with this id already exists: {spec.id}", id=spec.id)
        value = m.job_json(job, None)
        if spec.schedules:
            value["schedules"] = [m.schedule_json(spec.schedules[0], service.next_fire(job.jobName))]
        return _json(value, 201)

    async def get_job(request: Request, job_id: str) -> Response:
        """One job (404 ``Job not found``)."""
        embed = embeds(request)
        if (forwarded := await for_runs(request, embed)) is not None:
            return forwarded
        job = job_or_none(job_id)
        if job is None:
            return missing_job(job_id)
        return _json(await run_in_threadpool(shape, job, embed))

    async def update_job(request: Request, job_id: str) -> Response:
        """Replace a job's spec (200); its schedule stays as it is. A job registered through the native API
        changes only in the fields this PUT gives otherwise than ``/v1`` shows them, and stays a native
        job; fields it cannot hold (labels, user, disk) are refused (422). A job of another dialect
        (regions, execs) is changed through its own API: 409."""
        value = await _body(request)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "schedules"}
        spec = m.parse_model(m.JobSpec, value)
        if spec.id != job_id:
            raise _wrong_id()
        job = job_or_none(job_id)
        if job is None:
            return missing_job(job_id)
        if job.dialect not in (None, m.DIALECT):
            # Its own API keeps its own document of it (model/execs.py, model/regions.py): a change made
            # here would not show there.
            return _error(409, f"Job was created through the {job.dialect} API; change it there", id=job_id)
        stored_app = state.app(job.effective_app_name)
        app = stored_app.model if stored_app else None
        if job.dialect == m.DIALECT:
            # /v1 cannot mark a secret: the stored marks stay on the keys it still has (model/secrets.py).
            updated = carry_secret_marks(m.to_native(spec, m.stored_schedule(job)), job)
        else:
            # A job of another API keeps all that /v1 does not show; only what the PUT changes changes.
            updated = m.update_native(job, spec, app)
        try:
            updated = await run_in_threadpool(service.update_job, updated)
        except ValidationFailed as exc:
            raise _schedule_error(exc, "/schedules/0") from None
        return _json(m.job_json(updated, app))

    async def delete_job(request: Request, job_id: str) -> Response:
        """Remove a job (200, the job as it was); 409 while it has active runs unless
        ``stopCurrentJobRuns=true`` (they are then killed)."""
        job = job_or_none(job_id)
        if job is None:
            return missing_job(job_id)
        stop = request.query_params.get("stopCurrentJobRuns", "false").lower() == "true"
        if not stop and await run_in_threadpool(runs.has_active, job_id):
            return _error(409, "There are active job runs. Override with stopCurrentJobRuns=true", id=job_id)
        before = shape(job, [])
        await run_in_threadpool(service.deregister_job, job_id)
        return _json(before)

    # ---- schedules -----------------------------------------------------------------------------------
    async def list_schedules(request: Request, job_id: str) -> Response:
        """The job's schedules (at most one)."""
        job = job_or_none(job_id)
        if job is None:
            return missing_job(job_id)
        schedule = m.stored_schedule(job)
        return _json([] if schedule is None else [m.schedule_json(schedule, service.next_fire(job_id))])

    async def save_schedule(job: Job, schedule: m.ScheduleSpec | None) -> None:
        if job.dialect != m.DIALECT:
            raise Conflict(f"job '{job.jobName}' was created through the native API; change its cron there")
        spec = m.spec_of(job)
        updated = m.to_native(spec, schedule)
        try:
            await run_in_threadpool(service.update_job, updated)
        except ValidationFailed as exc:
            raise _schedule_error(exc, "") from None

    async def create_schedule(request: Request, job_id: str) -> Response:
        """Add the job's schedule (201); 409 if it has one already (one per job, as Metronome)."""
        schedule = m.parse_model(m.ScheduleSpec, await _body(request))
        job = job_or_none(job_id)
        if job is None:
            return missing_job(job_id)
        current = m.stored_schedule(job)
        if current is not None:
            if current.id == schedule.id:
                return _error(409, f"requirement failed: A schedule with id {schedule.id} already exists")
            return _error(409, "requirement failed: only one schedule per job is supported")
        await save_schedule(job, schedule)
        return _json(m.schedule_json(schedule, service.next_fire(job_id)), 201)

    def named_schedule(job_id: str, schedule_id: str) -> tuple[Job, m.ScheduleSpec] | Response:
        """The job and its schedule ``schedule_id``, or the 404 to answer."""
        job = job_or_none(job_id)
        if job is None:
            return missing_job(job_id)
        schedule = m.stored_schedule(job)
        if schedule is None or schedule.id != schedule_id:
            return _error(404, "Schedule not found", id=schedule_id)
        return job, schedule

    async def get_schedule(request: Request, job_id: str, schedule_id: str) -> Response:
        """One schedule (404 ``Schedule not found``)."""
        found = named_schedule(job_id, schedule_id)
        if isinstance(found, Response):
            return found
        return _json(m.schedule_json(found[1], service.next_fire(job_id)))

    async def update_schedule(request: Request, job_id: str, schedule_id: str) -> Response:
        """Replace a schedule (200)."""
        schedule = m.parse_model(m.ScheduleSpec, await _body(request))
        found = named_schedule(job_id, schedule_id)
        if isinstance(found, Response):
            return found
        if schedule.id != schedule_id:
            raise _wrong_id()
        await save_schedule(found[0], schedule)
        return _json(m.schedule_json(schedule, service.next_fire(job_id)))

    async def delete_schedule(request: Request, job_id: str, schedule_id: str) -> Response:
        """Remove a schedule (200): the job then runs only when asked."""
        found = named_schedule(job_id, schedule_id)
        if isinstance(found, Response):
            return found
        await save_schedule(found[0], None)
        return Response(status_code=200)

    # ---- runs ----------------------------------------------------------------------------------------
    async def elsewhere(request: Request, job_id: str) -> Response | None:
        """The answer when this master is not the one to give it: the leader's (forwarded), or a 404."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        return missing_job(job_id) if job_or_none(job_id) is None else None

    async def start_run(request: Request, job_id: str) -> Response:
        """Start a run now (201, the run); it follows the job's concurrency policy (ALLOW: beside any active
        run). An extension: the body may be ``{"env": {"K": "V"}, "jobParameter": "..."}``, environment
        variables and a job parameter for this run only (no body, or ``{}``: none)."""
        asked = m.parse_run_request(await request.body())
        if (answer := await elsewhere(request, job_id)) is not None:
            return answer
        overrides = Overrides.of(asked.env, asked.jobParameter)
        firing = await run_in_threadpool(service.trigger, job_id, None, overrides)
        run = await run_in_threadpool(runs.find, job_id, run_id_of(job_id, firing["firingId"]))
        return _json(m.run_json(job_id, run), 201)

    async def list_runs(request: Request, job_id: str) -> Response:
        """The job's active runs."""
        if (answer := await elsewhere(request, job_id)) is not None:
            return answer
        active = await run_in_threadpool(runs.active, job_id)
        return _json([m.run_json(job_id, r) for r in active])

    async def run_answer(request: Request, job_id: str, run_id: str, stop: bool) -> Response:
        if (answer := await elsewhere(request, job_id)) is not None:
            return answer
        try:
            run = await run_in_threadpool(runs.find, job_id, run_id)
        except NotFound:
            return _error(404, "Job Run not found", id=run_id)
        if stop:
            await run_in_threadpool(runs.stop, job_id, run_id, "stopped through /v1")
        return _json(m.run_json(job_id, run))

    async def stop_run(request: Request, job_id: str, run_id: str) -> Response:
        """Stop an active run (200, the run as it was): its tasks are killed and end TASK_KILLED; 409 for
        a run that has ended."""
        return await run_answer(request, job_id, run_id, stop=True)

    async def get_run(request: Request, job_id: str, run_id: str) -> Response:
        """One run, active or finished (404 ``Job Run not found``)."""
        return await run_answer(request, job_id, run_id, stop=False)

    async def queue(request: Request) -> Response:
        """Runs waiting to be launched: ``[{"jobId", "runs": [{"runId"}]}]``. Beyond Metronome,
        ``?reasons=true`` adds each job's ``reason``: why the scheduler has not launched it (for example
        ``no agent with 4096 MB free (largest free: 1024 MB on agent a1)``), when it has said so."""
        reasons = request.query_params.get("reasons", "false").lower()
        if reasons not in ("true", "false"):
            raise ValidationFailed(
                "Object is not valid", [m.FieldError("/reasons", ("must be true or false",))]
            )
        value = []
        jobs = job_scope(request)
        for name, ready in state.waiting():
            if ready.firings and jobs.covers(name):
                entry: dict[str, Any] = {
                    "jobId": name, "runs": [{"runId": run_id_of(name, f.firing_id)} for f in ready.firings]
                }
                if reasons == "true" and ready.reason:
                    entry["reason"] = ready.reason
                value.append(entry)
        return _json(value)

    async def ping(request: Request) -> Response:
        return Response("pong", media_type="text/plain")

    routes: list[tuple[str, Callable[..., Awaitable[Response]], str, int]] = [
        ("/jobs", list_jobs, "GET", 200),
        ("/jobs", create_job, "POST", 201),
        ("/jobs/{job_id}", get_job, "GET", 200),
        ("/jobs/{job_id}", update_job, "PUT", 200),
        ("/jobs/{job_id}", delete_job, "DELETE", 200),
        ("/jobs/{job_id}/schedules", list_schedules, "GET", 200),
        ("/jobs/{job_id}/schedules", create_schedule, "POST", 201),
        ("/jobs/{job_id}/schedules/{schedule_id}", get_schedule, "GET", 200),
        ("/jobs/{job_id}/schedules/{schedule_id}", update_schedule, "PUT", 200),
        ("/jobs/{job_id}/schedules/{schedule_id}", delete_schedule, "DELETE", 200),
        ("/jobs/{job_id}/runs", start_run, "POST", 201),
        ("/jobs/{job_id}/runs", list_runs, "GET", 200),
        ("/jobs/{job_id}/runs/{run_id}", get_run, "GET", 200),
        ("/jobs/{job_id}/runs/{run_id}/actions/stop", stop_run, "POST", 200),
        ("/queue", queue, "GET", 200),
    ]
    # The handlers read their bodies themselves (Metronome's error shapes); the document still says what
    # they take. A run's body is optional, so it is left undocumented.
    bodies: dict[tuple[str, str], type[BaseModel]] = {
        ("/jobs", "POST"): m.JobSpec, ("/jobs/{job_id}", "PUT"): m.JobSpec,
        ("/jobs/{job_id}/schedules", "POST"): m.ScheduleSpec,
        ("/jobs/{job_id}/schedules/{schedule_id}", "PUT"): m.ScheduleSpec,
    }
    for prefix in ("/v1", "/service/metronome/v1"):
        for path, func, method, status in routes:
            body = bodies.get((path, method))
            router.add_api_route(
                prefix + path,
                handled(func, path in SHARED_PATHS),
                methods=[method],
                status_code=status,
                include_in_schema=prefix == "/v1",
                openapi_extra=json_body(body) if body is not None else None,
            )
    for path in ("/ping", "/service/metronome/ping"):
        router.add_api_route(path, ping, methods=["GET"], include_in_schema=False)
    return router
