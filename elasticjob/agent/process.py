"""Run one task's command: own session, logs through capped pipes, memory limits, kill with a grace period.

``start_task(spec)`` spawns the command and returns a ``TaskProcess``; a supervisor thread per task waits
for it and produces the ``ExitInfo``. Shared by all tasks of the agent: one spawner thread (so that
PR_SET_PDEATHSIG is tied to a thread that never exits), one RSS watchdog thread (fallback memory mode, see
``limits``) and one orphan-guard helper process (kills the tasks' process groups if the agent dies).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Literal, TypeVar

from elasticjob.agent.limits import (
    MIB,
    RssWatchdog,
    TaskCgroup,
    find_delegated_cgroup,
    make_preexec,
    mentions_out_of_memory,
)
from elasticjob.agent.tasklogs import LogTail, RotatingLog, pump

__all__ = ["ExitInfo", "ProcessSpec", "TaskProcess", "TaskStartError", "start_task"]

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
WATCHDOG_INTERVAL = 0.1
# A process that left the group but kept our pipe open must not hold the exit report hostage.
_LOG_DRAIN_TIMEOUT = 2.0
Enforcement = Literal["cgroup-v2", "rlimit+watchdog"]
_T = TypeVar("_T")


class TaskStartError(OSError):
    """The command could not be started (missing executable, bad cwd, ...); the message says why. An
    OSError, like the other ways ``start_task`` can fail on the file system."""


@dataclass(frozen=True)
class ProcessSpec:
    """What to run and within which limits.

    ``argv``: a list is executed directly (looked up on the task's PATH; a relative path such as
    ``bin/start.sh`` is relative to ``cwd``); a string is run with ``/bin/sh -c``. ``env`` is the task's
    complete environment — nothing of the agent's leaks in — except that ``PATH`` defaults to
    ``/usr/local/bin:/usr/bin:/bin`` when absent. ``cgroup_parent``: where to create the task's cgroup v2;
    None means the agent's own cgroup if it is delegated, and the fallback otherwise (see ``limits``).
    """

    task_id: str
    argv: list[str] | str
    cwd: Path
    env: dict[str, str]
    memory_mb: float
    cpus: float
    log_dir: Path
    log_max_bytes: int = 10 * MIB
    kill_grace_seconds: float = 10.0
    cgroup_parent: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("argv must not be empty")
        if self.memory_mb <= 0:
            raise ValueError(f"memory_mb must be positive (got {self.memory_mb})")
        if self.log_max_bytes <= 0:
            raise ValueError(f"log_max_bytes must be positive (got {self.log_max_bytes})")
        if self.kill_grace_seconds < 0:
            raise ValueError(f"kill_grace_seconds must not be negative (got {self.kill_grace_seconds})")

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_mb * MIB)


@dataclass(frozen=True)
class ExitInfo:
    """How a task ended. ``exit_code`` is set for a normal exit, ``signal`` when a signal killed the main
    process. ``reason``: ``"memory"`` (limit exceeded, see ``TaskProcess``), ``"killed"`` (``kill()`` was
    called before it ended), or None. ``message`` is a sentence for people."""

    exit_code: int | None
    signal: int | None
    reason: Literal["memory", "killed"] | None
    message: str


class _Spawner:
    """One long-lived thread that forks every task. PR_SET_PDEATHSIG fires when the *thread* that forked
    the child exits, not the process: forking from a short-lived request thread would kill the task when
    that thread ends. This thread lives as long as the agent."""

    def __init__(self) -> None:
        self._queue: SimpleQueue[tuple[Callable[[], object], Future[object]]] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, func: Callable[[], _T]) -> _T:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="task-spawner", daemon=True)
                self._thread.start()
        future: Future[object] = Future()
        self._queue.put((func, future))
        return future.result()  # type: ignore[return-value]

    def _loop(self) -> None:
        while True:
            func, future = self._queue.get()
            try:
                future.set_result(func())
            except BaseException as exc:
                future.set_exception(exc)


_spawner = _Spawner()


_watchdog = RssWatchdog(WATCHDOG_INTERVAL)

# The guard: reads "+pgid"/"-pgid" lines; at EOF (the agent is gone, however it died) kills what is left.
_GUARD_CODE = """
import os, signal, sys
groups = set()
for line in sys.stdin.buffer:
    pgid = int(line[1:])
    if line[:1] == b"+":
        groups.add(pgid)
    else:
        groups.discard(pgid)
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class _OrphanGuard:
    """A small helper process that SIGKILLs the process groups of still-running tasks once the agent is gone.

    PR_SET_PDEATHSIG reaches only a task's main process. When that is a shell (``sh -c``, a bootstrap
    script), the real work runs in its children, which a SIGKILLed agent would leave running — and the
    shard would then run twice after failover. The guard holds the read end of a pipe whose write end only
    the agent has (close-on-exec, so no task inherits it): when the agent dies the kernel closes it, the
    guard reads EOF and kills every group still registered. It runs in its own session, so task signals
    and the terminal's Ctrl-C do not reach it. A pgid is unregistered before its leader is reaped, while
    the pgid cannot yet be reused. If the guard cannot be started or dies, tasks still run (with a
    warning), protected by PDEATHSIG alone until the next registration restarts it. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._process: subprocess.Popen[bytes] | None = None

    def add(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            self._send(f"+{pgid}\n".encode())

    def remove(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            self._send(f"-{pgid}\n".encode())

    def _send(self, line: bytes) -> None:
        if self._process is not None and self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(line)
                self._process.stdin.flush()
                return
            except OSError:
                pass  # it died: start another one, which is told every current group
        self._start()

    def _start(self) -> None:
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _GUARD_CODE], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
            assert self._process.stdin is not None
            self._process.stdin.write(b"".join(f"+{pgid}\n".encode() for pgid in self._groups))
            self._process.stdin.flush()
        except OSError as exc:
            self._process = None
            log.warning("event=orphan_guard_unavailable error=%s: tasks rely on PDEATHSIG alone", exc)


_guard = _OrphanGuard()


class TaskProcess:
    """A running task: its main process leads its own session and process group (``pgid == pid``).

    Memory: with cgroup v2 the kernel enforces ``memory.max`` and an ``oom_kill`` in ``memory.events``
    gives reason ``"memory"``. In the fallback, reason ``"memory"`` means either (a) the watchdog saw the
    summed VmRSS of the process group above the limit (sampled every 0.1 s) and SIGKILLed the group —
    the message gives the observed use — or (b) the main process ended with a non-zero exit code or by a
    signal and the last 64 KiB of its stderr mention an allocation failure
    (``limits.mentions_out_of_memory``), which is how RLIMIT_AS shows itself: the allocation fails, the
    process does not get killed. (b) is a heuristic: a task that prints "out of memory" and fails for
    another reason is reported as "memory" too; one that dies of a failed allocation silently is not.

    Once ``kill()`` has been called the reason is ``"killed"``, unless the watchdog had already killed the
    task for memory: the first cause wins.

    When the main process exits, whatever is left of its process group is SIGKILLed (and, with a cgroup,
    everything in the cgroup): a finished shard leaves nothing running. Thread-safe: any thread may call
    ``poll``, ``wait`` and ``kill``.
    """

    def __init__(self, spec: ProcessSpec, popen: subprocess.Popen[bytes], cgroup: TaskCgroup | None,
                 pumps: list[threading.Thread], stderr_tail: LogTail) -> None:
        self.spec = spec
        self.task_id = spec.task_id
        self.pid = popen.pid
        self.pgid = popen.pid
        self.started_at = time.time()
        self.enforcement: Enforcement = "cgroup-v2" if cgroup is not None else "rlimit+watchdog"
        self._popen = popen
        self._cgroup = cgroup
        self._pumps = pumps
        self._stderr_tail = stderr_tail
        self._lock = threading.Lock()
        self._reaped = False  # set under _lock once the leader is reaped; its pgid may be reused after
        self._reason: Literal["memory", "killed"] | None = None
        self._memory_message = ""
        self._hard_kill_timer: threading.Timer | None = None
        self._done = threading.Event()
        self._exit: ExitInfo | None = None
        _guard.add(self.pgid)
        if cgroup is None:
            _watchdog.watch(self.pgid, spec.memory_bytes, self._kill_for_memory)
        self._supervisor = threading.Thread(target=self._supervise, name=f"task-{self.pid}", daemon=True)
        self._supervisor.start()

    def poll(self) -> ExitInfo | None:
        """The ExitInfo if the task has ended (and its logs are complete), else None."""
        return self._exit if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> ExitInfo | None:
        """Block until the task has ended (None: forever); the ExitInfo, or None on timeout."""
        self._done.wait(timeout)
        return self.poll()

    def kill(self, grace: float | None = None) -> None:
        """SIGTERM the process group now and SIGKILL it ``grace`` seconds later (default: the spec's
        ``kill_grace_seconds``; 0: at once) unless it has ended by then. Returns at once; ``wait`` for the
        end. A no-op once the task has ended. A second call sends SIGTERM again; with ``grace=0`` it kills at
        once, otherwise the first call's deadline stands."""
        grace = self.spec.kill_grace_seconds if grace is None else max(0.0, grace)
        with self._lock:
            if self._reaped:
                return
            if self._reason is None:
                self._reason = "killed"
            if grace == 0:
                self._signal_group(signal.SIGKILL)
                return
            self._signal_group(signal.SIGTERM)
            if self._hard_kill_timer is None:
                self._hard_kill_timer = threading.Timer(grace, self._hard_kill)
                self._hard_kill_timer.daemon = True
                self._hard_kill_timer.start()

    # --- internals (the supervisor thread) -------------------------------------------------------------

    def _hard_kill(self) -> None:
        with self._lock:
            if not self._reaped:
                self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        """Caller holds _lock and has checked _reaped (an unreaped leader keeps the pgid from reuse)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)
        if sig == signal.SIGKILL and self._cgroup is not None:
            self._cgroup.kill_all()

    def _supervise(self) -> None:
        try:
            self._wait_for_leader()
        except Exception:  # never leave waiters hanging, whatever happened
            log.exception("event=task_supervisor_failed task_id=%s", self.task_id)
        _watchdog.unwatch(self.pgid, self._kill_for_memory)
        with self._lock:
            self._signal_group(signal.SIGKILL)  # leftovers of a finished task, before the pgid is freed
            _guard.remove(self.pgid)
            returncode = self._popen.wait()
            self._reaped = True
            if self._hard_kill_timer is not None:
                self._hard_kill_timer.cancel()
        for thread in self._pumps:
            thread.join(_LOG_DRAIN_TIMEOUT)
        self._exit = self._exit_info(returncode)
        if self._cgroup is not None:
            try:
                self._cgroup.remove()
            except OSError as exc:
                log.warning("event=task_cgroup_remove_failed path=%s error=%s", self._cgroup.path, exc)
        log.info("event=task_exited task_id=%s pid=%d %s", self.task_id, self.pid, self._exit.message)
        self._done.set()

    def _wait_for_leader(self) -> None:
        """Return once the leader has exited, without reaping it (WNOWAIT) so its pgid stays reserved."""
        try:
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return  # reaped elsewhere (SIGCHLD ignored); Popen.wait copes with that

    def _kill_for_memory(self, used: int) -> None:
        """Called by the watchdog thread."""
        with self._lock:
            if self._reaped:
                return
            if self._reason is None:  # the first cause wins: a task being killed stays "killed"
                self._reason = "memory"
                self._memory_message = (f"memory limit exceeded: {used / MIB:.0f} MB used, limit "
                                        f"{self.spec.memory_mb:g} MB")
                log.warning("event=task_memory_exceeded task_id=%s used_bytes=%d limit_bytes=%d",
                            self.task_id, used, self.spec.memory_bytes)
            self._signal_group(signal.SIGKILL)

    def _exit_info(self, returncode: int) -> ExitInfo:
        code, sig = (returncode, None) if returncode >= 0 else (None, -returncode)
        ended = f"exited with code {code}" if sig is None else f"killed by signal {_signal_name(sig)}"
        if self._reason == "memory":
            return ExitInfo(code, sig, "memory", f"{self._memory_message} ({ended})")
        if self._reason == "killed":
            return ExitInfo(code, sig, "killed", f"killed on request ({ended})")
        if self._cgroup is not None and self._cgroup.oom_kills() > 0:
            peak = self._cgroup.peak_bytes()
            used = f"{peak / MIB:.0f} MB used, " if peak is not None else ""
            return ExitInfo(code, sig, "memory", f"memory limit exceeded: {used}limit "
                                                 f"{self.spec.memory_mb:g} MB (cgroup OOM kill; {ended})")
        if self._cgroup is None and returncode != 0 and mentions_out_of_memory(self._stderr_tail.get()):
            return ExitInfo(code, sig, "memory", f"memory limit exceeded: an allocation failed under the "
                                                 f"{self.spec.memory_mb:g} MB address-space limit ({ended})")
        return ExitInfo(code, sig, None, ended)


def _signal_name(sig: int) -> str:
    try:
        return f"{signal.Signals(sig).name} ({sig})"
    except ValueError:
        return str(sig)


def start_task(spec: ProcessSpec) -> TaskProcess:
    """Spawn ``spec``'s command and return its ``TaskProcess``.

    Creates ``log_dir`` and writes ``stdout``/``stderr`` there (see ``tasklogs.RotatingLog``). Raises
    ``TaskStartError`` if the command cannot be started — the reason is also appended to the stderr log,
    where the task's owner will look — and ``OSError`` if the log files or the cgroup cannot be created.
    Thread-safe; the fork itself happens on one long-lived thread (see ``_Spawner``).
    """
    parent = find_delegated_cgroup(spec.cgroup_parent)
    cgroup = TaskCgroup.create(parent, spec.task_id, spec.memory_bytes, spec.cpus) if parent else None
    try:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        logs = [RotatingLog(spec.log_dir / "stdout", spec.log_max_bytes),
                RotatingLog(spec.log_dir / "stderr", spec.log_max_bytes)]
    except OSError:
        if cgroup is not None:
            cgroup.remove()
        raise
    preexec = make_preexec(parent_pid=os.getpid(), cgroup_procs=cgroup.procs if cgroup else None,
                           address_space_bytes=None if cgroup else spec.memory_bytes)
    argv = ["/bin/sh", "-c", spec.argv] if isinstance(spec.argv, str) else list(spec.argv)
    env = dict(spec.env)
    env.setdefault("PATH", DEFAULT_PATH)
    out_read, out_write = os.pipe2(os.O_CLOEXEC)
    err_read, err_write = os.pipe2(os.O_CLOEXEC)

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_write,
                                stderr=err_write, start_new_session=True, close_fds=True,
                                preexec_fn=preexec)

    try:
        popen = _spawner.run(spawn)
    except (OSError, subprocess.SubprocessError) as exc:
        for fd in (out_read, out_write, err_read, err_write):
            os.close(fd)
        logs[1].write(f"elasticjob agent: cannot start task {spec.task_id}: {exc}\n".encode())
        for sink in logs:
            sink.close()
        if cgroup is not None:
            cgroup.remove()
        raise TaskStartError(f"cannot start task {spec.task_id}: {exc}") from exc
    os.close(out_write)
    os.close(err_write)
    out_pump, _ = pump(out_read, logs[0])
    err_pump, err_tail = pump(err_read, logs[1])
    log.info("event=task_started task_id=%s pid=%d enforcement=%s memory_mb=%g", spec.task_id, popen.pid,
             "cgroup-v2" if cgroup else "rlimit+watchdog", spec.memory_mb)
    return TaskProcess(spec, popen, cgroup, [out_pump, err_pump], err_tail)
