"""The agent's task manager: runs each launched shard in its own sandbox and reports its states.

STAGING (fetch the app, give the sandbox its copy of the unpacked app, then the job's artifacts) -> RUNNING
(the process) -> FINISHED | FAILED | KILLED. Terminal statuses are kept until the master acknowledges them,
so a status sent while no master was reachable is reported again on the next registration.

No thread per task: launches are staged on a few worker threads, one lane per app (``lanes``); a running
task's end arrives as a callback on the reactor thread (``process``), and a DAEMON shard waits for its
next fire time as a reactor timer. Thread-safe.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticjob import cron
from elasticjob.agent.apps import UnpackedApps
from elasticjob.agent.artifacts import ArtifactFailed, ArtifactInstaller
from elasticjob.agent.fetch import AppCache, FetchError
from elasticjob.agent.gates import StartGates
from elasticjob.agent.gc import RemovalJournal
from elasticjob.agent.lanes import Lanes
from elasticjob.agent.loglines import LineChunk, read_lines
from elasticjob.agent.process import ExitInfo, ProcessSpec, TaskProcess, start_task
from elasticjob.agent.reactor import Timer, shared_reactor
from elasticjob.agent.runas import Credentials
from elasticjob.agent.spawn import can_gate
from elasticjob.agent.tasklogs import LogChunk, read_log
from elasticjob.agent.unpack import ArchiveError, UnsafeArchive, unpack
from elasticjob.model import NOT_STARTED, TaskState
from elasticjob.protocol.convert import StatusUpdate, now_ms

log = logging.getLogger(__name__)

# Exit codes of ``python -m elasticjob.sdk.runner`` (see elasticjob.sdk.runner).
RUNNER_BAD_CONFIGURATION = 2
RUNNER_MEMORY_ERROR = 3
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH")
STAGING_WORKERS = 8
WAITING = "daemon: waiting for the next fire time"


class LogsGone(FileNotFoundError):
    """The task ran here, but the agent's retention removed its sandbox and logs (at ``removed_ms``)."""

    def __init__(self, task_id: str, removed_ms: int) -> None:
        when = dt.datetime.fromtimestamp(removed_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(f"the logs of task {task_id} are gone: the agent's retention removed them at {when}")
        self.removed_ms = removed_ms


@dataclass
class TaskRun:
    """One launched task. ``lock`` guards ``status``, ``process``, ``kill_requested``, ``abandoned``,
    ``waiting`` and ``timer``."""

    spec: dict[str, Any]
    sandbox: Path
    status: StatusUpdate
    started_ms: int = 0
    process: TaskProcess | None = None
    kill_requested: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    abandoned: bool = False  # killed because the agent gave it up (reported FAILED, so it fails over)
    waiting: bool = False  # before its start time, or a DAEMON shard between runs: a kill ends it at once
    timer: Timer | None = None  # a shard's start time, or a DAEMON shard's next fire time
    schedule: cron.Schedule | None = None
    runs: int = 0

    @property
    def task_id(self) -> str:
        return str(self.spec["task_id"])


class TaskManager:
    def __init__(
        self,
        work_dir: Path,
        cache: AppCache,
        report: Callable[[StatusUpdate], None],
        *,
        kill_grace: float = 10.0,
        max_unpacked_bytes: int = 1024**3,
        run_as: Credentials | None = None,
    ) -> None:
        self.run_as = run_as
        self.sandboxes = work_dir / "sandboxes"
        self.sandboxes.mkdir(parents=True, exist_ok=True)
        # Shards of another user must reach their own sandbox's app dir: the path down to it is traversable
        # (not listable) by them; see sandbox_mode.
        os.chmod(self.sandboxes, sandbox_mode(run_as))
        self.removed = RemovalJournal(work_dir / "removed-sandboxes")
        self.cache = cache
        self.apps = UnpackedApps(work_dir / "unpacked", max_bytes=max_unpacked_bytes)
        self.artifacts = ArtifactInstaller(cache, self.apps, max_unpacked_bytes)
        self.report = report
        self.kill_grace = kill_grace
        self.max_unpacked_bytes = max_unpacked_bytes
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskRun] = {}
        self._lanes = Lanes(STAGING_WORKERS, "stage")
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="starter")
        self._reactor = shared_reactor()
        self._gates: StartGates[TaskRun] = StartGates(self._reactor, self._gate_opened)

    # ---- commands from the master ----------------------------------------------------------------
    def launch(self, spec: dict[str, Any]) -> None:
        """Accept a task and return at once; it is staged in its app's lane."""
        task_id = spec["task_id"]
        with self._lock:
            if task_id in self._tasks:
                log.info("task %s already known; ignoring a repeated launch", task_id)
                return
            staging = StatusUpdate(task_id, TaskState.STAGING, firing_id=spec["firing_id"])
            run = TaskRun(spec, self.sandboxes / task_id, staging)
            self._tasks[task_id] = run
        # Launches of one cached app share a lane; a task downloading an app or an artifact of its own gets
        # one alone (so that N shards do not download one after another).
        shared = spec["app_cache_enable"] and spec["app_url"]
        own_downloads = any(not a.get("cache") for a in spec.get("artifacts") or ())
        lane = spec["app_url"] if shared and not own_downloads else task_id
        self._lanes.submit(lane, lambda: self._stage(run))

    def kill(self, task_id: str, reason: str, *, abandon: bool = False, grace: float | None = None) -> None:
        """Kill a task: SIGTERM, then SIGKILL ``grace`` seconds later (None: the grace its launch carried,
        its job's taskKillGracePeriodSeconds, else the agent's ``kill_grace``). ``abandon``: the agent gives
        it up, so it ends FAILED with reason ``agent`` (and fails over) instead of KILLED. Returns at once."""
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
            process = run.process
            timer, run.timer = run.timer, None
            waiting, run.waiting = run.waiting, False
        log.info("killing task %s: %s", task_id, reason)
        if timer is not None:
            timer.cancel()
        if process is not None and waiting:  # held at its gate: it never ran
            process.kill(0)
            self._killed(run, f"killed before it started: {reason}")
        elif process is not None:
            process.kill(self._grace(run) if grace is None else grace)  # its end reports the kill
        elif waiting:
            self._killed(run, f"killed: {reason}")
        # else it is still staging: the staging reports the kill once it is done

    def acknowledge(self, task_ids: list[str]) -> None:
        with self._lock:
            for task_id in task_ids:
                run = self._tasks.get(task_id)
                if run is not None and run.status.state.terminal:
                    del self._tasks[task_id]

    def read_log(self, task_id: str, stream: str, offset: int, length: int) -> LogChunk:
        """A byte range of the task's log (see ``tasklogs.read_log``); raises ``LogsGone`` once the retention
        removed it, ``FileNotFoundError`` for a task this agent has no logs of, ``ValueError`` for a bad
        range."""
        return read_log(self._log_dir(task_id, stream), stream, offset, length)  # type: ignore[arg-type]

    def read_lines(
        self, task_id: str, stream: str, *, start: int | None, size: int, start_ms: int | None,
        end_ms: int | None,
    ) -> tuple[LineChunk, bool]:
        """Lines of the task's log (see ``loglines.read_lines``) and whether the task still runs here (more
        may come). Errors as ``read_log``."""
        log_dir = self._log_dir(task_id, stream)
        running = self.is_running(task_id)
        chunk = read_lines(log_dir, stream, start=start, size=size, start_ms=start_ms, end_ms=end_ms,
                           complete=not running)
        return chunk, running

    def is_running(self, task_id: str) -> bool:
        """Whether the task is known here and has not ended (its output may still grow)."""
        with self._lock:
            run = self._tasks.get(task_id)
        return run is not None and not run.status.state.terminal

    def _log_dir(self, task_id: str, stream: str) -> Path:
        if stream not in ("stdout", "stderr"):
            raise ValueError("stream must be stdout or stderr")
        if "/" in task_id or task_id in (".", "..", ""):
            raise FileNotFoundError(f"no logs for task {task_id} on this agent")
        log_dir = self.sandboxes / task_id / "logs"
        with self._lock:
            known = task_id in self._tasks
        if not known and not log_dir.is_dir():  # a task still being staged has no logs yet: none to read
            removed = self.removed.removed_at(task_id)
            if removed is not None:
                raise LogsGone(task_id, removed)
            raise FileNotFoundError(f"no logs for task {task_id} on this agent")
        return log_dir

    # ---- what the agent tells a (new) master -----------------------------------------------------
    def statuses(self) -> list[StatusUpdate]:
        """The latest status of every task not yet acknowledged (running ones and unacked terminal ones)."""
        with self._lock:
            return [run.status for run in self._tasks.values()]

    def running_ids(self) -> list[str]:
        with self._lock:
            return [t for t, run in self._tasks.items() if not run.status.state.terminal]

    def kill_all(self, reason: str, *, abandon: bool = False) -> None:
        """The agent's own kills (it stops, or gives its tasks up): a task's grace, but never longer than
        the agent's own — the agent waits that long for them, not a job's hour."""
        with self._lock:
            runs = [run for run in self._tasks.values() if not run.status.state.terminal]
        for run in runs:
            self.kill(run.task_id, reason, abandon=abandon, grace=min(self._grace(run), self.kill_grace))

    def _grace(self, run: TaskRun) -> float:
        """The grace a task's launch carried (its job's), else the agent's own."""
        carried = run.spec.get("kill_grace_seconds")
        return self.kill_grace if carried is None else float(carried)

    def _killed(self, run: TaskRun, message: str, exit_code: int | None = None) -> None:
        if run.abandoned:
            # Given up before its command ran (staging, or held at its gate): the master may run it again
            # whatever the job's failover policy, since nothing of it ran.
            reason = NOT_STARTED if run.started_ms == 0 else "agent"
            self._set(run, TaskState.FAILED, exit_code=exit_code, message=message, reason=reason)
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
        status = self._status(run, state, exit_code=exit_code, message=message, reason=reason)
        with run.lock:
            run.status = status
        log.info("task %s %s%s", status.task_id, state.value, f": {message}" if message else "")
        self.report(status)

    def _stage(self, run: TaskRun) -> None:
        """On a staging worker: the app into the sandbox, then the process (or the DAEMON's schedule)."""
        spec = run.spec
        self._set(run, TaskState.STAGING, message="fetching the app")
        app_dir = run.sandbox / "app"
        try:
            run.sandbox.mkdir(mode=sandbox_mode(self.run_as), parents=True)
            os.chmod(run.sandbox, sandbox_mode(self.run_as))  # whatever the umask
            self._install_app(spec, app_dir)
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
        if spec.get("artifacts"):
            self._set(run, TaskState.STAGING, message="fetching the artifacts")
            try:
                (run.sandbox / ".artifacts").mkdir(mode=0o700, exist_ok=True)
                self.artifacts.install(spec["artifacts"], app_dir, run.sandbox / ".artifacts")
            except ArtifactFailed as exc:
                self._set(run, TaskState.FAILED, message=str(exc), reason=exc.reason)
                return
            except OSError as exc:
                self._set(run, TaskState.FAILED, message=f"cannot prepare the sandbox: {exc}",
                          reason="sandbox")
                return
        if self.run_as is not None:
            try:
                give_tree(app_dir, self.run_as)
            except OSError as exc:
                message = f"cannot give the sandbox to {self.run_as.user}: {exc}"
                self._set(run, TaskState.FAILED, message=message, reason="sandbox")
                return
        if spec["execution_type"] == "DAEMON":
            self._start_daemon(run, app_dir)
        else:
            self._start_at_its_time(run, app_dir)

    def _install_app(self, spec: dict[str, Any], app_dir: Path) -> None:
        if not spec["app_url"]:
            app_dir.mkdir(parents=True)  # an app without an archive: its job runs a command of its own
            return
        if spec["app_cache_enable"]:
            archive = self.cache.fetch_app(spec["app_url"], version=spec.get("app_version", ""))
            self.apps.install(archive, app_dir)
            return
        # appCacheEnable=false: a download of its own, unpacked for this sandbox alone and then deleted.
        fresh = self.cache.fetch_app(spec["app_url"], use_cache=False)
        try:
            unpack(fresh.path, app_dir, max_bytes=self.max_unpacked_bytes)
        finally:
            fresh.path.unlink(missing_ok=True)

    def _start_at_its_time(self, run: TaskRun, app_dir: Path) -> None:
        """Start a staged TRANSIENT shard now, or — launched ahead of its firing's instant — at
        ``start_at_ms``. Ahead of time its process is created already and held at the instant's gate
        (``gates``); at the instant one pipe write lets every shard of the instant go. (Without the exec
        wrapper the process is spawned at the instant by a starter thread of its own.) Until then a kill
        ends it without it ever running."""
        start_at = spec_start_at(run.spec)
        if start_at <= time.time():
            self._start_transient(run, app_dir)
            return
        gate = self._gates.enter(start_at) if can_gate() else None
        if gate is None and can_gate():
            self._start_transient(run, app_dir)  # its instant came meanwhile
            return
        start_error: OSError | None = None
        with run.lock:
            killed = run.kill_requested
            if not killed:
                if gate is None:
                    run.waiting = True
                    run.timer = self._reactor.call_later(start_at - time.time(),
                                                         lambda: self._start_soon(run, app_dir))
                else:
                    try:
                        run.process = start_task(self._process_spec(run, app_dir), gate=gate.read_fd)
                        run.waiting = True
                    except OSError as exc:
                        start_error = exc
        if gate is not None and (killed or start_error is not None):
            self._gates.leave(gate)
        if killed:
            self._killed(run, f"killed before it started: {killed}")
        elif start_error is not None:
            self._set(run, TaskState.FAILED, message=f"cannot start: {start_error}", reason="start")
        elif gate is not None and not self._gates.join(gate, run):
            self._gate_opened([run], time.time())  # the instant came while it was spawned: its line waits

    def _gate_opened(self, runs: list[TaskRun], opened: float) -> None:
        """On the reactor thread (which must not block), right after the instant's gate ``opened``: the
        gated processes run their commands; report them RUNNING, started when the gate opened."""
        started = int(opened * 1000)
        for run in runs:
            with run.lock:
                if run.kill_requested or not run.waiting:
                    continue  # killed at the gate: the kill has been reported
                run.waiting = False
                run.started_ms = started
                process = run.process
            assert process is not None
            self._set(run, TaskState.RUNNING)
            process.add_done_callback(functools.partial(self._transient_ended, run))

    def _start_soon(self, run: TaskRun, app_dir: Path) -> None:
        """On the reactor thread (which must not block): hand the start to the starter thread."""
        self._starter.submit(self._start_when_due, run, app_dir)

    def _start_when_due(self, run: TaskRun, app_dir: Path) -> None:
        with run.lock:
            if run.kill_requested or not run.waiting:
                return  # killed while waiting: the kill has been reported
            run.waiting = False
            run.timer = None
        self._start_transient(run, app_dir)

    def _start_transient(self, run: TaskRun, app_dir: Path) -> None:
        start_error: OSError | None = None
        with run.lock:  # a kill arriving now either sees the process or stops it from starting
            killed = run.kill_requested
            if not killed:
                try:
                    run.process = start_task(self._process_spec(run, app_dir))
                    run.started_ms = now_ms()
                except OSError as exc:
                    start_error = exc
            process = run.process
        if killed:
            self._killed(run, f"killed before it started: {killed}")
            return
        if process is None:
            self._set(run, TaskState.FAILED, message=f"cannot start: {start_error}", reason="start")
            return
        self._set(run, TaskState.RUNNING)
        process.add_done_callback(lambda info: self._transient_ended(run, info))

    def _transient_ended(self, run: TaskRun, info: ExitInfo) -> None:
        """On the reactor thread: the final status from how the process ended."""
        spec = run.spec
        runner = spec["job_type"] != "SCRIPT"  # exit codes of elasticjob.sdk.runner carry a meaning
        if run.kill_requested or info.reason == "killed":
            self._killed(run, f"killed: {run.kill_requested or info.message}", info.exit_code)
        elif info.reason == "memory" or (runner and info.exit_code == RUNNER_MEMORY_ERROR):
            limit = spec["mem_mb"]
            message = info.message if info.reason == "memory" else f"memory limit of {limit:g} MB exceeded"
            self._set(run, TaskState.FAILED, exit_code=info.exit_code, reason="memory", message=message)
        elif runner and info.exit_code == RUNNER_BAD_CONFIGURATION:
            message = f"jobClass {spec['job_class']} could not be loaded (see the task's stderr)"
            self._set(run, TaskState.FAILED, exit_code=info.exit_code, reason="configuration",
                      message=message)
        elif info.exit_code == 0:
            self._set(run, TaskState.FINISHED, exit_code=0)
        else:
            self._set(run, TaskState.FAILED, exit_code=info.exit_code, reason="exit", message=info.message)

    # ---- DAEMON shards: RUNNING until killed, a run of the command at each of the job's fire times ----
    def _start_daemon(self, run: TaskRun, app_dir: Path) -> None:
        spec = run.spec
        try:
            schedule = cron.parse(spec["cron"], cron.Dialect.QUARTZ, spec["time_zone"])
        except ValueError as exc:
            self._set(run, TaskState.FAILED, message=f"invalid cron {spec['cron']!r}: {exc}",
                      reason="configuration")
            return
        with run.lock:
            killed = run.kill_requested
            if not killed:
                run.schedule = schedule
                run.started_ms = now_ms()
                run.waiting = True
                # Reported under the lock: a kill arriving now is reported after RUNNING, not before.
                run.status = self._status(run, TaskState.RUNNING, message=WAITING)
                self.report(run.status)
        if killed:
            self._killed(run, f"killed before it started: {killed}")
            return
        log.info("task %s RUNNING: %s", run.task_id, WAITING)
        self._schedule_next_run(run, app_dir)

    def _schedule_next_run(self, run: TaskRun, app_dir: Path) -> None:
        assert run.schedule is not None
        now = dt.datetime.now(dt.UTC)
        upcoming = run.schedule.next_fire(now)
        with run.lock:
            if run.kill_requested:
                return  # the kill has been reported
            if upcoming is None:
                run.waiting = False
                status = self._status(run, TaskState.FINISHED, exit_code=0,
                                      message="the schedule has no further firing")
                run.status = status  # under the lock, so that a kill now finds the task ended
            else:
                delay = (upcoming - now).total_seconds()
                run.timer = self._reactor.call_later(
                    delay, lambda: self._lanes.submit(run.task_id, lambda: self._daemon_run(run, app_dir))
                )
                return
        log.info("task %s FINISHED: the schedule has no further firing", run.task_id)
        self.report(status)

    def _daemon_run(self, run: TaskRun, app_dir: Path) -> None:
        """On a staging worker, at a fire time: start this run's process."""
        with run.lock:
            if run.kill_requested:
                return  # the kill has been reported
            run.timer = None
            run.waiting = False
            run.runs += 1
            number = run.runs
            try:
                run.process = start_task(self._process_spec(run, app_dir))
                error = None
            except OSError as exc:
                run.process, error = None, exc
            process = run.process
        if process is None:
            self._daemon_run_ended(run, app_dir, number, ExitInfo(None, None, None, f"cannot start: {error}"))
        else:
            process.add_done_callback(lambda info: self._daemon_run_ended(run, app_dir, number, info))

    def _daemon_run_ended(self, run: TaskRun, app_dir: Path, number: int, info: ExitInfo) -> None:
        with run.lock:
            run.process = None
            killed = run.kill_requested
            if not killed:
                run.waiting = True
                # Reported under the lock: a kill arriving now is reported after this run, not before.
                self.report(self._run_status(run, number, info))
        if killed:
            self._killed(run, f"killed: {killed}")
        else:
            self._schedule_next_run(run, app_dir)

    def _status(self, run: TaskRun, state: TaskState, *, exit_code: int | None = None, message: str = "",
                reason: str = "") -> StatusUpdate:
        return StatusUpdate(run.task_id, state, exit_code, message, reason, now_ms(), run.started_ms,
                            firing_id=run.spec["firing_id"])

    def _run_status(self, run: TaskRun, number: int, info: ExitInfo) -> StatusUpdate:
        """One finished run of a DAEMON shard (each becomes an execution of its own on the master)."""
        state = TaskState.FINISHED if info.exit_code == 0 and info.reason is None else TaskState.FAILED
        return StatusUpdate(
            run.task_id,
            state,
            info.exit_code,
            "" if state is TaskState.FINISHED else info.message,
            info.reason or "",
            now_ms(),
            run.started_ms,
            run=number,
            firing_id=run.spec["firing_id"],
        )

    def _process_spec(self, run: TaskRun, app_dir: Path) -> ProcessSpec:
        spec = run.spec
        env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        if self.run_as is not None:
            env["HOME"] = self.run_as.home  # not the agent's: the shard's user may not enter it
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
            kill_grace_seconds=self._grace(run),
            run_as=self.run_as,
        )


def sandbox_mode(run_as: Credentials | None) -> int:
    """The mode of the sandboxes dir and of each sandbox (which the agent owns): 0711 when shards run as
    another user — they pass through to their ``app`` dir (theirs, 0700) and can list nothing — else 0700.
    A sandbox's ``logs`` and ``.artifacts`` stay the agent's, 0700: a shard owning its sandbox could swap
    ``logs`` for a symlink the agent would then write through."""
    return 0o711 if run_as is not None else 0o700


def give_tree(top: Path, run_as: Credentials) -> None:
    """Make ``top`` and everything in it ``run_as``'s (``lchown``: a symlink itself, never its target). The
    tree is the agent's own until then (``top`` 0700): ``top`` is changed last, so no process of that user
    can enter it while it is being changed."""
    for root, dirs, files in os.walk(top, topdown=False):
        for name in (*files, *dirs):
            os.lchown(os.path.join(root, name), run_as.uid, run_as.gid)
    os.chmod(top, 0o700)  # the shard's own: nobody else lists or reads it
    os.lchown(top, run_as.uid, run_as.gid)


def spec_start_at(spec: dict[str, Any]) -> float:
    """When a launched shard is to start (Unix seconds; 0: at once)."""
    return float(spec.get("start_at_ms") or 0) / 1000
