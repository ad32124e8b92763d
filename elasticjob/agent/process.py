"""Run one task's command: own session, logs through capped pipes, memory limits, kill with a grace period.

``start_task(spec)`` spawns the command (see ``spawn``) and returns a ``TaskProcess``, which produces the
``ExitInfo`` once the task has ended. No thread per task: shared by all tasks of the agent are one reactor
thread (``reactor``: every log pipe, every exit through a pidfd, every kill deadline), one spawner thread
(``spawn``), one RSS watchdog thread (fallback memory mode, see ``limits``) and one orphan-guard helper
process (kills the tasks' process groups if the agent dies).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from elasticjob.agent.limits import (
    MIB,
    RssWatchdog,
    TaskCgroup,
    find_delegated_cgroup,
    mentions_out_of_memory,
)
from elasticjob.agent.reactor import Timer, shared_reactor
from elasticjob.agent.runas import Credentials
from elasticjob.agent.spawn import OrphanGuard, check_executable, spawn
from elasticjob.agent.tasklogs import LogPipe, RotatingLog

__all__ = ["ExitInfo", "ProcessSpec", "TaskProcess", "TaskStartError", "start_task"]

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
WATCHDOG_INTERVAL = 0.1
# A process that left the group but kept our pipe open must not hold the exit report hostage.
_LOG_DRAIN_TIMEOUT = 2.0
_CGROUP_REMOVE_RETRY = 0.05
_CGROUP_REMOVE_TIMEOUT = 2.0
Enforcement = Literal["cgroup-v2", "rlimit+watchdog"]


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
    run_as: Credentials | None = None  # the user the command runs as (None: the agent's own)

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


_reactor = shared_reactor()
_watchdog = RssWatchdog(WATCHDOG_INTERVAL)
_guard = OrphanGuard()


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
    everything in the cgroup): a finished shard leaves nothing running. The task has ended once its main
    process has exited and both log pipes are closed (or ``_LOG_DRAIN_TIMEOUT`` has passed: a process that
    left the group but kept a pipe open must not hold the exit report hostage). Thread-safe: any thread may
    call ``poll``, ``wait``, ``kill`` and ``add_done_callback``.
    """

    def __init__(self, spec: ProcessSpec, popen: subprocess.Popen[bytes], cgroup: TaskCgroup | None,
                 stdout: LogPipe, stderr: LogPipe) -> None:
        self.spec = spec
        self.task_id = spec.task_id
        self.pid = popen.pid
        self.pgid = popen.pid
        self.started_at = time.time()
        self.enforcement: Enforcement = "cgroup-v2" if cgroup is not None else "rlimit+watchdog"
        self._popen = popen
        self._cgroup = cgroup
        self._stderr = stderr
        self._lock = threading.Lock()
        self._reaped = False  # set under _lock once the leader is reaped; its pgid may be reused after
        self._reason: Literal["memory", "killed"] | None = None
        self._memory_message = ""
        self._hard_kill_timer: Timer | None = None
        self._returncode: int | None = None
        self._done = threading.Event()
        self._exit: ExitInfo | None = None
        self._callbacks: list[Callable[[ExitInfo], None]] = []
        # Only the reactor thread touches what follows.
        self._pipes = {pipe.fd: pipe for pipe in (stdout, stderr)}
        self._drain_timer: Timer | None = None
        # The orphan guard knows the group already: ``spawn`` told it on the spawning thread.
        if cgroup is None:
            _watchdog.watch(self.pgid, spec.memory_bytes, self._kill_for_memory)
        for pipe in (stdout, stderr):
            _reactor.add_reader(pipe.fd, functools.partial(self._on_pipe, pipe))
        pidfd = _pidfd_open(self.pid)
        if pidfd is not None:
            _reactor.add_reader(pidfd, lambda: self._on_pidfd(pidfd))
        else:  # no pidfd (Linux < 5.3): one thread waits for this task
            threading.Thread(target=self._wait_in_thread, name=f"task-{self.pid}", daemon=True).start()

    def poll(self) -> ExitInfo | None:
        """The ExitInfo if the task has ended (and its logs are complete), else None."""
        return self._exit if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> ExitInfo | None:
        """Block until the task has ended (None: forever); the ExitInfo, or None on timeout."""
        self._done.wait(timeout)
        return self.poll()

    def add_done_callback(self, callback: Callable[[ExitInfo], None]) -> None:
        """Call ``callback(exit_info)`` once the task has ended: on the reactor thread (so it must not block),
        or at once on this thread if it has ended already."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        assert self._exit is not None
        callback(self._exit)

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
                self._hard_kill_timer = _reactor.call_later(grace, self._hard_kill)

    # --- internals (the reactor thread, unless said otherwise) ---------------------------------------------

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

    def _on_pipe(self, pipe: LogPipe) -> None:
        if pipe.on_readable():
            return
        self._close_pipe(pipe)

    def _close_pipe(self, pipe: LogPipe) -> None:
        _reactor.remove_reader(pipe.fd)
        del self._pipes[pipe.fd]
        pipe.close()
        if not self._pipes and self._returncode is not None:
            self._finish()

    def _on_pidfd(self, pidfd: int) -> None:
        _reactor.remove_reader(pidfd)
        os.close(pidfd)
        self._leader_exited()

    def _wait_in_thread(self) -> None:
        """Wait (on a thread of its own) until the leader has exited, without reaping it (WNOWAIT), so its
        pgid stays reserved."""
        with contextlib.suppress(ChildProcessError):  # reaped elsewhere (SIGCHLD ignored): Popen copes
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        _reactor.call_soon(self._leader_exited)

    def _leader_exited(self) -> None:
        _watchdog.unwatch(self.pgid, self._kill_for_memory)
        with self._lock:
            self._signal_group(signal.SIGKILL)  # leftovers of a finished task, before the pgid is freed
            _guard.remove(self.pgid)
            self._returncode = self._popen.wait()  # a zombie by now: returns at once
            self._reaped = True
            if self._hard_kill_timer is not None:
                self._hard_kill_timer.cancel()
        if not self._pipes:
            self._finish()
        else:
            self._drain_timer = _reactor.call_later(_LOG_DRAIN_TIMEOUT, self._stop_draining)

    def _stop_draining(self) -> None:
        for pipe in list(self._pipes.values()):
            log.warning("event=task_log_pipe_held task_id=%s: a process outside the task's group keeps its "
                        "output open; the log ends here", self.task_id)
            self._close_pipe(pipe)

    def _finish(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        assert self._returncode is not None
        exit_info = self._exit_info(self._returncode)
        if self._cgroup is not None:
            self._remove_cgroup(self._cgroup, time.monotonic() + _CGROUP_REMOVE_TIMEOUT)
        log.info("event=task_exited task_id=%s pid=%d %s", self.task_id, self.pid, exit_info.message)
        with self._lock:
            self._exit = exit_info
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(exit_info)
            except Exception:
                log.exception("event=task_exit_callback_failed task_id=%s", self.task_id)

    def _remove_cgroup(self, cgroup: TaskCgroup, deadline: float) -> None:
        """rmdir the cgroup, retried from the reactor while the kernel still tears its processes down."""
        try:
            if cgroup.try_remove() or time.monotonic() > deadline:
                return
        except OSError as exc:
            log.warning("event=task_cgroup_remove_failed path=%s error=%s", cgroup.path, exc)
            return
        _reactor.call_later(_CGROUP_REMOVE_RETRY, lambda: self._remove_cgroup(cgroup, deadline))

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
        if self._cgroup is None and returncode != 0 and mentions_out_of_memory(self._stderr.tail.get()):
            return ExitInfo(code, sig, "memory", f"memory limit exceeded: an allocation failed under the "
                                                 f"{self.spec.memory_mb:g} MB address-space limit ({ended})")
        return ExitInfo(code, sig, None, ended)


def _signal_name(sig: int) -> str:
    try:
        return f"{signal.Signals(sig).name} ({sig})"
    except ValueError:
        return str(sig)


def _pidfd_open(pid: int) -> int | None:
    """A pidfd for ``pid`` (readable once it has exited), or None where the kernel has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            raise
        return None


def start_task(spec: ProcessSpec, *, gate: int | None = None) -> TaskProcess:
    """Spawn ``spec``'s command and return its ``TaskProcess``.

    ``gate`` (only where ``spawn.can_gate()``): the read end of a pipe (see ``gates``); the process is
    created, joins its cgroup and gets its limits, but runs the command only once it has read a line from
    the pipe; ``kill()`` before that ends it without the command ever running. The caller keeps the fd.

    Creates ``log_dir`` and writes ``stdout``/``stderr`` there (see ``tasklogs.RotatingLog``; ``stderr`` is
    created by the task's first byte of it). Raises
    ``TaskStartError`` if the command cannot be started — a missing or non-executable program, a bad
    ``cwd``; the reason is also appended to the stderr log, where the task's owner will look — and
    ``OSError`` if the log files or the cgroup cannot be created. Thread-safe.
    """
    parent = find_delegated_cgroup(spec.cgroup_parent)
    cgroup = TaskCgroup.create(parent, spec.task_id, spec.memory_bytes, spec.cpus) if parent else None
    try:
        # The agent's alone: it writes the logs (through pipes), the task never opens them.
        spec.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # stdout exists from the start; stderr, which most tasks never write to, from its first byte.
        logs = [RotatingLog(spec.log_dir / "stdout", spec.log_max_bytes, create_now=True),
                RotatingLog(spec.log_dir / "stderr", spec.log_max_bytes)]
    except OSError:
        if cgroup is not None:
            cgroup.remove()
        raise
    argv = ["/bin/sh", "-c", spec.argv] if isinstance(spec.argv, str) else list(spec.argv)
    env = dict(spec.env)
    env.setdefault("PATH", DEFAULT_PATH)
    out_read, out_write = os.pipe2(os.O_CLOEXEC)
    err_read, err_write = os.pipe2(os.O_CLOEXEC)
    try:
        check_executable(argv[0], spec.cwd, env["PATH"])
        popen = spawn(argv, cwd=spec.cwd, env=env, stdout=out_write, stderr=err_write,
                      address_space_bytes=None if cgroup else spec.memory_bytes,
                      cgroup_procs=cgroup.procs if cgroup else None, gate=gate, started=_guard.add,
                      credentials=spec.run_as)
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
    log.info("event=task_started task_id=%s pid=%d enforcement=%s memory_mb=%g gated=%s user=%s",
             spec.task_id, popen.pid, "cgroup-v2" if cgroup else "rlimit+watchdog", spec.memory_mb,
             gate is not None, spec.run_as.user if spec.run_as else "agent's")
    return TaskProcess(spec, popen, cgroup, LogPipe(out_read, logs[0]), LogPipe(err_read, logs[1]))
