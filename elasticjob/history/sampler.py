"""The leader's statistics samples: what is running and registered, written once an interval.

Elastic-Job-Cloud's scheduler ran statistics jobs each minute that counted running tasks and jobs and
registered jobs into tables; ``StatisticsSampler`` does the same into ``job_statistics_sample``, from the
master's in-memory state (``count``: no ZooKeeper read). Only the leader samples (``leading``), so a
database shared by several masters gets one series. Samples older than ``keep`` are deleted, an hour
apart at most. A failing database costs a logged warning and that sample, nothing else.

Thread-safety: one thread of its own ("statistics-sampler"); ``start``/``stop`` from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from elasticjob.history.store import HistoryError, StatisticsStore

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0
DEFAULT_KEEP = timedelta(days=400)
PRUNE_EVERY = 3600.0


class StatisticsSampler:
    def __init__(
        self,
        store: StatisticsStore,
        count: Callable[[], tuple[int, int, int]],
        leading: Callable[[], bool],
        *,
        interval: float = DEFAULT_INTERVAL,
        keep: timedelta = DEFAULT_KEEP,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``count()``: ``(running tasks, running jobs, registered jobs)`` now."""
        if interval <= 0:
            raise ValueError("the sampling interval must be positive")
        self.store = store
        self.count = count
        self.leading = leading
        self.interval = interval
        self.keep = keep
        self.now = now
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="statistics-sampler", daemon=True)
        self._pruned_at = float("-inf")

    def start(self) -> StatisticsSampler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._thread.join(timeout)

    def sample(self) -> bool:
        """Take one sample if leading; whether one was written."""
        if not self.leading():
            return False
        at = self.now()
        running_tasks, running_jobs, registered = self.count()
        try:
            self.store.record_sample(at, running_tasks, running_jobs, registered)
            if time.monotonic() - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = time.monotonic()
                self.store.prune_samples(at - self.keep)
        except HistoryError as exc:
            log.warning("statistics sample not recorded: %s", exc)
            return False
        return True

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a bug must not end the sampling
                log.exception("statistics sampler failed")
