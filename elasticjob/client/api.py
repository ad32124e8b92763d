"""``ElasticJobClient``: a synchronous client of a master's REST API (native routes and ``/v1``).

Specs (jobs, apps, schedules) go in and come out as plain dicts — they are the caller's documents —
and runs, tasks and log chunks come back as frozen dataclasses (``records.py``). Every method raises
``ApiError`` when the master refuses (its status, message and field details) and ``MasterUnreachable``
when it does not answer. One instance may be shared between threads (``httpx.Client`` is thread-safe).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx

from elasticjob.client.errors import ApiError, RunTimeout
from elasticjob.client.http import Transport, credentials, default_url, segment
from elasticjob.client.records import JobRun, LogChunk, LogLine, LogLines, Run, RunPage, TaskLogError

LOG_CHUNK = 65536  # bytes a log read asks for (the master serves at most 1 MiB)


class ElasticJobClient:
    """A master's API. ``url``: the master (default ``ELASTICJOB_URL``, else ``http://127.0.0.1:8899``);
    ``http``: an ``httpx.Client`` of your own (its base URL must be the master's)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        """``token`` (bearer) or ``user`` and ``password`` (HTTP Basic) for a master with an auth file;
        without them, ``ELASTICJOB_TOKEN`` or ``ELASTICJOB_USER``/``ELASTICJOB_PASSWORD`` if set."""
        self.url = (url or default_url()).rstrip("/")
        self._api = Transport(self.url, timeout, http, credentials(token, user, password))

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> ElasticJobClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Any other route: ``call("GET", "/leader")``; keyword arguments: ``json``, ``text``, ``params``."""
        return self._api.call(method, path, **kwargs)

    # ---- apps (native) ------------------------------------------------------------------------------
    def list_apps(self) -> list[dict[str, Any]]:
        """Every registered app, in name order."""
        return list(self._api.call("GET", "/app/list"))

    def get_app(self, name: str) -> dict[str, Any]:
        return dict(self._api.call("GET", f"/app/{segment(name)}"))

    def register_app(self, spec: Mapping[str, Any]) -> None:
        self._api.call("POST", "/app", json=dict(spec))

    def update_app(self, spec: Mapping[str, Any]) -> None:
        self._api.call("PUT", "/app", json=dict(spec))

    def remove_app(self, name: str, cascade: bool = False) -> None:
        """Remove an app; 409 while jobs use it, unless ``cascade`` (which removes those jobs too)."""
        self._api.call("DELETE", f"/app/{segment(name)}", params={"cascade": "true"} if cascade else None)

    def enable_app(self, name: str) -> None:
        self._api.call("POST", f"/app/{segment(name)}/enable")

    def disable_app(self, name: str) -> None:
        self._api.call("POST", f"/app/{segment(name)}/disable")

    # ---- jobs (native) ------------------------------------------------------------------------------
    def list_jobs(self) -> list[dict[str, Any]]:
        """Every job in the native shape, in name order."""
        return list(self._api.call("GET", "/job/jobs"))

    def get_job(self, name: str) -> dict[str, Any]:
        """One job in the native shape, with ``nextFireTime`` and ``lastFireTime``."""
        return dict(self._api.call("GET", f"/job/jobs/{segment(name)}"))

    def register_job(self, spec: Mapping[str, Any]) -> None:
        self._api.call("POST", "/job/register", json=dict(spec))

    def update_job(self, spec: Mapping[str, Any]) -> None:
        self._api.call("PUT", "/job/update", json=dict(spec))

    def remove_job(self, name: str) -> None:
        self._api.call("DELETE", "/job/deregister", text=name)

    def enable_job(self, name: str) -> None:
        self._api.call("POST", f"/job/{segment(name)}/enable")

    def disable_job(self, name: str) -> None:
        self._api.call("POST", f"/job/{segment(name)}/disable")

    def trigger_job(
        self, name: str, env: Mapping[str, str] | None = None, job_parameter: str | None = None
    ) -> None:
        """Queue one firing now (``POST /job/trigger``); ``env`` and ``job_parameter`` apply to that run only.
        The master does not say which run it is: ``start_run`` finds it."""
        if env or job_parameter is not None:
            body: dict[str, Any] = {"jobName": name, "environment": dict(env or {})}
            if job_parameter is not None:
                body["jobParameter"] = job_parameter
            self._api.call("POST", "/job/trigger", json=body)
        else:
            self._api.call("POST", "/job/trigger", text=name)

    def tasks(self, kind: str = "running") -> list[dict[str, Any]]:
        """``ready`` (queued firings), ``running`` or ``failover`` tasks."""
        return list(self._api.call("GET", f"/job/tasks/{segment(kind)}"))

    def executions(
        self, job_name: str | None = None, state: str | None = None, page: int = 1, per_page: int = 20
    ) -> dict[str, Any]:
        """Recorded executions, newest first: ``{"total", "rows"}``; ``state``: comma-separated states."""
        params = {"page": str(page), "per_page": str(per_page)}
        if job_name:
            params["jobName"] = job_name
        if state:
            params["state"] = state
        return dict(self._api.call("GET", "/job/events/executions", params=params))

    # ---- Metronome jobs (/v1) -----------------------------------------------------------------------
    def list_v1_jobs(self, embed: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Every job in Metronome's shape; ``embed``: activeRuns, schedules, history, historySummary."""
        return list(self._api.call("GET", "/v1/jobs", params={"embed": list(embed)}))

    def get_v1_job(self, job_id: str, embed: Iterable[str] = ()) -> dict[str, Any]:
        return dict(self._api.call("GET", f"/v1/jobs/{segment(job_id)}", params={"embed": list(embed)}))

    def create_v1_job(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create a job (and its schedule, if ``spec`` has one); the job as stored. 409 if it exists."""
        return dict(self._api.call("POST", "/v1/jobs", json=dict(spec)))

    def update_v1_job(self, job_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a job's spec; its schedule stays as it is."""
        return dict(self._api.call("PUT", f"/v1/jobs/{segment(job_id)}", json=dict(spec)))

    def delete_v1_job(self, job_id: str, stop_current_job_runs: bool = False) -> dict[str, Any]:
        """Remove a job (the job as it was); 409 while it has active runs unless ``stop_current_job_runs``."""
        params = {"stopCurrentJobRuns": "true"} if stop_current_job_runs else None
        return dict(self._api.call("DELETE", f"/v1/jobs/{segment(job_id)}", params=params))

    def job_history(self, job_id: str) -> dict[str, Any]:
        """``embed=history``: ``successCount``, ``failureCount``, ``lastSuccessAt``, ``lastFailureAt``,
        ``successfulFinishedRuns`` and ``failedFinishedRuns`` (``[{"id", "createdAt", "finishedAt"}]``,
        newest first)."""
        return dict(self.get_v1_job(job_id, ["history"])["history"])

    # ---- schedules (/v1) ----------------------------------------------------------------------------
    def list_schedules(self, job_id: str) -> list[dict[str, Any]]:
        """The job's schedules (at most one), each with its computed ``nextRunAt`` when enabled."""
        return list(self._api.call("GET", f"/v1/jobs/{segment(job_id)}/schedules"))

    def get_schedule(self, job_id: str, schedule_id: str) -> dict[str, Any]:
        path = f"/v1/jobs/{segment(job_id)}/schedules/{segment(schedule_id)}"
        return dict(self._api.call("GET", path))

    def create_schedule(self, job_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Add the job's schedule; 409 if it has one already."""
        return dict(self._api.call("POST", f"/v1/jobs/{segment(job_id)}/schedules", json=dict(spec)))

    def update_schedule(self, job_id: str, schedule_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/v1/jobs/{segment(job_id)}/schedules/{segment(schedule_id)}"
        return dict(self._api.call("PUT", path, json=dict(spec)))

    def delete_schedule(self, job_id: str, schedule_id: str) -> None:
        self._api.call("DELETE", f"/v1/jobs/{segment(job_id)}/schedules/{segment(schedule_id)}")

    # ---- Metronome runs (/v1) -----------------------------------------------------------------------
    def start_v1_run(
        self, job_id: str, env: Mapping[str, str] | None = None, job_parameter: str | None = None
    ) -> JobRun:
        """Start a run now (``POST /v1/jobs/{id}/runs``); ``env`` and ``job_parameter`` apply to this run
        only (an extension of Metronome's route: sent only when given)."""
        body: dict[str, Any] = {}
        if env:
            body["env"] = dict(env)
        if job_parameter is not None:
            body["jobParameter"] = job_parameter
        path = f"/v1/jobs/{segment(job_id)}/runs"
        return JobRun.from_json(self._api.call("POST", path, json=body or None))

    def list_v1_runs(self, job_id: str) -> list[JobRun]:
        """The job's active runs."""
        return [JobRun.from_json(r) for r in self._api.call("GET", f"/v1/jobs/{segment(job_id)}/runs")]

    def get_v1_run(self, job_id: str, run_id: str) -> JobRun:
        path = f"/v1/jobs/{segment(job_id)}/runs/{segment(run_id)}"
        return JobRun.from_json(self._api.call("GET", path))

    def stop_v1_run(self, job_id: str, run_id: str) -> JobRun:
        """Stop an active run (its tasks are killed); the run as it was. 409 if it has ended."""
        path = f"/v1/jobs/{segment(job_id)}/runs/{segment(run_id)}/actions/stop"
        return JobRun.from_json(self._api.call("POST", path))

    # ---- runs (native) ------------------------------------------------------------------------------
    def list_runs(self, job_name: str, page: int = 1, per_page: int = 20) -> RunPage:
        """A page of the job's runs, newest first (those still queued first)."""
        params = {"page": str(page), "per_page": str(per_page)}
        value = self._api.call("GET", f"/job/jobs/{segment(job_name)}/runs", params=params)
        return RunPage(value["total"], tuple(Run.from_json(r) for r in value["runs"]), value)

    def get_run(self, job_name: str, run_id: str) -> Run:
        return Run.from_json(self._api.call("GET", f"/job/jobs/{segment(job_name)}/runs/{segment(run_id)}"))

    def stop_run(self, job_name: str, run_id: str, reason: str = "") -> Run:
        """Stop an unfinished run: its running tasks end KILLED, its queued parts are dropped; the run ends
        FAILED. Returns the run as it was when asked; 409 if it had finished."""
        path = f"/job/jobs/{segment(job_name)}/runs/{segment(run_id)}/stop"
        return Run.from_json(self._api.call("POST", path, params={"reason": reason} if reason else None))

    def delete_run(self, job_name: str, run_id: str) -> None:
        """Delete a finished run's record; 409 if it has not finished."""
        self._api.call("DELETE", f"/job/jobs/{segment(job_name)}/runs/{segment(run_id)}")

    def start_run(
        self,
        job_id: str,
        env: Mapping[str, str] | None = None,
        job_parameter: str | None = None,
    ) -> Run:
        """Start a run now and return it (as ``get_run`` does): ``POST /v1/jobs/{id}/runs``, whose answer
        names the run. ``env`` and ``job_parameter`` apply to this run only."""
        return self.get_run(job_id, self.start_v1_run(job_id, env, job_parameter).id)

    def wait_for_run(
        self,
        job_name: str,
        run_id: str,
        timeout: float | None = 600.0,
        poll: float = 1.0,
        on_progress: Callable[[Run], None] | None = None,
    ) -> Run:
        """Poll the run until it is SUCCESS or FAILED and return it; ``RunTimeout`` (a ``TimeoutError``)
        after ``timeout`` seconds (None: no limit). ``on_progress(run)`` is called with the run as first
        seen and then whenever its status, its reason or one of its tasks' states changes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: tuple[str, ...] | None = None
        while True:
            run = self.get_run(job_name, run_id)
            progress = (run.status, run.reason, *(f"{t.task_id}={t.state}" for t in run.tasks))
            if on_progress is not None and progress != seen:
                on_progress(run)
            seen = progress
            if run.finished:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeout(run, timeout or 0.0)
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))

    # ---- task logs ----------------------------------------------------------------------------------
    def task_log(
        self, task_id: str, stream: str = "stdout", offset: int = 0, length: int = LOG_CHUNK
    ) -> LogChunk:
        """A byte range of a task's ``stdout`` or ``stderr``, read from its agent through the master:
        ``offset`` is the first byte (negative: from the end), ``length`` at most this many bytes."""
        path = f"/job/tasks/{segment(task_id)}/logs"
        params = {"stream": stream, "offset": str(offset), "length": str(length)}
        return LogChunk.from_json(self._api.call("GET", path, params=params))

    def task_lines(
        self,
        task_id: str,
        stream: str = "stdout",
        start: int | None = None,
        size: int = 100,
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> LogLines:
        """Timestamped lines of a task's log: from line ``start`` (None: the oldest kept; negative: that many
        before the end), at most ``size``, received in ``[start_time, end_time]`` (Unix seconds) if given.
        Read on from ``next_line``. ``ApiError`` 410 once the agent's retention removed the logs."""
        path = f"/job/tasks/{segment(task_id)}/logs"
        params = _line_params(stream, start, size, start_time, end_time)
        return LogLines.from_json(self._api.call("GET", path, params=params))

    def run_lines(
        self,
        job_name: str,
        run_id: str,
        stream: str = "stdout",
        start: int | None = None,
        size: int = 100,
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> dict[str, LogLines | ApiError]:
        """The lines of every task of a run, by task id (as ``task_lines``, applied to each); a task whose
        logs cannot be read maps to the ``ApiError`` saying why (status 410 when they are gone)."""
        path = f"/job/jobs/{segment(job_name)}/runs/{segment(run_id)}/logs"
        answer = self._api.call("GET", path, params=_line_params(stream, start, size, start_time, end_time))
        found: dict[str, LogLines | ApiError] = {}
        for task in answer["tasks"]:
            if "error" in task:
                found[task["taskId"]] = ApiError(410 if task.get("gone") else 404, task["error"])
            else:
                found[task["taskId"]] = LogLines.from_json({**task, "stream": answer["stream"]})
        return found

    def follow_task_log(
        self, task_id: str, stream: str = "stdout", start: int | None = None
    ) -> Iterator[LogLine]:
        """Each line of a task's log as it comes (from ``start``, as ``task_lines``), until the task has
        ended. ``ApiError`` if the log cannot be read (410 once it is gone), also when it stops being
        readable while followed."""
        path = f"/job/tasks/{segment(task_id)}/logs"
        yield from self._follow(path, _line_params(stream, start, None, None, None, follow=True))

    def follow_run_log(
        self, job_name: str, run_id: str, stream: str = "stdout", start: int | None = None
    ) -> Iterator[LogLine | TaskLogError]:
        """Each line of every task of a run as it comes (``task_id`` and ``sharding_item`` set), until the
        run has ended; a task whose log cannot be read (any more) yields one ``TaskLogError``."""
        path = f"/job/jobs/{segment(job_name)}/runs/{segment(run_id)}/logs"
        for item in self._api.stream_lines(path, _line_params(stream, start, None, None, None, follow=True)):
            if "error" not in item:
                yield LogLine.from_json(item)
            elif item.get("taskId") is not None:
                yield TaskLogError(str(item["taskId"]), item.get("shardingItem"), str(item["error"]))
            else:
                raise ApiError(503, str(item["error"]))

    def _follow(self, path: str, params: dict[str, str]) -> Iterator[LogLine]:
        for item in self._api.stream_lines(path, params):
            if "error" in item:
                raise ApiError(410 if item.get("gone") else 503, str(item["error"]))
            yield LogLine.from_json(item)


def _line_params(
    stream: str, start: int | None, size: int | None, start_time: float | None, end_time: float | None,
    follow: bool = False,
) -> dict[str, str]:
    params = {"stream": stream}
    if start is not None:
        params["from"] = str(start)
    if size is not None:
        params["size"] = str(size)
    if start_time is not None:
        params["start_time"] = repr(float(start_time))
    if end_time is not None:
        params["end_time"] = repr(float(end_time))
    if follow:
        params["follow"] = "true"
    if len(params) == 1:
        params["from"] = "0"  # a line parameter asks for lines (rather than a byte range)
    return params


def last_lines(text: str, count: int, whole: bool = True) -> str:
    """The last ``count`` lines of ``text`` (a trailing newline ends a line, it does not start one).
    ``whole``: ``text`` starts at a line's start; else its first, cut line is never returned."""
    if count <= 0:
        return ""
    parts = text.splitlines(keepends=True)
    if not whole and parts:
        parts = parts[1:]
    return "".join(parts[-count:])
