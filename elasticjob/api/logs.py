"""Task and run logs, read from the agents through the leader: byte ranges, timestamped lines, following.

``GET /job/tasks/{taskId}/logs`` answers a byte range (``offset``, ``length``: the original form) unless
one of the line parameters is given: ``from``/``size`` (line paging; a negative ``from`` counts from the
end), ``start_time``/``end_time`` (Unix seconds: lines the agent received in that window) or ``follow``
(new lines as they come, as NDJSON, until the task has ended). ``GET /job/jobs/{job}/runs/{runId}/logs``
answers the lines of every task of a run (the same parameters, per task), or follows them all until the
run has ended. Logs the agent's retention removed answer 410 Gone; a follower forwards to the leader
(streaming what it follows).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from elasticjob.api.bodies import path_name
from elasticjob.api.errors import ApiError
from elasticjob.api.runs import RunsView
from elasticjob.model import FieldError, NotFound, TaskId, Unavailable, ValidationFailed
from elasticjob.model.run import RunTask
from elasticjob.protocol import agent_pb2 as pb

__all__ = ["LINE_PARAMETERS", "LineQuery", "LogReader", "add_log_routes", "line_json", "line_query"]

MAX_LOG_CHUNK = 1024 * 1024
MAX_LINES = 10_000
DEFAULT_LINES = 100
MAX_POSITION = 2**62  # byte offsets and line numbers, either sign: within the agent protocol's int64
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
LINE_PARAMETERS = ("from", "size", "start_time", "end_time", "follow")
FOLLOW_POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
NDJSON = "application/x-ndjson"


class LogReader(Protocol):
    """Reads a task's log through its agent; raises ``Unavailable`` when the agent cannot answer."""

    def read_log(self, agent_id: str, task_id: str, stream: str, offset: int, length: int) -> pb.LogChunk: ...

    def read_lines(
        self, agent_id: str, task_id: str, stream: str, *, start: int | None = None, size: int = 100,
        start_ms: int | None = None, end_ms: int | None = None,
    ) -> pb.LogChunk: ...


@dataclass(frozen=True)
class LineQuery:
    stream: str
    start: int | None  # None: the oldest line kept; negative: that many lines before the end
    size: int
    start_ms: int | None
    end_ms: int | None
    follow: bool


def _number(params: Mapping[str, str], name: str, errors: list[FieldError]) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.append(FieldError(name, (f"must be a number (got {raw!r})",)))
        return None
    return value


def line_query(params: Mapping[str, str]) -> LineQuery:
    """The line query of a request's parameters (pure); ``ValidationFailed`` naming each bad parameter."""
    errors: list[FieldError] = []
    stream = params.get("stream", "stdout")
    if stream not in ("stdout", "stderr"):
        errors.append(FieldError("stream", ("must be stdout or stderr",)))
    start = _number(params, "from", errors)
    if start is not None and (start != int(start) or abs(start) > MAX_POSITION):
        errors.append(FieldError("from", (f"must be a whole number from -{MAX_POSITION} to {MAX_POSITION}",)))
    size = _number(params, "size", errors)
    if size is not None and (size != int(size) or not 1 <= size <= MAX_LINES):
        errors.append(FieldError("size", (f"must be a whole number from 1 to {MAX_LINES}",)))
    start_time = _number(params, "start_time", errors)
    end_time = _number(params, "end_time", errors)
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        if value is not None and not 0 <= value <= MAX_UNIX_SECONDS:
            errors.append(FieldError(name, (f"must be Unix seconds from 0 to {MAX_UNIX_SECONDS}",)))
    if start_time is not None and end_time is not None and end_time < start_time:
        errors.append(FieldError("end_time", ("must not be before start_time",)))
    follow = params.get("follow", "false").lower()
    if follow not in ("true", "false", "1", "0"):
        errors.append(FieldError("follow", ("must be true or false",)))
    if errors:
        raise ValidationFailed("invalid log query", errors)
    return LineQuery(
        stream=stream,
        start=None if start is None else int(start),
        size=DEFAULT_LINES if size is None else int(size),
        start_ms=None if start_time is None else int(start_time * 1000),
        end_ms=None if end_time is None else int(end_time * 1000),
        follow=follow in ("true", "1"),
    )


def line_json(line: pb.LogLine, **extra: Any) -> dict[str, Any]:
    """One line as the API answers it: ``line`` (its number), ``time`` (Unix seconds), ``message``."""
    body: dict[str, Any] = {**extra, "line": line.number, "time": line.time_ms / 1000,
                            "message": line.data.decode("utf-8", errors="replace")}
    if line.truncated:
        body["truncated"] = True
    return body


def _failure(task_id: str, chunk: pb.LogChunk) -> ApiError | NotFound:
    if chunk.gone_ms:
        return ApiError(410, chunk.error, (FieldError("taskId", (chunk.error,)),))
    return NotFound(chunk.error or f"no logs for task {task_id}")


def _task(task_id: str) -> TaskId:
    try:
        return TaskId.parse(task_id)
    except ValueError:
        raise NotFound(f"task '{task_id}' does not exist") from None


def add_log_routes(
    router: APIRouter,
    forward: Callable[[Request], Awaitable[Response | None]],
    leader_http: Callable[[], str | None],
    is_leader: Callable[[], bool],
    agents: LogReader,
    runs: RunsView,
) -> None:
    async def read_lines(agent_id: str, task_id: str, query: LineQuery, start: int | None) -> pb.LogChunk:
        try:
            return await run_in_threadpool(
                lambda: agents.read_lines(agent_id, task_id, query.stream, start=start, size=query.size,
                                          start_ms=query.start_ms, end_ms=query.end_ms)
            )
        except Unavailable as exc:
            raise Unavailable(f"cannot read the logs of task {task_id}: {exc.message}") from None

    async def relay(request: Request) -> Response | None:
        """Forward to the leader; a followed log is streamed through as it comes."""
        if is_leader():
            return None
        if line_query(dict(request.query_params)).follow:
            return await _stream_from_leader(request, leader_http)
        return await forward(request)

    @router.get("/tasks/{taskId}/logs")
    async def task_logs(
        request: Request,
        taskId: str,  # noqa: N803
        stream: str = "stdout",
        offset: int = Query(0, ge=-MAX_POSITION, le=MAX_POSITION,
                            description="bytes: the first (negative: from end)"),
        length: int = 65536,
        from_: int | None = Query(None, alias="from", ge=-MAX_POSITION, le=MAX_POSITION,
                                    description="lines: the first (negative: from end)"),
        size: int | None = Query(None, description=f"lines: at most this many (default {DEFAULT_LINES})"),
        start_time: float | None = Query(None, ge=0, le=MAX_UNIX_SECONDS,
                                         description="lines received at or after (Unix seconds)"),
        end_time: float | None = Query(None, ge=0, le=MAX_UNIX_SECONDS,
                                       description="lines received at or before (Unix seconds)"),
        follow: bool = Query(False, description="stream new lines (NDJSON) until the task has ended"),
    ) -> Any:
        """A task's stdout or stderr, read from its agent. Without line parameters, a byte range: a negative
        ``offset`` counts from the end; answer ``{"taskId", "stream", "offset", "nextOffset", "size", "eof",
        "data"}``. With ``from``/``size``/``start_time``/``end_time``: timestamped lines, answer
        ``{"taskId", "stream", "lines": [{"line", "time", "message"}], "firstLine", "nextLine", "eof",
        "running"}`` (ask again from ``nextLine``). With ``follow=true``: one JSON line per log line as they
        come (``application/x-ndjson``), ending when the task has ended. 410 once the agent's retention
        removed the logs."""
        del from_, size, start_time, end_time, follow  # read from the query (presence matters)
        forwarded = await relay(request)
        if forwarded is not None:
            return forwarded
        task = _task(taskId)
        if any(name in request.query_params for name in LINE_PARAMETERS):
            query = line_query(dict(request.query_params))
            if query.follow:
                lines = _follow_task(request, task.agent_id, taskId, query)
                return StreamingResponse(lines, media_type=NDJSON)
            chunk = await read_lines(task.agent_id, taskId, query, query.start)
            if chunk.error:
                raise _failure(taskId, chunk)
            return JSONResponse({
                "taskId": taskId,
                "stream": query.stream,
                "lines": [line_json(line) for line in chunk.lines],
                "firstLine": chunk.first_line,
                "nextLine": chunk.next_line,
                "eof": chunk.eof,
                "running": chunk.running,
            })
        if stream not in ("stdout", "stderr"):
            raise ValidationFailed.field("stream", "must be stdout or stderr")
        if not 0 < length <= MAX_LOG_CHUNK:
            raise ValidationFailed.field("length", f"must be between 1 and {MAX_LOG_CHUNK}")
        try:
            chunk = await run_in_threadpool(agents.read_log, task.agent_id, taskId, stream, offset, length)
        except Unavailable as exc:
            raise Unavailable(f"cannot read the logs of task {taskId}: {exc.message}") from None
        if chunk.error:
            raise _failure(taskId, chunk)
        return JSONResponse({
            "taskId": taskId,
            "stream": stream,
            "offset": chunk.offset,
            "nextOffset": chunk.next_offset,
            "size": chunk.size,
            "eof": chunk.eof,
            "data": chunk.data.decode("utf-8", errors="replace"),
        })

    async def _follow_task(
        request: Request, agent_id: str, task_id: str, query: LineQuery
    ) -> AsyncIterator[str]:
        start = query.start
        quiet = 0.0
        while not await request.is_disconnected():
            try:
                chunk = await read_lines(agent_id, task_id, query, start)
            except Unavailable as exc:
                yield json.dumps({"error": exc.message}) + "\n"
                return
            if chunk.error:
                yield json.dumps({"error": chunk.error, "gone": bool(chunk.gone_ms)}) + "\n"
                return
            for line in chunk.lines:
                yield json.dumps(line_json(line)) + "\n"
            start = chunk.next_line
            if chunk.eof and (not chunk.running or _window_closed(query)):
                return
            if not chunk.eof:
                continue
            if chunk.lines:
                quiet = 0.0
            elif quiet >= KEEPALIVE_SECONDS:  # a blank line keeps proxies from closing a quiet stream
                quiet = 0.0
                yield "\n"
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            quiet += FOLLOW_POLL_SECONDS

    @router.get("/jobs/{jobName}/runs/{runId}/logs")
    async def run_logs(
        request: Request,
        jobName: str,  # noqa: N803
        runId: str,  # noqa: N803
        stream: str = "stdout",
        from_: int | None = Query(None, alias="from", ge=-MAX_POSITION, le=MAX_POSITION,
                                    description="first line of each (negative: from end)"),
        size: int | None = Query(None, description=f"lines of each task at most (default {DEFAULT_LINES})"),
        start_time: float | None = Query(None, ge=0, le=MAX_UNIX_SECONDS,
                                         description="lines received at or after (Unix seconds)"),
        end_time: float | None = Query(None, ge=0, le=MAX_UNIX_SECONDS,
                                       description="lines received at or before (Unix seconds)"),
        follow: bool = Query(False, description="stream every task's new lines (NDJSON) until the run ends"),
    ) -> Any:
        """The timestamped lines of every task of a run (one per shard and attempt): ``{"jobName", "runId",
        "stream", "tasks": [{"taskId", "shardingItem", "agentId", "state", "lines", "firstLine", "nextLine",
        "eof", "running"}]}``; a task whose logs cannot be read has ``error`` instead (and ``gone: true`` once
        the retention removed them). Query as for a task's lines, applied to each task. ``follow=true``: one
        JSON line per log line, with ``taskId`` and ``shardingItem``, until the run has ended."""
        del stream, from_, size, start_time, end_time, follow  # read from the query
        forwarded = await relay(request)
        if forwarded is not None:
            return forwarded
        job_name = path_name(jobName, lambda name: NotFound(f"job '{name}' does not exist"))
        query = line_query(dict(request.query_params))
        run = await run_in_threadpool(runs.find, job_name, runId)
        if query.follow:
            return StreamingResponse(_follow_run(request, job_name, runId, query), media_type=NDJSON)
        tasks = [task for task in run.tasks if _has_logs(task)]
        chunks = await asyncio.gather(*(_read_or_error(task, query, query.start) for task in tasks))
        answered = []
        for task, chunk in zip(tasks, chunks, strict=True):
            entry: dict[str, Any] = {"taskId": task.task_id, "shardingItem": task.sharding_item,
                                     "agentId": task.agent_id, "state": task.state}
            if isinstance(chunk, str) or chunk.error:
                entry["error"] = chunk if isinstance(chunk, str) else chunk.error
                entry["gone"] = not isinstance(chunk, str) and bool(chunk.gone_ms)
            else:
                entry.update({
                    "lines": [line_json(line) for line in chunk.lines],
                    "firstLine": chunk.first_line,
                    "nextLine": chunk.next_line,
                    "eof": chunk.eof,
                    "running": chunk.running,
                })
            answered.append(entry)
        return JSONResponse(
            {"jobName": job_name, "runId": run.run_id, "stream": query.stream, "tasks": answered}
        )

    async def _read_or_error(task: RunTask, query: LineQuery, start: int | None) -> pb.LogChunk | str:
        try:
            return await read_lines(task.agent_id, task.task_id, query, start)
        except Unavailable as exc:
            return exc.message

    async def _follow_run(
        request: Request, job_name: str, run_id: str, query: LineQuery
    ) -> AsyncIterator[str]:
        next_lines: dict[str, int | None] = {}
        done: set[str] = set()
        quiet = 0.0
        while not await request.is_disconnected():
            try:
                run = await run_in_threadpool(runs.find, job_name, run_id)
            except (NotFound, Unavailable) as exc:  # the run's record was deleted, or the leader lost
                yield json.dumps({"error": exc.message}) + "\n"
                return
            tasks = [task for task in run.tasks if _has_logs(task) and task.task_id not in done]
            chunks = await asyncio.gather(
                *(_read_or_error(task, query, next_lines.get(task.task_id, query.start)) for task in tasks)
            )
            more = False
            for task, chunk in zip(tasks, chunks, strict=True):
                extra = {"taskId": task.task_id, "shardingItem": task.sharding_item}
                if isinstance(chunk, str) or chunk.error:
                    message = chunk if isinstance(chunk, str) else chunk.error
                    yield json.dumps({**extra, "error": message}) + "\n"
                    done.add(task.task_id)
                    continue
                for line in chunk.lines:
                    yield json.dumps(line_json(line, **extra)) + "\n"
                    quiet = 0.0
                next_lines[task.task_id] = chunk.next_line
                if chunk.eof and (not chunk.running or _window_closed(query)):
                    if task.state not in ("STAGING", "RUNNING"):
                        done.add(task.task_id)
                elif not chunk.eof:
                    more = True
            if run.status.finished and all(t.task_id in done for t in run.tasks if _has_logs(t)):
                return
            if more:
                continue
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield "\n"
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            quiet += FOLLOW_POLL_SECONDS


def _has_logs(task: RunTask) -> bool:
    """A task that ran on an agent (a MISSED firing's record, or a task not placed yet, has no logs)."""
    return bool(task.agent_id) and task.sharding_item is not None


def _window_closed(query: LineQuery) -> bool:
    return query.end_ms is not None and query.end_ms < time.time() * 1000


def _who_asks(request: Request) -> dict[str, str]:
    """The credentials to pass on to the leader, which checks them again."""
    found = request.headers.get("authorization")
    return {"authorization": found} if found is not None else {}


async def _stream_from_leader(request: Request, leader_http: Callable[[], str | None]) -> Response:
    address = await run_in_threadpool(leader_http)
    if address is None:
        raise Unavailable("no leader is elected at the moment; try again shortly")
    client = httpx.AsyncClient(timeout=httpx.Timeout(30, read=KEEPALIVE_SECONDS * 4))
    try:
        upstream = await client.send(
            client.build_request("GET", f"http://{address}{request.url.path}", params=request.url.query,
                                 headers=_who_asks(request)),
            stream=True,
        )
    except httpx.HTTPError as exc:
        await client.aclose()
        raise Unavailable(f"the leader at {address} did not answer ({type(exc).__name__})") from None

    async def relayed() -> AsyncIterator[bytes]:
        try:
            async for piece in upstream.aiter_raw():
                yield piece
        except httpx.HTTPError:
            yield json.dumps({"error": f"the leader at {address} stopped answering"}).encode() + b"\n"
        finally:
            await upstream.aclose()
            await client.aclose()

    return StreamingResponse(relayed(), status_code=upstream.status_code,
                             media_type=upstream.headers.get("content-type"))
