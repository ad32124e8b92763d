"""``/v1/jobs`` with ``execs`` — the jobs API of a hosted service (seeds ``002``/``003``), over the native
core (``model.execs`` maps the shapes).

Shared with Metronome's dialect (``api.metronome``), which hands this one what is its by shape
(``ExecsDialect.shared``, passed to ``metronome_router``):

- ``POST /v1/jobs`` whose body has ``name`` and ``command`` and no ``run``: create a job (201);
- ``GET /v1/jobs?namespace=``: the namespace's jobs of this dialect, ``{"count", "next", "previous",
  "results"}`` (``?page=``, ``?page_size=``);
- ``GET``/``PUT``/``DELETE /v1/jobs/{id}`` of a job of this dialect (by its number, or its native name):
  the job (200), a partial update (200), removal (204; its running shards are killed).

Its own (``router``):

- ``POST /v1/jobs/{id}/execs``: run the job now (201, the exec); the body may be ``{"runtime_vars": {}}``,
  variables for this exec only;
- ``GET /v1/jobs/{id}/execs``: its execs, newest first, paged as the list;
- ``GET``/``DELETE /v1/jobs/{id}/execs/{exec_id}``: one exec with its job (200); delete a finished one's
  record (204; 409 while it has not finished);
- ``GET /v1/jobs/{id}/execs/{exec_id}/logs?start_time=&end_time=``: the stdout lines of the exec's tasks,
  ``[{"message", "time"}]`` in time order, within the window (Unix seconds, both ends included).

Errors are the native JSON ``{"message", "details"}`` (never Metronome's shapes). A job of another
dialect is none of these (404 here). A caller confined to job groups sees and changes only its
namespaces' jobs (others answer 404: a number names no job of theirs). Execs are the leader's to tell
(followers forward those routes); configuration is answered by any master.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from elasticjob.api.auth import creator_of, job_scope, require_in_scope
from elasticjob.api.logs import MAX_LINES, LogReader
from elasticjob.api.paging import MAX_PAGE, envelope, whole
from elasticjob.api.runs import RunsView
from elasticjob.api.service import JobService, in_namespace
from elasticjob.model import Job, NotFound, Unavailable, ValidationFailed
from elasticjob.model import execs as x
from elasticjob.model.errors import FieldError
from elasticjob.model.queue import Overrides
from elasticjob.model.run import Run
from elasticjob.model.run import run_id as run_id_of_firing
from elasticjob.registry import Transaction
from elasticjob.registry.state import CorruptConfig

Forward = Callable[[Request], Awaitable[Response | None]]
PREFIX = "/v1/jobs/{job_id}/execs"


class ExecsDialect:
    """The dialect's answers over ``service`` (configuration), ``runs`` and ``agents`` (execs and their
    logs, the leader's: ``forward`` gives a follower's request to it)."""

    def __init__(self, service: JobService, runs: RunsView, agents: LogReader, forward: Forward) -> None:
        self.service = service
        self.state = service.state
        self.runs = runs
        self.agents = agents
        self.forward = forward

    # ---- finding jobs ------------------------------------------------------------------------------------
    def claimed(self, job_id: str) -> Job | None:
        """The job of this dialect ``/v1/jobs/{job_id}`` names — by its native name, or else by its number
        — or None (then it is Metronome's to answer). A job named ``job_id`` of another dialect is not this
        dialect's even if ``job_id`` is a number of this dialect."""
        try:
            stored = self.state.job(job_id)
        except CorruptConfig:
            return None
        if stored is not None:
            return stored.model if stored.model.dialect == x.DIALECT else None
        number = x.numeric_id(job_id)
        return None if number is None else self.numbered(number)

    def numbered(self, number: int) -> Job | None:
        """The job numbered ``number``: of the names ending in ``.{number}`` (a scan of the names, compared as
        strings), the one of this dialect with that id."""
        suffix = f".{number}"
        for name in self.state.job_names():
            if name.endswith(suffix):
                with contextlib.suppress(CorruptConfig):
                    stored = self.state.job(name)
                    if stored is not None and x.id_of(stored.model) == number:
                        return stored.model
        return None

    def visible(self, request: Request, job: Job | None, job_id: str) -> Job:
        """``job`` if there is one and the caller may see it, else 404."""
        if job is None or not job_scope(request).covers(job.jobName):
            raise NotFound(f"job {job_id} does not exist", (FieldError("job_id", ("no such job",)),))
        return job

    def meta(self, name: str) -> dict[str, Any]:
        known = self.state.job_meta(name)
        return known[0].to_json() if known is not None else {}

    # ---- the shared path ---------------------------------------------------------------------------------
    async def shared(self, request: Request, job_id: str | None) -> Response | None:
        """This dialect's answer to a request on ``/v1/jobs`` (``job_id`` None) or ``/v1/jobs/{job_id}``, or
        None when the request's shape (or the job it names) is Metronome's. Errors are raised as the domain
        errors (rendered in the native shape), not answered in Metronome's."""
        method = request.method
        if job_id is None:
            if method == "GET" and x.is_execs_list(request.query_params):
                return await self.list_jobs(request)
            if method == "POST":
                try:
                    value = json.loads(await request.body())
                except (ValueError, UnicodeDecodeError, RecursionError):
                    return None  # Metronome's to refuse
                if x.is_execs_body(value):
                    return await self.create_job(request, value)
            return None
        if method not in ("GET", "PUT", "DELETE"):
            return None
        job = await run_in_threadpool(self.claimed, job_id)
        if job is None:
            return None
        job = self.visible(request, job, job_id)
        if method == "GET":
            return self.job_answer(job, 200)
        if method == "PUT":
            return await self.update_job(request, job)
        await run_in_threadpool(self.service.deregister_job, job.jobName)
        return Response(status_code=204)

    def job_answer(self, job: Job, status: int) -> JSONResponse:
        value = x.job_json(job, self.meta(job.jobName))
        shows_image = any(value.get(f) is not None for f in x.IMAGE_FIELDS)
        headers = {"Warning": x.IMAGE_WARNING} if shows_image else None
        return JSONResponse(value, status_code=status, headers=headers)

    async def list_jobs(self, request: Request) -> Response:
        params = request.query_params
        namespace = params["namespace"]
        if not x.NAMESPACE_RE.fullmatch(namespace):
            raise ValidationFailed.field("namespace", "must be letters, digits, '_' and '-'")
        page = whole(params.get("page"), "page", 1, 1, MAX_PAGE)
        size = whole(params.get("page_size"), "page_size", x.DEFAULT_PAGE_SIZE, 1, x.MAX_PAGE_SIZE)
        jobs = job_scope(request)

        def read() -> dict[str, Any]:
            ours: list[tuple[int, Job]] = []
            for name in in_namespace(jobs.within(self.state.job_names()), namespace):
                with contextlib.suppress(CorruptConfig):
                    stored = self.state.job(name)
                    number = None if stored is None else x.id_of(stored.model)
                    if stored is not None and number is not None:
                        ours.append((number, stored.model))
            ours.sort(key=lambda pair: pair[0])
            shown = ours[(page - 1) * size:page * size]
            results = [x.job_json(job, self.meta(job.jobName)) for _, job in shown]
            url = str(request.url.replace(query=""))
            return envelope(results, len(ours), page, size, url, list(params.multi_items()))

        return JSONResponse(await run_in_threadpool(read))

    async def create_job(self, request: Request, value: dict[str, Any]) -> Response:
        body: x.JobBody = x.parse(x.JobBody, value)
        require_in_scope(request, "job", x.job_name(body.namespace, 0))
        template = x.to_native(body, 0)
        counter = self.service.layout.counter(x.COUNTER)
        store = self.service.store

        def numbered(txn: Transaction, _job: Job) -> Job:
            # Read here, each time the registration is decided: a version conflict on the counter (another
            # creation took the number) decides again with the next one. A name taken by a job of another
            # API is skipped.
            current = store.get(counter)
            last = current.value if current is not None and isinstance(current.value, int) else 0
            number = last + 1
            while self.state.job_record(x.job_name(body.namespace, number)) is not None:
                number += 1
            if current is None:
                txn.create(counter, number)
            else:
                txn.set(counter, number, version=current.version)
            return x.to_native(body, number)

        try:
            job = await run_in_threadpool(
                self.service.register_job, template, creator_of(request), False, numbered
            )
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, [x.body_path(d) for d in exc.details]) from None
        return self.job_answer(job, 201)

    async def update_job(self, request: Request, job: Job) -> Response:
        patch: x.JobPatch = x.parse(x.JobPatch, await _json(request, required=True))
        updated = x.patched(job, patch)
        try:
            written = await run_in_threadpool(self.service.update_job, updated)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, [x.body_path(d) for d in exc.details]) from None
        return self.job_answer(written, 200)

    # ---- execs -------------------------------------------------------------------------------------------
    def router(self) -> APIRouter:
        router = APIRouter(prefix=PREFIX, tags=["execs"])

        def job_of(request: Request, job_id: str) -> Job:
            number = x.numeric_id(job_id)
            return self.visible(request, None if number is None else self.numbered(number), job_id)

        def missing(job: Job, exec_id: str) -> NotFound:
            return NotFound(f"exec {exec_id} of job {x.id_of(job)} does not exist",
                            (FieldError("exec_id", ("no such exec",)),))

        def run_of(job: Job, exec_id: str) -> Run:
            """The run ``exec_id`` stands for (404 when it is none of the job's)."""
            run_id = x.run_id_of(exec_id)
            if run_id is None:
                raise missing(job, exec_id)
            try:
                return self.runs.find(job.jobName, run_id)
            except NotFound:
                raise missing(job, exec_id) from None

        @router.post("", status_code=201)
        async def create_exec(request: Request, job_id: str) -> Response:
            """Run the job now: 201, the exec (``W`` until it runs). Body (optional):
            ``{"runtime_vars": {"K": "V"}}``, variables on top of the job's for this exec only."""
            value = await _json(request, required=False)
            asked: x.ExecBody = x.parse(x.ExecBody, {} if value is None else value)
            if (forwarded := await self.forward(request)) is not None:
                return forwarded
            job = job_of(request, job_id)
            name = job.jobName
            overrides = Overrides.of(asked.runtime_vars)
            firing = await run_in_threadpool(self.service.trigger, name, None, overrides)
            run = await run_in_threadpool(self.runs.find, name, run_id_of_firing(name, firing["firingId"]))
            return JSONResponse(x.created_exec_json(job, self.meta(name), run), status_code=201)

        @router.get("")
        async def list_execs(request: Request, job_id: str) -> Response:
            """The job's execs, newest first: ``{"count", "next", "previous", "results"}``."""
            if (forwarded := await self.forward(request)) is not None:
                return forwarded
            params = request.query_params
            page = whole(params.get("page"), "page", 1, 1, MAX_PAGE)
            size = whole(params.get("page_size"), "page_size", x.DEFAULT_PAGE_SIZE, 1, x.MAX_PAGE_SIZE)
            job = job_of(request, job_id)
            total, found = await run_in_threadpool(self.runs.runs, job.jobName, (page - 1) * size, size)
            meta = self.meta(job.jobName)
            results = [x.exec_json(job, meta, run) for run in found]
            url = str(request.url.replace(query=""))
            return JSONResponse(envelope(results, total, page, size, url, list(params.multi_items())))

        @router.get("/{exec_id}")
        async def get_exec(request: Request, job_id: str, exec_id: str) -> Response:
            """One exec, with its job nested."""
            if (forwarded := await self.forward(request)) is not None:
                return forwarded
            job = job_of(request, job_id)
            run = await run_in_threadpool(run_of, job, exec_id)
            return JSONResponse(x.exec_detail_json(job, self.meta(job.jobName), run))

        @router.delete("/{exec_id}", status_code=204)
        async def delete_exec(request: Request, job_id: str, exec_id: str) -> Response:
            """Delete a finished exec's record (204); 409 while it has not finished."""
            if (forwarded := await self.forward(request)) is not None:
                return forwarded
            job = job_of(request, job_id)
            run = await run_in_threadpool(run_of, job, exec_id)
            await run_in_threadpool(self.runs.delete, job.jobName, run.run_id)
            return Response(status_code=204)

        @router.get("/{exec_id}/logs")
        async def exec_logs(request: Request, job_id: str, exec_id: str) -> Response:
            """The stdout lines of the exec's tasks, ``[{"message", "time"}]`` (whole Unix seconds) in time
            order; ``start_time``/``end_time`` (Unix seconds): only lines of those seconds and between."""
            params = request.query_params
            start_ms, end_ms = x.log_window(params.get("start_time"), params.get("end_time"))
            if (forwarded := await self.forward(request)) is not None:
                return forwarded
            job = job_of(request, job_id)
            run = await run_in_threadpool(run_of, job, exec_id)
            lines: list[tuple[int, int, str]] = []
            for order, task in enumerate(t for t in run.tasks if t.agent_id and t.sharding_item is not None):
                read = functools.partial(self.agents.read_lines, task.agent_id, task.task_id, "stdout",
                                         start=None, size=MAX_LINES, start_ms=start_ms, end_ms=end_ms)
                try:
                    chunk = await run_in_threadpool(read)
                except Unavailable as exc:
                    raise Unavailable(f"cannot read the log of exec {exec_id}: {exc.message}") from None
                if chunk.error:
                    continue  # not started there yet, or removed by the agent's retention: no lines
                lines.extend((line.time_ms, order, line.data.decode("utf-8", errors="replace"))
                             for line in chunk.lines)
            lines.sort(key=lambda line: (line[0], line[1]))
            return JSONResponse([{"message": message, "time": time_ms // 1000}
                                 for time_ms, _, message in lines])

        return router


async def _json(request: Request, required: bool) -> Any:
    """The request's JSON body (None: empty and not ``required``); 422 naming ``body`` otherwise."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ValidationFailed.field("body", "expected a JSON object")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed.field("body", "is not valid JSON") from None

