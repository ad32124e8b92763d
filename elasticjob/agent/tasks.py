"""The agent's task manager: runs each launched shard in its own sandbox and reports its states.

One thread per task: STAGING (fetch the app, unpack it into the sandbox) -> RUNNING (the process) ->
FINISHED | FAILED | KILLED. Terminal statuses are kept until the master acknowledges them, so a status
sent while no master was reachable is reported again on the next registration. Thread-safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticjob import cron
from elasticjob.agent.fetch import AppCache, FetchError
from elasticjob.agent.process import ExitInfo, ProcessSpec, TaskProcess, start_task
from elasticjob.agent.tasklogs import LogChunk, read_log
from elasticjob.agent.unpack import ArchiveError, UnsafeArchive, unpack
from elasticjob.model import TaskState
from elasticjob.protocol.convert import StatusUpdate, now_ms

log = logging.getLogger(__name__)

# Exit codes of ``python -m elasticjob.sdk.runner`` (see elasticjob.sdk.runner).
RUNNER_BAD_CONFIGURATION = 2
RUNNER_MEMORY_ERROR = 3
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH")


@dataclass
class TaskRun:
    spec: dict[str, Any]
    sandbox: Path
    status: StatusUpdate
    started_ms: int = 0
    process: TaskProcess | None = None
    kill_requested: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)  # set with kill_requested
    abandoned: bool = False  # killed because the agent gave it up (reported FAILED, so it fails over)


class TaskManager:
    def __init__(
        self,
        work_dir: Path,
        cache: AppCache,
        report: Callable[[StatusUpdate], None],
        *,
        kill_grace: float = 10.0,
        max_unpacked_bytes: int = 1024**3,
    ) -> None:
        self.sandboxes = work_dir / "sandboxes"
        self.sandboxes.mkdir(parents=True, exist_ok=True)
        self.cache = cache
        self.report = report
        self.kill_grace = kill_grace
        self.max_unpacked_bytes = max_unpacked_bytes
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskRun] = {}

    # ---- commands from the master ----------------------------------------------------------------
    def launch(self, spec: dict[str, Any]) -> None:
        task_id = spec["task_id"]
        with self._lock:
            if task_id in self._tasks:
                log.info("task %s already known; ignoring a repeated launch", task_id)
                return
            staging = StatusUpdate(task_id, TaskState.STAGING, firing_id=spec["firing_id"])
            run = TaskRun(spec, self.sandboxes / task_id, staging)
            self._tasks[task_id] = run
        threading.Thread(target=self._execute, args=(run,), name=f"task-{task_id[-8:]}", daemon=True).start()

    def kill(self, task_id: str, reason: str, *, abandon: bool = False) -> None:
        """Kill a task (SIGTERM, SIGKILL after the grace period). ``abandon``: the agent gives it up, so
        it ends FAILED with reason ``agent`` (and fails over) instead of KILLED."""
        with self._lock:
            run = self._tasks.get(task_id)
        if run is None:
            # Unknown here: tell the master it is not running (it may be a stale record there).
            self.report(
                StatusUpdate(
                    task_id,
                    TaskState.KILLED,
                    message=f"not running on this agent ({reason})",
                    reason="unknown",
                    timestamp_ms=now_ms(),
                )
            )
            return
        with run.lock:
            if run.status.state.terminal:
                return
            run.kill_requested = reason
            run.abandoned = abandon
            run.stop.set()
            process = run.process
        log.info("killing task %s: %s", task_id, reason)
        if process is not None:
            threading.Thread(target=process.kill, args=(self.kill_grace,), daemon=True).start()

    def acknowledge(self, task_ids: list[str]) -> None:
        with self._lock:
            for task_id in task_ids:
                run = self._tasks.get(task_id)
                if run is not None and run.status.state.terminal:
                    del self._tasks[task_id]

    def read_log(self, task_id: str, stream: str, offset: int, length: int) -> LogChunk:
        if stream not in ("stdout", "stderr"):
            raise ValueError("stream must be stdout or stderr")
        log_dir = self.sandboxes / task_id / "logs"
        if "/" in task_id or task_id in (".", "..") or not log_dir.is_dir():
            raise FileNotFoundError(f"no logs for task {task_id} on this agent")
        return read_log(log_dir, stream, offset, length)  # type: ignore[arg-type]

    # ---- what the agent tells a (new) master -----------------------------------------------------
    def statuses(self) -> list[StatusUpdate]:
        """The latest status of every task not yet acknowledged (running ones and unacked terminal ones)."""
        with self._lock:
            return [run.status for run in self._tasks.values()]

    def running_ids(self) -> list[str]:
        with self._lock:
            return [t for t, run in self._tasks.items() if not run.status.state.terminal]

    def kill_all(self, reason: str, *, abandon: bool = False) -> None:
        for task_id in self.running_ids():
            self.kill(task_id, reason, abandon=abandon)

    def _killed(self, run: TaskRun, message: str, exit_code: int | None = None) -> None:
        if run.abandoned:
            self._set(run, TaskState.FAILED, exit_code=exit_code, message=message, reason="agent")
        else:
            self._set(run, TaskState.KILLED, exit_code=exit_code, message=message, reason="killed")

    # ---- execution -------------------------------------------------------------------------------
    def _set(
        self,
        run: TaskRun,
        state: TaskState,
        *,
        exit_code: int | None = None,
        message: str = "",
        reason: str = "",
    ) -> None:
        status = StatusUpdate(
            run.spec["task_id"],
            state,
            exit_code,
            message,
            reason,
            now_ms(),
            run.started_ms,
            firing_id=run.spec["firing_id"],
        )
        with run.lock:
            run.status = status
        log.info("task %s %s%s", status.task_id, state.value, f": {message}" if message else "")
        self.report(status)

    def _execute(self, run: TaskRun) -> None:
        spec = run.spec
        self._set(run, TaskState.STAGING, message="fetching the app")
        try:
            app_dir = run.sandbox / "app"
            archive = self.cache.fetch(spec["app_url"], use_cache=spec["app_cache_enable"])
            try:
                unpack(archive, app_dir, max_bytes=self.max_unpacked_bytes)
            finally:
                if not spec["app_cache_enable"]:
                    archive.unlink(missing_ok=True)
        except FetchError as exc:
            self._set(run, TaskState.FAILED, message=f"cannot fetch {spec['app_url']}: {exc}", reason="fetch")
            return
        except UnsafeArchive as exc:
            self._set(run, TaskState.FAILED, message=f"refused the app archive: {exc}", reason="unpack")
            return
        except ArchiveError as exc:
            self._set(run, TaskState.FAILED, message=f"cannot unpack the app archive: {exc}", reason="unpack")
            return
        except OSError as exc:
            self._set(run, TaskState.FAILED, message=f"cannot prepare the sandbox: {exc}", reason="sandbox")
            return
        if spec["execution_type"] == "DAEMON":
            self._daemon(run, app_dir)
            return
        start_error: OSError | None = None
        with run.lock:  # a kill arriving now either sees the process or stops it from starting
            killed = run.kill_requested
            if not killed:
                run.started_ms = now_ms()
                try:
                    run.process = start_task(self._process_spec(run, app_dir))
                except OSError as exc:
                    start_error = exc
        if killed:
            self._killed(run, f"killed before it started: {killed}")
            return
        if run.process is None:
            self._set(run, TaskState.FAILED, message=f"cannot start: {start_error}", reason="start")
            return
        self._set(run, TaskState.RUNNING)
        info = run.process.wait()
        assert info is not None
        if run.kill_requested or info.reason == "killed":
            self._killed(run, f"killed: {run.kill_requested or info.message}", info.exit_code)
        elif info.reason == "memory" or (
            spec["job_type"] != "SCRIPT" and info.exit_code == RUNNER_MEMORY_ERROR
        ):
            limit = spec["mem_mb"]
            self._set(
                run,
                TaskState.FAILED,
                exit_code=info.exit_code,
                reason="memory",
                message=info.message if info.reason == "memory" else f"memory limit of {limit:g} MB exceeded",
            )
        elif spec["job_type"] != "SCRIPT" and info.exit_code == RUNNER_BAD_CONFIGURATION:
            message = f"jobClass {spec['job_class']} could not be loaded (see the task's stderr)"
            self._set(
                run, TaskState.FAILED, exit_code=info.exit_code, reason="configuration", message=message
            )
        elif info.exit_code == 0:
            self._set(run, TaskState.FINISHED, exit_code=0)
        else:
            self._set(run, TaskState.FAILED, exit_code=info.exit_code, reason="exit", message=info.message)

    def _daemon(self, run: TaskRun, app_dir: Path) -> None:
        """A DAEMON shard: RUNNING until killed, running its command at each of the job's own fire times
        and reporting every run (each becomes an execution of its own on the master)."""
        spec = run.spec
        schedule = cron.parse(spec["cron"], cron.Dialect.QUARTZ, spec["time_zone"])
        with run.lock:
            run.started_ms = now_ms()
        self._set(run, TaskState.RUNNING, message="daemon: waiting for the next fire time")
        number = 0
        while True:
            upcoming = schedule.next_fire(dt.datetime.now(dt.UTC))
            if upcoming is None:
                self._set(run, TaskState.FINISHED, exit_code=0, message="the schedule has no further firing")
                return
            if run.stop.wait(max(0.0, (upcoming - dt.datetime.now(dt.UTC)).total_seconds())):
                break
            number += 1
            info = ExitInfo(None, None, None, "not started")
            with run.lock:
                if run.kill_requested:
                    break
                try:
                    run.process = start_task(self._process_spec(run, app_dir))
                except OSError as exc:
                    run.process = None
                    info = ExitInfo(None, None, None, f"cannot start: {exc}")
            if run.process is not None:
                info = run.process.wait() or info
            if run.kill_requested:
                break
            self._report_run(run, number, info)
        self._killed(run, f"killed: {run.kill_requested}")

    def _report_run(self, run: TaskRun, number: int, info: ExitInfo) -> None:
        state = TaskState.FINISHED if info.exit_code == 0 and info.reason is None else TaskState.FAILED
        self.report(
            StatusUpdate(
                run.spec["task_id"],
                state,
                info.exit_code,
                "" if state is TaskState.FINISHED else info.message,
                info.reason or "",
                now_ms(),
                run.started_ms,
                run=number,
                firing_id=run.spec["firing_id"],
            )
        )

    def _process_spec(self, run: TaskRun, app_dir: Path) -> ProcessSpec:
        spec = run.spec
        env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        env.update(spec["environment"])
        env.update(
            {
                "ELASTICJOB_JOB_NAME": spec["job_name"],
                "ELASTICJOB_TASK_ID": spec["task_id"],
                "ELASTICJOB_SHARDING_TOTAL_COUNT": str(spec["sharding_total_count"]),
                "ELASTICJOB_SHARDING_ITEM": str(spec["sharding_item"]),
                "ELASTICJOB_SHARDING_PARAMETER": spec["sharding_parameter"],
                "ELASTICJOB_JOB_PARAMETER": spec["job_parameter"],
                "ELASTICJOB_FIRING_ID": spec["firing_id"],
            }
        )
        if spec["job_type"] == "SCRIPT":
            argv = ["/bin/sh", "-c", spec["command"]]
        else:
            env.update(
                {
                    "ELASTICJOB_JOB_TYPE": spec["job_type"],
                    "ELASTICJOB_JOB_CLASS": spec["job_class"],
                    "ELASTICJOB_STREAMING_PROCESS": "true" if spec["streaming_process"] else "false",
                }
            )
            # The agent's own interpreter: it has the SDK the runner needs.
            argv = [sys.executable, "-m", "elasticjob.sdk.runner"]
        return ProcessSpec(
            task_id=spec["task_id"],
            argv=argv,
            cwd=app_dir,
            env=env,
            memory_mb=spec["mem_mb"],
            cpus=spec["cpus"],
            log_dir=run.sandbox / "logs",
            kill_grace_seconds=self.kill_grace,
        )
