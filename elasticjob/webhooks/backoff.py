"""When a failed delivery is tried again: exponential backoff with jitter, for a bounded time. Pure: the
random draw is a parameter.

After the ``n``-th failed attempt (``n`` from 1), the next waits ``min(FIRST * 2**(n-1), LONGEST)`` seconds
times a factor drawn from ``[0.5, 1.0]`` (so retries of many deliveries that failed together spread out).
A delivery whose next attempt would come later than ``retry_for`` seconds after it was created is not
tried again: it is FAILED.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

FIRST = 1.0  # seconds before the second attempt (before jitter)
LONGEST = 300.0  # the longest wait between two attempts
DEFAULT_RETRY_FOR = 3600.0  # --webhook-retry-for: one hour


def delay(failed_attempts: int, draw: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``failed_attempts`` (>= 1) failed attempts; ``draw()`` in ``[0, 1)``."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts must be at least 1")
    base = min(FIRST * 2 ** min(failed_attempts - 1, 30), LONGEST)
    return base * (0.5 + 0.5 * draw())


def next_attempt(
    created_at: dt.datetime,
    now: dt.datetime,
    failed_attempts: int,
    retry_for: float,
    draw: Callable[[], float] = random.random,
) -> dt.datetime | None:
    """When to try again after ``failed_attempts`` failures, or None: give up (past ``retry_for``)."""
    upcoming = now + dt.timedelta(seconds=delay(failed_attempts, draw))
    if upcoming > created_at + dt.timedelta(seconds=retry_for):
        return None
    return upcoming
