"""Lanes: work items run one after another within a lane, lanes in parallel on a small pool of threads."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["Lanes"]

log = logging.getLogger(__name__)


class Lanes:
    """Runs ``submit``ted work in lanes: the items of one lane run one at a time in submission order, items of
    different lanes in parallel on at most ``workers`` threads (created as needed, reused).

    The agent stages the launches of one app in one lane: they share one fetch and one unpacked copy anyway,
    so running them side by side would only make threads wait for each other, while a slow download of one
    app holds one worker and never the launches of other apps (up to ``workers`` slow apps at once).
    Thread-safe; an exception from an item is logged and the lane goes on.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._lanes: dict[Hashable, deque[Callable[[], None]]] = {}

    def submit(self, lane: Hashable, work: Callable[[], None]) -> None:
        with self._lock:
            queue = self._lanes.get(lane)
            if queue is not None:
                queue.append(work)
                return
            self._lanes[lane] = deque([work])
        self._pool.submit(self._drain, lane)

    def _drain(self, lane: Hashable) -> None:
        while True:
            with self._lock:
                queue = self._lanes[lane]
                if not queue:
                    del self._lanes[lane]
                    return
                work = queue.popleft()
            try:
                work()
            except Exception:
                log.exception("event=lane_work_failed")
