"""Retention of finished runs: each job's newest ``keep`` finished runs stay in the history, older ones go.

``RunRetention`` decides what to prune and does it one batch at a time; the history recorder's writer
thread calls ``step()`` while no events wait (``recorder.py``), so pruning never holds up the scheduler
(whose ``record`` calls only queue events) and delays the next write by one batch at most.

Which jobs to look at: every job in the history once (the first step, for what older masters or an
earlier ``keep`` left), then the jobs the recorder wrote a terminal event for — only an ending can make
a run finished. A job is looked at ``settle`` seconds after it was told of: the scheduler records a
task's end just before it commits the failover entry that keeps the run active, and the wait lets that
commit land before the run's fate is read from ``active``.

Most jobs a step looks at have no more than ``keep`` runs at all: one query (``jobs_over``) tells those
apart for up to ``CHECK`` due jobs at once, and only the jobs beyond ``keep`` are pruned, one batch per
step. (A burst of 2,000 one-run jobs ending together cost 2,000 pruning queries in the leader, competing
with the scheduler for the interpreter, before that check: ``bench burst`` went from 4.4 s to 6.9 s.)

A run is pruned only when all of its executions are terminal and ``active(job)`` (the leader's state:
queued, running, failing over, being stopped) does not name it; such runs do not count towards ``keep``
either. Only the leader prunes (``leading``): with a shared database it is the history's one writer.

Thread-safety: ``touched`` may be called from any thread; ``step`` and ``due_in`` from one thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterable

from elasticjob.history.store import HistoryStore

log = logging.getLogger(__name__)

DEFAULT_RUN_RETENTION = 1000
BATCH = 200  # runs per transaction: the longest a write waits behind pruning
CHECK = 500  # due jobs told apart per query: those with more than ``keep`` runs, and the others
SETTLE = 2.0
RETRY = 5.0  # after a failure, or while not leading, look again this much later


class RunRetention:
    def __init__(
        self,
        store: HistoryStore,
        keep: int,
        active: Callable[[str], Collection[str]],
        *,
        leading: Callable[[], bool] = lambda: True,
        batch: int = BATCH,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if keep < 1 or batch < 1:
            raise ValueError("keep and batch must be at least 1")
        self.store = store
        self.keep = keep
        self.active = active
        self.leading = leading
        self.batch = batch
        self.settle = settle
        self.clock = clock
        self._lock = threading.Lock()
        self._due: OrderedDict[str, float] = OrderedDict()  # job -> when to look at it, in arrival order
        self._swept = False  # every job in the history looked at once
        self._sweep_at = 0.0  # when to (try to) do that
        self._over: deque[str] = deque()  # checked: more than ``keep`` runs; pruned one batch per step

    def touched(self, job_names: Iterable[str]) -> None:
        """Jobs that may have new finished runs (the recorder wrote an end for them)."""
        due = self.clock() + self.settle
        with self._lock:
            for name in job_names:
                self._due.setdefault(name, due)

    def due_in(self) -> float | None:
        """Seconds until ``step`` has work (0: now), or None while there is none."""
        with self._lock:
            if not self._swept:
                return max(0.0, self._sweep_at - self.clock()) if self.leading() else RETRY
            if not self._due and not self._over:
                return None
            if not self.leading():
                return RETRY
            if self._over:
                return 0.0
            first = next(iter(self._due.values()))
        return max(0.0, first - self.clock())

    def step(self) -> int:
        """One query: prune one batch of a job known to have more than ``keep`` runs, or else tell those
        apart among the first ``CHECK`` jobs due. Returns the number of runs deleted. Never raises: a
        failing store is logged and the jobs looked at again ``RETRY`` seconds later."""
        if not self.leading():
            return 0
        if not self._swept:
            if self._sweep_at <= self.clock():
                self._sweep()
            return 0
        now = self.clock()
        if self._over:
            return self._prune(self._over.popleft(), now)
        with self._lock:
            due: list[str] = []
            while self._due and len(due) < CHECK:
                job, when = next(iter(self._due.items()))
                if when > now:
                    break
                del self._due[job]
                due.append(job)
        if due:
            try:
                over = set(self.store.jobs_over(due, self.keep))
            except Exception:  # noqa: BLE001 - as in _prune
                log.exception("run retention: could not count the runs of %d job(s); trying again later",
                              len(due))
                for job in due:
                    self._again(job, now + RETRY)
                return 0
            self._over.extend(job for job in due if job in over)
        return 0

    def _prune(self, job: str, now: float) -> int:
        try:
            found = self.store.prunable_runs(job, self.keep, sorted(self.active(job)), self.batch)
            deleted = self.store.delete_runs(job, found) if found else []
        except Exception:  # noqa: BLE001 - pruning is housekeeping: it must not stop the recorder
            log.exception("run retention: could not prune the runs of job %s; trying again later", job)
            self._again(job, now + RETRY)
            return 0
        if len(found) == self.batch:
            self._again(job, now)  # more to do: after the other jobs' turns and any waiting events
        if deleted:
            log.info("run retention: deleted %d finished run(s) of job %s (keeping %d)", len(deleted), job,
                     self.keep)
        return len(deleted)

    def _sweep(self) -> None:
        try:
            names = self.store.run_jobs()
        except Exception:  # noqa: BLE001 - as in step
            log.exception("run retention: could not list the jobs of the history; trying again later")
            self._sweep_at = self.clock() + RETRY
            return
        now = self.clock()
        with self._lock:
            self._swept = True
            for name in names:
                self._due.setdefault(name, now)

    def _again(self, job: str, due: float) -> None:
        with self._lock:
            self._due.setdefault(job, due)
