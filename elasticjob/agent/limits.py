"""Resource limits for one task process: cgroup v2 when delegated to us, else RLIMIT_AS plus an RSS watchdog.

Two enforcement modes, chosen per task by ``process.start_task``:

* **cgroup v2** — when ``find_delegated_cgroup`` finds a cgroup v2 directory whose ``cgroup.controllers``
  offers ``memory``, whose ``cgroup.subtree_control`` has (or accepts) ``+memory``, and in which a child
  can be created and its ``memory.max`` written. Each task gets a child cgroup (``TaskCgroup``) with
  ``memory.max`` (plus ``memory.swap.max = 0`` and ``memory.oom.group = 1`` where present) and, when the
  ``cpu`` controller is enabled, ``cpu.max``. The child joins it before ``exec`` (see ``spawn``), so
  every byte it ever allocates is charged. An OOM kill shows up as ``oom_kill`` in ``memory.events``.
* **fallback** — ``RLIMIT_AS`` (soft = hard, so the task cannot raise it) set before ``exec`` to the memory
  limit, and a watchdog (``RssWatchdog``) summing ``VmRSS`` over the task's process group.
  ``RLIMIT_AS`` is per process and counts address space, not memory: allocations beyond it fail
  (``ENOMEM``, a Python ``MemoryError``) rather than killing the process, and runtimes that reserve large
  address ranges up front (JVM heaps, Go, glibc's per-thread malloc arenas) need a limit well above
  their real use. ``cpus`` is not enforced in this mode.

Every task's main process also gets ``PR_SET_PDEATHSIG(SIGKILL)``: it dies with the agent, so a shard
that the master fails over elsewhere does not keep running here as well. That signal reaches the main
process only; ``spawn.OrphanGuard`` covers the rest of the task's process group with a guard process.
``spawn`` applies all of this in an exec wrapper; ``make_preexec`` is its fallback where the wrapper's
``setpriv`` is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import logging
import os
import re
import resource
import signal
import threading
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path

from elasticjob.agent.runas import Credentials

__all__ = [
    "MIB",
    "RssWatchdog",
    "TaskCgroup",
    "find_delegated_cgroup",
    "group_rss_bytes",
    "make_preexec",
    "mentions_out_of_memory",
]

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_PAGE_SIZE = resource.getpagesize()
_PR_SET_PDEATHSIG = 1
_CPU_PERIOD_US = 100_000
# What runtimes print when an allocation fails: Python, strerror(ENOMEM), C++, the JVM, Go, Node, bash.
_OUT_OF_MEMORY_MARKERS = (b"memoryerror", b"cannot allocate memory", b"bad_alloc", b"outofmemoryerror",
                          b"out of memory")


# --- process-group RSS (the fallback watchdog) ---------------------------------------------------------


def group_rss_bytes(pgids: Collection[int], proc: Path = Path("/proc")) -> dict[int, int]:
    """Sum of the resident set size (``rss`` of ``/proc/<pid>/stat``, what ``VmRSS`` shows) over the processes
    of each process group in ``pgids``, by one scan of /proc for all groups.

    Groups without any process are absent from the result. Shared pages (the interpreter, libraries) are
    counted once per process, so the sum over-estimates what a group of forked processes really uses.
    Processes that left their group (``setsid``/``setpgid``) are not seen. Processes vanishing during the
    scan are skipped. The scan reads one small file per process of the host — it runs ten times a second
    while tasks run, so it does no more than that. Thread-safe (reads /proc only).
    """
    wanted = set(pgids)
    totals: dict[int, int] = {}
    if not wanted:
        return totals
    root = os.fsencode(proc) + b"/"
    for name in os.listdir(root):
        if not name.isdigit():
            continue
        try:
            fd = os.open(root + name + b"/stat", os.O_RDONLY | os.O_CLOEXEC)
            try:
                stat = os.read(fd, 4096)
            finally:
                os.close(fd)
            # Fields after the parenthesised command name (which may itself contain spaces or ')'):
            # state, ppid, pgrp, ... rss is the 24th field of the line, the 22nd after the name.
            fields = stat.rpartition(b")")[2].split()
            pgid = int(fields[2])
            if pgid not in wanted:
                continue
            rss = int(fields[21]) * _PAGE_SIZE  # 0 for zombies
        except (OSError, IndexError, ValueError):
            continue
        totals[pgid] = totals.get(pgid, 0) + rss
    return totals


class RssWatchdog:
    """One thread that, every ``interval`` seconds, sums the RSS of every watched process group with a single
    scan of /proc (``group_rss_bytes``) and calls ``on_exceeded(used_bytes)`` for each group over its limit
    (again at every tick while it stays over). The thread starts with the first ``watch`` and sleeps while
    nothing is watched. Thread-safe; callbacks run on the watchdog thread and must not block.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._groups: dict[int, tuple[int, Callable[[int], None]]] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, pgid: int, limit_bytes: int, on_exceeded: Callable[[int], None]) -> None:
        with self._changed:
            self._groups[pgid] = (limit_bytes, on_exceeded)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="rss-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()

    def unwatch(self, pgid: int, on_exceeded: Callable[[int], None]) -> None:
        """Stop watching ``pgid`` if it is still watched for ``on_exceeded`` (a reused pgid is left alone)."""
        with self._changed:
            watched = self._groups.get(pgid)
            if watched is not None and watched[1] == on_exceeded:
                del self._groups[pgid]

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._groups:
                    self._changed.wait()
                groups = dict(self._groups)
            try:
                usage = group_rss_bytes(groups)
                for pgid, (limit, on_exceeded) in groups.items():
                    if usage.get(pgid, 0) > limit:
                        on_exceeded(usage[pgid])
            except Exception:  # the watchdog must outlive any surprise in /proc or a callback
                log.exception("event=rss_watchdog_failed")
            time.sleep(self.interval)


def mentions_out_of_memory(stderr_tail: bytes) -> bool:
    """True if ``stderr_tail`` contains what a runtime prints when an allocation fails (case-insensitive):
    ``MemoryError``, ``Cannot allocate memory``, ``bad_alloc``, ``OutOfMemoryError``, ``out of memory``."""
    lowered = stderr_tail.lower()
    return any(marker in lowered for marker in _OUT_OF_MEMORY_MARKERS)


# --- cgroup v2 -----------------------------------------------------------------------------------------


def _own_cgroup_dir() -> Path | None:
    """The cgroup v2 directory this process lives in, from /proc/self/mountinfo and /proc/self/cgroup."""
    try:
        own = next((line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if line.startswith("0::")), None)
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    if own is None:
        return None
    for line in mounts:
        fields, _, tail = line.partition(" - ")
        if tail.split(" ", 1)[0] != "cgroup2":
            continue
        parts = fields.split()
        root, mount_point = parts[3], parts[4]
        if own == root or own.startswith(root.rstrip("/") + "/"):
            return Path(mount_point) / own[len(root):].lstrip("/")
    return None


def _has_word(path: Path, word: str) -> bool:
    return word in path.read_text().split()


@functools.lru_cache(maxsize=8)
def find_delegated_cgroup(parent: Path | None = None) -> Path | None:
    """Return a cgroup v2 directory under which task cgroups with a memory limit can be created, or None.

    ``parent`` defaults to this process's own cgroup. The check is by doing: the memory controller must be
    offered (``cgroup.controllers``) and enabled for children (``cgroup.subtree_control``, enabled here if
    needed — the kernel refuses that for a cgroup that has processes of its own, which then means None),
    and a probe child must accept a write to ``memory.max``. ``cpu`` is enabled too when offered, but is
    not required. Any error means None: the caller falls back to RLIMIT_AS and the RSS watchdog. The
    answer is cached per ``parent``. Thread-safe.
    """
    base = parent if parent is not None else _own_cgroup_dir()
    if base is None:
        return None
    try:
        if not _has_word(base / "cgroup.controllers", "memory"):
            return None
        subtree = base / "cgroup.subtree_control"
        if not _has_word(subtree, "memory"):
            subtree.write_text("+memory")
        if _has_word(base / "cgroup.controllers", "cpu") and not _has_word(subtree, "cpu"):
            # CPU limits are best effort; memory is what protects the host.
            with contextlib.suppress(OSError):
                subtree.write_text("+cpu")
        probe = base / f"elasticjob-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.mkdir()
        try:
            (probe / "memory.max").write_text("max")
        finally:
            probe.rmdir()
    except OSError:
        return None
    return base


class TaskCgroup:
    """One task's cgroup v2 child. Create it before the spawn, have the child join ``procs`` before it
    execs (``spawn``), and ``remove`` it once the task and all its processes have exited. Methods are
    thread-safe (each is one or a few file operations on the cgroup)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.procs = path / "cgroup.procs"

    @classmethod
    def create(cls, parent: Path, task_id: str, memory_bytes: int, cpus: float) -> TaskCgroup:
        """Create ``parent/<task id>-<random>`` with the limits written; raises OSError on failure (the
        partly created cgroup is removed)."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", task_id)[:150]
        path = parent / f"{safe}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        group = cls(path)
        try:
            (path / "memory.max").write_text(str(memory_bytes))
            # Without these, swapping or killing one process of the group would soften the limit.
            group._write_optional("memory.swap.max", "0")
            group._write_optional("memory.oom.group", "1")
            if cpus > 0 and (path / "cpu.max").exists():
                quota = max(1000, int(cpus * _CPU_PERIOD_US))
                (path / "cpu.max").write_text(f"{quota} {_CPU_PERIOD_US}")
        except OSError:
            group.remove()
            raise
        return group

    def _write_optional(self, name: str, value: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.path / name).write_text(value)

    def oom_kills(self) -> int:
        """``oom_kill`` from memory.events: how many processes the kernel killed for this cgroup's limit."""
        try:
            text = (self.path / "memory.events").read_text()
        except OSError:
            return 0
        match = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
        return int(match.group(1)) if match else 0

    def peak_bytes(self) -> int | None:
        """``memory.peak`` (kernel 5.19+), else None."""
        try:
            return int((self.path / "memory.peak").read_text())
        except (OSError, ValueError):
            return None

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup, including those that left the task's process group."""
        try:
            (self.path / "cgroup.kill").write_text("1")
            return
        except OSError:
            pass  # cgroup.kill exists from Linux 5.14 on; before that, one by one
        try:
            pids = [int(pid) for pid in self.procs.read_text().split()]
        except OSError:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def try_remove(self) -> bool:
        """One ``rmdir``: True once the cgroup is gone, False while the kernel still tears its processes down
        (EBUSY); other errors raise ``OSError``."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            return False
        return True

    def remove(self, timeout: float = 2.0) -> None:
        """rmdir the cgroup; retried for ``timeout`` seconds while the kernel still tears processes down."""
        deadline = time.monotonic() + timeout
        while not self.try_remove():
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"cgroup {self.path} still busy after {timeout:g} s")
            time.sleep(0.05)


# --- preexec -------------------------------------------------------------------------------------------


def make_preexec(*, parent_pid: int, address_space_bytes: int | None,
                 cgroup_procs: Path | None, credentials: Credentials | None = None) -> Callable[[], None]:
    """The function ``subprocess`` runs in the child between fork and exec.

    While still privileged it joins ``cgroup_procs`` if given and sets ``RLIMIT_AS`` (soft and hard) if
    given; then it takes ``credentials`` if given (groups, gid, uid: all of real, effective and saved); then
    it sets ``PR_SET_PDEATHSIG(SIGKILL)`` — after the change of credentials, which clears it — and checks
    that the parent is still ``parent_pid`` (if the agent died before the prctl, the signal will never come,
    so the child kills itself). Everything is prepared here, in the parent: the child of a multi-threaded
    process should do as little as possible before exec.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    procs = os.fsencode(cgroup_procs) if cgroup_procs is not None else None
    limit = (address_space_bytes, address_space_bytes) if address_space_bytes is not None else None

    def preexec() -> None:
        if procs is not None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, limit)
        if credentials is not None:
            os.setgroups(list(credentials.groups))
            os.setresgid(credentials.gid, credentials.gid, credentials.gid)
            os.setresuid(credentials.uid, credentials.uid, credentials.uid)
        if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec
