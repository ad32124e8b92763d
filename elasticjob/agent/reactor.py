"""One thread that waits for every task at once: readable log pipes, exited processes (pidfds) and timers.

Before, each task held a supervisor thread blocked in ``waitid``, two log-pump threads blocked in ``read`` and
a ``threading.Timer`` per kill; the threads cost more than the work whenever shards start by the hundred.
The reactor multiplexes all of them over one ``selectors`` loop (epoll on Linux).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["Reactor", "Timer", "shared_reactor"]

log = logging.getLogger(__name__)

_MAX_WAIT = 3600.0


class Timer:
    """A pending ``call_later``; ``cancel()`` stops it from running (a no-op once it ran)."""

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Reactor:
    """An event loop on a daemon thread of its own, started by the first call that needs it.

    ``call_soon``, ``call_later`` and ``add_reader`` may be called from any thread; ``remove_reader`` only
    from a callback. Callbacks run on the reactor thread, one at a time, and must not block: everything that
    waits — a pipe, a process, a deadline — is registered here instead. An exception from a callback is
    logged and the loop goes on.
    """

    def __init__(self, name: str = "task-reactor") -> None:
        self.name = name
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._drain_wakeups)
        self._lock = threading.Lock()
        self._calls: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None

    def call_soon(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._calls.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
        if threading.current_thread() is not self._thread:
            with contextlib.suppress(BlockingIOError):  # if the pipe is full, wake-ups are pending anyway
                os.write(self._wake_write, b"\0")

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + max(0.0, delay), callback)
        self.call_soon(lambda: heapq.heappush(self._timers, (timer.deadline, next(self._sequence), timer)))
        return timer

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever ``fd`` is readable, until ``remove_reader(fd)``."""
        def register() -> None:
            self._selector.register(fd, selectors.EVENT_READ, callback)

        self.call_soon(register)

    def remove_reader(self, fd: int) -> None:
        """Stop watching ``fd`` (before closing it). Only from a callback."""
        self._selector.unregister(fd)

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 4096):
                pass

    def _loop(self) -> None:
        while True:
            try:
                self._once()
            except Exception:  # the loop must outlive any surprise: every task depends on it
                log.exception("event=reactor_loop_failed")
                time.sleep(0.1)

    def _once(self) -> None:
        timeout = None
        if self._timers:
            # epoll waits at most ~24 days: a timer further off (a cron in 2099) is looked at again later.
            timeout = min(_MAX_WAIT, max(0.0, self._timers[0][0] - time.monotonic()))
        with self._lock:
            if self._calls:
                timeout = 0.0
        for key, _events in self._selector.select(timeout):
            self._run(key.data)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)[2]
            if not timer.cancelled:
                timer.cancelled = True
                self._run(timer.callback)
        while True:
            with self._lock:
                if not self._calls:
                    break
                callback = self._calls.popleft()
            self._run(callback)

    @staticmethod
    def _run(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("event=reactor_callback_failed")


_shared: Reactor | None = None
_shared_lock = threading.Lock()


def shared_reactor() -> Reactor:
    """The agent's one reactor, shared by its task processes and its task manager."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Reactor()
        return _shared
