"""How a task's process is started: a new session, death with the agent, its limits applied before ``exec``.

``spawn`` starts a command so that, before the task's program runs,

1. the process has ``PR_SET_PDEATHSIG(SIGKILL)`` (it dies with the agent) — and if the agent died before
   that was set, the process kills itself instead of running unguarded;
2. it has joined its cgroup v2 (``cgroup_procs``), so every byte it allocates is charged;
3. it has ``RLIMIT_AS`` (soft = hard) when the fallback memory mode applies.

CPython forks a multi-threaded agent slowly when a Python ``preexec_fn`` must run in the child (a full
``fork``; measured ~240 spawns/s from a 75 MB agent) and quickly without one (``vfork``: ~1,400/s). So the
three steps run in a small exec wrapper instead: ``setpriv --pdeathsig KILL`` (util-linux) sets the death
signal and execs ``/bin/sh``, which checks that its parent is still the agent (the check comes after the
``prctl``, so the "parent already died" race is closed), sets ``ulimit -v`` (soft and hard) and writes its
own pid to ``cgroup.procs``, then ``exec``\\s the task's command with the same pid (a ``/bin/sh -c`` command
it runs itself, with ``eval``, as that shell would: one exec fewer per shard). A *gated* spawn (``gate``:
the read end of a pipe, given as the wrapper's stdin) stops before that ``exec`` until it has read one
line from the pipe (``gates``): a shard launched ahead of its instant is created ahead too, and at its
instant only the ``exec`` of its command remains. A gate closed with no line for it ends the wrapper
(exit 125) without running anything. Without ``setpriv`` the
agent falls back to ``limits.make_preexec`` (same guarantees, slower spawns) and says so once in its log.

Dropping privileges (``credentials``, the agent's ``--run-as``): the same ``setpriv`` also takes the user's
uid, gid and supplementary groups (``--reuid``/``--regid``/``--groups``, resolved once by ``runas``: no
lookup per shard) and sets the death signal *after* changing them — the kernel clears ``PDEATHSIG`` when a
process's credentials change, so the order matters. No exec is added. The wrapper then runs as the user:
``ulimit -v`` only lowers a limit, which an unprivileged process may do; joining the cgroup, which it may not,
is done by the agent, which writes the pid to ``cgroup.procs`` while the process waits at its gate (such a
spawn is always gated). The fallback ``preexec`` drops privileges after joining the cgroup and setting the
limit, and sets the death signal after that.

The death signal fires when the *thread* that forked the child exits, so every spawn runs on one thread
that lives as long as the agent (``_Spawner``). It reaches a task's main process only; ``OrphanGuard``
kills the rest of a task's process group when the agent dies — and so that no command runs before the guard
knows of its group, every spawn with a ``started`` callback is gated too, by a pipe of its own opened right
after the callback.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from queue import SimpleQueue
from typing import TypeVar

from elasticjob.agent.limits import make_preexec
from elasticjob.agent.runas import Credentials

__all__ = ["OrphanGuard", "can_gate", "check_executable", "spawn"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# $1 agent pid, $2 RLIMIT_AS in KiB or "", $3 cgroup.procs path or "", $4 "keep" PWD or "", $5 "gated" or "",
# $6 "script" (then $7 is a shell command, run here as `sh -c` would: no exec of another shell) or "exec"
# (then the command's argv follows).
_WRAPPER = """[ "$PPID" = "$1" ] || kill -9 $$
if [ -n "$2" ]; then
  ulimit -v "$2" || { echo "elasticjob agent: cannot set the address-space limit" >&2; exit 125; }
fi
if [ -n "$3" ]; then
  echo $$ > "$3" || { echo "elasticjob agent: cannot join the task's cgroup ($3)" >&2; exit 125; }
fi
[ -n "$4" ] || unset PWD
if [ -n "$5" ]; then
  IFS= read -r _ || exit 125
  exec </dev/null
fi
if [ "$6" = script ]; then
  eval "set --
$7"
  exit
fi
shift 6
exec "$@"
"""
_WRAPPER_NAME = "elasticjob-task"


class _Spawner:
    """One long-lived thread that forks every task (see the module docstring)."""

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


@functools.lru_cache(maxsize=1)
def _setpriv() -> str | None:
    """The path of a ``setpriv`` that supports ``--pdeathsig``, or None (checked once by running it)."""
    known = (p for p in ("/usr/bin/setpriv", "/bin/setpriv") if os.path.exists(p))
    path = shutil.which("setpriv") or next(known, None)
    if path is None or not os.path.exists("/bin/sh"):
        return None
    try:
        subprocess.run([path, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", "exit 0"], check=True, timeout=10,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return path


@functools.lru_cache(maxsize=1)
def _warn_once() -> None:
    log.warning("event=task_spawn_slow_path: setpriv (util-linux) with --pdeathsig not found; tasks start "
                "through a Python preexec_fn, which is several times slower")


def can_gate() -> bool:
    """Whether ``spawn`` can hold a process at a gate (only through the exec wrapper, see above)."""
    return _setpriv() is not None


def spawn(argv: list[str], *, cwd: Path, env: dict[str, str], stdout: int, stderr: int,
          address_space_bytes: int | None, cgroup_procs: Path | None,
          gate: int | None = None, started: Callable[[int], None] | None = None,
          credentials: Credentials | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` (already checked with ``check_executable``) in a new session and process group, with
    the guarantees of the module docstring, stdin from /dev/null and ``stdout``/``stderr`` as given (no other
    descriptor is inherited). ``env`` is the complete environment. ``gate`` (only where ``can_gate()``): the
    read end of a pipe; the command runs once the wrapper has read a line from it. ``started(pid)`` is
    called on the spawning thread as soon as the process exists (before ``spawn`` returns to a caller that
    may wait for the GIL a while): what must know of the process at once — the orphan guard — is told
    there, and through the wrapper the command does not run before ``started`` has returned.
    ``credentials``: the process drops to that uid, gid and groups before anything of the task runs (see
    "Dropping privileges" in the module docstring); None: it runs as the agent's user. Raises
    ``OSError`` or ``subprocess.SubprocessError`` if it cannot start. Thread-safe."""
    parent_pid = os.getpid()
    setpriv = _setpriv()
    preexec: Callable[[], None] | None = None
    # A process that drops privileges cannot join its cgroup itself: the agent writes its pid while it is
    # held at its gate (the kernel moves a process by pid; nothing of the task has run yet).
    agent_joins = setpriv is not None and credentials is not None and cgroup_procs is not None
    if setpriv is not None:
        limit = "" if address_space_bytes is None else str(address_space_bytes // 1024)
        # A shell command is run by the wrapper's own shell (as `/bin/sh -c` would: $0 too): one exec fewer.
        script = len(argv) == 3 and argv[0] == "/bin/sh" and argv[1] == "-c"
        command = [setpriv, *_drop_arguments(credentials), "--pdeathsig", "KILL", "--", "/bin/sh", "-c",
                   _WRAPPER, argv[0] if script else _WRAPPER_NAME, str(parent_pid), limit,
                   "" if cgroup_procs is None or agent_joins else str(cgroup_procs),
                   "keep" if "PWD" in env else "",
                   "gated" if gate is not None or started is not None or agent_joins else "",
                   *(("script", argv[2]) if script else ("exec", *argv))]
    elif gate is not None:
        raise ValueError("a gated spawn needs the exec wrapper (setpriv): check can_gate() first")
    else:
        _warn_once()
        command = argv
        preexec = make_preexec(parent_pid=parent_pid, address_space_bytes=address_space_bytes,
                               cgroup_procs=cgroup_procs, credentials=credentials)

    # Through the wrapper an ungated spawn still passes a gate of its own, opened once ``started`` has
    # returned: an agent that dies before the orphan guard knows of the process leaves nothing running.
    own_gate = setpriv is not None and gate is None and (started is not None or agent_joins)

    def start() -> subprocess.Popen[bytes]:
        read, write = os.pipe() if own_gate else (-1, -1)
        stdin = read if own_gate else subprocess.DEVNULL if gate is None else gate
        try:
            popen = subprocess.Popen(command, cwd=cwd, env=env, stdin=stdin, stdout=stdout, stderr=stderr,
                                     start_new_session=True, close_fds=True, preexec_fn=preexec)
            if agent_joins:
                assert cgroup_procs is not None
                _join(popen, cgroup_procs)
            if started is not None:
                started(popen.pid)
            if own_gate:
                os.write(write, b"\n")
        finally:
            if own_gate:
                os.close(read)
                os.close(write)
        return popen

    return _spawner.run(start)


def _drop_arguments(credentials: Credentials | None) -> list[str]:
    """setpriv's options that take ``credentials`` (none: keep the agent's). setpriv changes the uids and
    then sets the death signal (the kernel clears it at a change of credentials), then execs."""
    if credentials is None:
        return []
    groups = ",".join(str(g) for g in credentials.groups)
    return [f"--reuid={credentials.uid}", f"--regid={credentials.gid}",
            f"--groups={groups}" if groups else "--clear-groups"]


def _join(popen: subprocess.Popen[bytes], cgroup_procs: Path) -> None:
    """Move the gated process into its cgroup; if that fails it is killed (it never ran), OSError raised."""
    try:
        cgroup_procs.write_text(str(popen.pid))
    except OSError:
        popen.kill()
        popen.wait()
        raise


def check_executable(program: str, cwd: Path, search_path: str) -> None:
    """Raise ``FileNotFoundError`` (or ``PermissionError``) unless ``program`` names an executable file the
    way ``exec`` will look it up: relative to ``cwd`` if it contains a slash, else on ``search_path``
    (relative entries relative to ``cwd``). Done before the spawn so that a command that cannot start is
    reported as such rather than as a task that exited with 127."""
    if "/" in program:
        candidates = [cwd / program]
    else:
        candidates = [cwd / (entry or ".") / program for entry in search_path.split(os.pathsep)]
    found = [path for path in candidates if path.is_file()]
    if any(os.access(path, os.X_OK) for path in found):
        return
    if found:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


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


class OrphanGuard:
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
