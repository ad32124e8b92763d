"""When each job next needs the scheduler: a heap of instants, one live entry per job. Pure; not thread-safe
(the scheduler thread owns it).

Setting a job's instant again supersedes its earlier entry without searching the heap: stale entries are
skipped when they reach the top (lazy deletion). The heap is compacted when stale entries outnumber live
ones, so its size stays proportional to the number of jobs.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools


class FireHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[dt.datetime, int, str]] = []
        self._live: dict[str, tuple[dt.datetime, int]] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, job: str) -> bool:
        return job in self._live

    def set(self, job: str, instant: dt.datetime | None) -> None:
        """``job`` is next due at ``instant`` (None: never, e.g. a schedule with no further firing)."""
        if instant is None:
            self.discard(job)
            return
        current = self._live.get(job)
        if current is not None and current[0] == instant:
            return
        entry = (instant, next(self._counter), job)
        self._live[job] = entry[:2]
        heapq.heappush(self._heap, entry)
        if len(self._heap) > 2 * len(self._live) + 1024:
            self._compact()

    def discard(self, job: str) -> None:
        self._live.pop(job, None)

    def when(self, job: str) -> dt.datetime | None:
        current = self._live.get(job)
        return None if current is None else current[0]

    def peek(self) -> dt.datetime | None:
        """The earliest instant of any job, or None."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: dt.datetime) -> list[str]:
        """Every job whose instant is ``<= now``, earliest first; they leave the heap."""
        due: list[str] = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return due
            _, _, job = heapq.heappop(self._heap)
            del self._live[job]
            due.append(job)

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()

    def _drop_stale(self) -> None:
        while self._heap:
            instant, number, job = self._heap[0]
            if self._live.get(job) == (instant, number):
                return
            heapq.heappop(self._heap)

    def _compact(self) -> None:
        self._heap = [(instant, number, job) for job, (instant, number) in self._live.items()]
        heapq.heapify(self._heap)
