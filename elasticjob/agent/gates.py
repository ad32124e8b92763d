"""Start gates: the shards of one instant are created ahead of it and all let go by one pipe write.

A shard launched ahead of its firing's instant is spawned when it arrives, held by its start wrapper before
the ``exec`` of its command (``spawn``: the wrapper reads one line from its stdin). Every shard of an
agent due at the same instant reads from the same pipe — the instant's gate — and at the instant
``LINES`` newlines are written into it in one ``write``. Each wrapper reads exactly one byte (``sh``'s
``read`` reads a pipe byte by byte), so each shard takes one line and no shard can take another's; lines
left over are harmless (a process reads one, then runs with stdin from /dev/null), so a gate holds at
most ``LINES`` shards and a shard spawned just after the instant still finds its line.

The write is made by the *gate keeper*, a small single-threaded helper process that holds every gate's
write end (passed over a Unix socket) and sleeps until each instant. Opening gates from the agent itself
came ~100 ms late on two busy cores: its threads (staging, spawning, the reactor, the link) keep its GIL
busy, and each system call of the opening thread waited its turn for it again. The keeper reports each
opening back (when it wrote); the agent then reports the shards RUNNING. If the keeper cannot be started
or dies, or has not reported a gate ``FALLBACK_AFTER`` seconds after its instant, the agent's own gate
thread writes the lines (extra lines from a late keeper are harmless) and says so in its log.

A shard being spawned while its gate opens has reserved its place (``enter``); the pipe's read end stays
open in the agent until the last reserved spawn is done with it. A shard killed at the gate leaves its
line unread.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from elasticjob.agent.reactor import Reactor

__all__ = ["Gate", "StartGates"]

log = logging.getLogger(__name__)

_M = TypeVar("_M")
# Newlines written when a gate opens: at most this many shards share a gate (a full gate starts another one
# for the same instant), and two writes of them (the keeper's and a fallback) fit an empty 64 KiB pipe.
LINES = 16_384
MAX_MEMBERS = LINES
FALLBACK_AFTER = 0.5

# The keeper: its stdin is a Unix socket to the agent. A message is an instant (Unix seconds, text) with a
# gate's write end attached; at the instant it writes LINES newlines into it, closes it and answers
# "instant opened-at". It ends when the agent's end of the socket closes.
_KEEPER_CODE = """
import heapq, os, select, socket, sys, time
LINES = int(sys.argv[1])
link = socket.socket(fileno=0)
due = []
while True:
    timeout = max(0.0, due[0][0] - time.time()) if due else None
    if select.select([link], [], [], timeout)[0]:
        message, fds, _, _ = socket.recv_fds(link, 64, 1)
        if not message:
            break
        if fds:
            heapq.heappush(due, (float(message), fds[0]))
    now = time.time()
    while due and due[0][0] <= now:
        instant, fd = heapq.heappop(due)
        try:
            os.write(fd, b"\\n" * LINES)
        except OSError:
            pass
        opened = time.time()
        os.close(fd)
        link.sendall(("%r %r\\n" % (instant, opened)).encode())
"""


class Gate(Generic[_M]):
    """One instant's pipe. ``read_fd`` is what a member's process gets as stdin."""

    def __init__(self, start_at: float) -> None:
        self.start_at = start_at
        self.read_fd, self._write_fd = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(self.read_fd, True)  # the shards' stdin: a blocking read
        self.lock = threading.Lock()
        self.members: list[_M] = []
        self.pending = 0  # spawns that reserved a line and are not done yet
        self.opened = False

    def _close_read_end_if_unused(self) -> None:
        """Caller holds ``lock``."""
        if self.opened and self.pending == 0 and self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


class StartGates(Generic[_M]):
    """The waiting gates of an agent, by instant, the keeper that opens them and the thread that follows
    the keeper. ``on_open(members, opened)`` runs on the reactor thread soon after a gate opened, with the
    members that had joined it and when it opened (Unix seconds). Thread-safe."""

    def __init__(self, reactor: Reactor, on_open: Callable[[list[_M], float], None], *,
                 keeper: bool = True) -> None:
        self._reactor = reactor
        self._on_open = on_open
        self._lock = threading.Condition()
        self._gates: dict[float, Gate[_M]] = {}
        self._due: list[tuple[float, int, Gate[_M]]] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None
        self._use_keeper = keeper
        self._keeper: subprocess.Popen[bytes] | None = None
        self._link: socket.socket | None = None
        self._reports: dict[float, float] = {}  # instant -> when the keeper opened it

    def enter(self, start_at: float) -> Gate[_M] | None:
        """Reserve a line in the gate of ``start_at`` (Unix seconds), creating it if needed; None once the
        instant has come. Follow with ``join`` or ``leave``."""
        with self._lock:
            gate = self._gates.get(start_at)
            if gate is not None:
                with gate.lock:
                    if not gate.opened and len(gate.members) + gate.pending < MAX_MEMBERS:
                        gate.pending += 1
                        return gate
            if start_at <= time.time():
                return None
            gate = Gate(start_at)
            gate.pending = 1
            self._gates[start_at] = gate
            heapq.heappush(self._due, (start_at, next(self._sequence), gate))
            self._hand_to_keeper(gate)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="start-gates", daemon=True)
                self._thread.start()
            self._lock.notify()
        return gate

    def join(self, gate: Gate[_M], member: _M) -> bool:
        """The member's process exists (spawned with ``gate.read_fd``). True: it waits for the gate; False:
        the gate opened meanwhile, its line is in the pipe, and it runs now — the caller reports it."""
        with gate.lock:
            gate.pending -= 1
            if not gate.opened:
                gate.members.append(member)
                return True
            gate._close_read_end_if_unused()
            return False

    def leave(self, gate: Gate[_M]) -> None:
        """A reserved spawn that did not happen (it failed, or the shard was killed first)."""
        with gate.lock:
            gate.pending -= 1
            gate._close_read_end_if_unused()

    # --- the keeper ---------------------------------------------------------------------------------------

    def _hand_to_keeper(self, gate: Gate[_M]) -> None:
        """Caller holds ``_lock``. Give the keeper (started on first use) a copy of the gate's write end."""
        if not self._use_keeper:
            return
        try:
            if self._keeper is None or self._keeper.poll() is not None:
                self._start_keeper()
            assert self._link is not None
            socket.send_fds(self._link, [repr(gate.start_at).encode()], [gate._write_fd])
        except OSError as exc:
            log.warning("event=gate_keeper_unavailable error=%s: the agent opens its start gates itself, "
                        "later under load", exc)
            self._use_keeper = False

    def _start_keeper(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._keeper = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _KEEPER_CODE, str(LINES)], stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        finally:
            theirs.close()
        self._link = ours
        threading.Thread(target=self._read_keeper, args=(ours,), name="gate-keeper-link", daemon=True).start()

    def _read_keeper(self, link: socket.socket) -> None:
        """Record the keeper's reports ("instant opened-at" lines) and wake the gate thread for them."""
        with link.makefile("rb") as lines:
            for line in lines:
                instant, opened = (float(x) for x in line.split())
                with self._lock:
                    self._reports[instant] = opened
                    self._lock.notify()

    # --- the gate thread: what follows an opening, and the fallback -----------------------------------

    def _loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._due:
                        start_at = self._due[0][0]
                        opened = self._reports.pop(start_at, None)
                        grace = FALLBACK_AFTER if self._use_keeper else 0.0
                        if opened is not None or start_at + grace <= time.time():
                            break
                        self._lock.wait(min(3600.0, max(0.0, start_at + grace - time.time())))
                    else:
                        self._lock.wait()
                gate = heapq.heappop(self._due)[2]
                if self._gates.get(gate.start_at) is gate:
                    del self._gates[gate.start_at]
                # Another full gate of the same instant has the same report.
                if opened is not None and self._due and self._due[0][0] == start_at:
                    self._reports[start_at] = opened
            try:
                members = self._open(gate, keeper_opened=opened)
            except Exception:  # the thread must outlive any surprise: every gated shard depends on it
                log.exception("event=start_gate_failed start_at=%s", gate.start_at)
                continue
            at = opened if opened is not None else time.time()
            log.info("event=start_gate_opened start_at=%.3f shards=%d late_ms=%.1f by=%s", gate.start_at,
                     len(members), (at - gate.start_at) * 1000, "keeper" if opened is not None else "agent")
            self._reactor.call_soon(functools.partial(self._on_open, members, at))

    @staticmethod
    def _open(gate: Gate[_M], keeper_opened: float | None) -> list[_M]:
        with gate.lock:
            gate.opened = True
            if keeper_opened is None:  # the keeper did not (in time): write the lines here
                try:
                    os.write(gate._write_fd, b"\n" * LINES)
                except OSError as exc:  # every reader gone, or a late keeper's lines fill the pipe
                    log.debug("gate at %s: %s", gate.start_at, exc)
            os.close(gate._write_fd)
            gate._close_read_end_if_unused()
            return list(gate.members)
