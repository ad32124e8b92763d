"""Single flight: concurrent callers asking for the same key share one piece of work instead of repeating it.

The first caller for a key *leads*: it does the work and publishes the outcome with ``finish``; callers
arriving while that flight is in the air *join* it and wait for the same outcome (value or exception).
A flight remembers when it started and a ``tag`` (what it was started for), so a joiner can decide whether
the shared outcome is recent enough for it or whether it must lead a new flight once this one has landed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Flight", "SingleFlight"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Flight(Generic[T]):
    """One piece of work in progress. ``started``: the ``SingleFlight``'s clock when it was created."""

    def __init__(self, tag: str, started: float) -> None:
        self.tag = tag
        self.started = started
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def wait(self) -> T:
        """Block until the flight has landed; its value, or raise its exception."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def _land(self, value: T | None, error: BaseException | None) -> None:
        self._value, self._error = value, error
        self._done.set()


class SingleFlight(Generic[K, T]):
    """At most one flight per key at a time; ``clock`` (default ``time.monotonic``) dates the flights.
    Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[K, Flight[T]] = {}

    def join_or_lead(self, key: K, tag: str = "") -> tuple[Flight[T], bool]:
        """The flight in the air for ``key`` and False, or a new one (tagged ``tag``) and True: then the
        caller leads it and must call ``finish`` exactly once, whatever happens."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight(tag, self._clock())
            return flight, True

    def finish(self, key: K, flight: Flight[T], value: T | None = None,
               error: BaseException | None = None) -> None:
        """Land ``flight`` with ``value`` or ``error``: its joiners wake up, and the next caller for ``key``
        leads a new flight."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight._land(value, error)

    def run(self, key: K, work: Callable[[], T]) -> T:
        """``work()`` for the first caller; the same outcome for everyone who asks while it runs."""
        flight, leading = self.join_or_lead(key)
        if not leading:
            return flight.wait()
        try:
            value = work()
        except BaseException as exc:
            self.finish(key, flight, error=exc)
            raise
        self.finish(key, flight, value)
        return value

    def keys(self) -> set[K]:
        """The keys with a flight in the air."""
        with self._lock:
            return set(self._flights)
