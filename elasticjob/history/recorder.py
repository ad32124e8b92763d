"""Recording execution events off the scheduler's thread: a queue, one writer thread, batched writes.

``record(events, then)`` returns at once; the writer stores the events in batches (one transaction per
batch, many calls per batch under load) and then calls ``then()`` — the scheduler acknowledges an agent's
statuses there, so an agent keeps re-reporting a status until it is both committed to ZooKeeper and in the
history. A failed write is retried with backoff for ``give_up_after`` seconds, then dropped with an error
log (history is best effort; ZooKeeper state is the truth) and ``then`` is called anyway, so agents do not
hold statuses forever while a database is down. At most ``max_pending`` events wait; beyond that the
oldest are dropped, logged and counted.

``notify(notices)`` queues webhook notices (runs that started or ended) behind the events recorded so far:
the store makes their deliveries in the transaction of the batch they fall in, after its events, and the
writer then calls ``on_deliveries()`` (the webhook worker's wake-up).

With a ``retention`` (``retention.py``), the writer prunes old finished runs while no events wait, one
batch at a time, and tells it which jobs it wrote an end for. Events recorded meanwhile wait for one
batch at most; ``flush`` does not wait for pruning.

Thread-safety: ``record`` may be called from any thread; callbacks run on the writer thread and must not
block for long.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence

from elasticjob.history.retention import RunRetention
from elasticjob.history.store import HistoryError, HistoryStore
from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.webhook import RunNotice

log = logging.getLogger(__name__)

MAX_BATCH = 5_000
_Item = tuple[list[ExecutionEvent], Callable[[], None] | None, tuple[RunNotice, ...]]


class HistoryRecorder:
    def __init__(
        self,
        store: HistoryStore,
        *,
        max_pending: int = 200_000,
        give_up_after: float = 30.0,
        on_dropped: Callable[[int], None] = lambda _count: None,
        retention: RunRetention | None = None,
        on_deliveries: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.on_deliveries = on_deliveries
        self.retention = retention
        self.max_pending = max_pending
        self.give_up_after = give_up_after
        self.on_dropped = on_dropped
        self._pending: collections.deque[_Item] = collections.deque()
        self._count = 0
        # Events recorded and not yet written (or given up), by job: what a reader of the history may
        # wait for (``settle``) — the state no longer shows what these events are about.
        self._unwritten: collections.Counter[str] = collections.Counter()
        self._cond = threading.Condition()
        self._stopped = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="history-recorder", daemon=True)

    def start(self) -> HistoryRecorder:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def record(self, events: Sequence[ExecutionEvent], then: Callable[[], None] | None = None) -> None:
        with self._cond:
            self._pending.append((list(events), then, ()))
            self._count += len(events)
            self._unwritten.update(e.job_name for e in events)
            dropped = 0
            while self._count > self.max_pending and len(self._pending) > 1:
                old, callback, notices = self._pending.popleft()
                self._count -= len(old)
                self._unwritten.subtract(e.job_name for e in old)
                dropped += len(old)
                if callback is not None or notices:
                    # Its acknowledgement still goes out, and its webhook notices are still written.
                    self._pending.appendleft(([], callback, notices))
                    break
            self._cond.notify()
        if dropped:
            log.error("history recorder: %d event(s) dropped: over %d waiting", dropped, self.max_pending)
            self.on_dropped(dropped)

    def notify(self, notices: Sequence[RunNotice]) -> None:
        """Queue webhook notices behind everything recorded so far (see the module doc). Never blocks."""
        if not notices:
            return
        with self._cond:
            self._pending.append(([], None, tuple(notices)))
            self._cond.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is written (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def settle(self, job_name: str, timeout: float = 5.0) -> bool:
        """Wait until every event recorded so far for ``job_name`` is written (or given up); False on
        timeout. Returns at once when none waits."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._unwritten[job_name] > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    wait = self.retention.due_in() if self.retention is not None else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if not self._pending and self._stopped:
                    return
                if not self._pending:
                    prune = True
                else:
                    prune = False
                    batch: list[ExecutionEvent] = []
                    callbacks: list[Callable[[], None]] = []
                    notices: list[RunNotice] = []
                    while self._pending and len(batch) < MAX_BATCH:
                        events, then, told = self._pending.popleft()
                        self._count -= len(events)
                        batch.extend(events)
                        notices.extend(told)
                        if then is not None:
                            callbacks.append(then)
                    self._busy = True
            if prune:
                assert self.retention is not None
                self.retention.step()  # one batch; events recorded meanwhile go first after it
                continue
            try:
                self._write(batch, notices)
                if notices:
                    self._deliveries_made()
                for callback in callbacks:
                    try:
                        callback()
                    except Exception:  # noqa: BLE001 - one callback must not stop the recorder
                        log.exception("history recorder callback failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._unwritten.subtract(e.job_name for e in batch)
                    self._unwritten += collections.Counter()  # drop the jobs at zero
                    self._cond.notify_all()

    def _deliveries_made(self) -> None:
        try:
            self.on_deliveries()
        except Exception:  # noqa: BLE001 - a wake-up must not stop the recorder
            log.exception("history recorder: on_deliveries failed")

    def _write(self, batch: list[ExecutionEvent], notices: Sequence[RunNotice] = ()) -> None:
        if not batch and not notices:
            return
        deadline = time.monotonic() + self.give_up_after
        delay = 0.1
        while True:
            try:
                if notices:
                    self.store.record(batch, notices)
                else:
                    self.store.record(batch)
                if self.retention is not None:  # only an end can make a run finished
                    self.retention.touched({e.job_name for e in batch if e.terminal})
                return
            except HistoryError as exc:
                if time.monotonic() + delay > deadline or self._stopped:
                    log.error("history recorder: %d event(s) and %d webhook notice(s) not recorded: %s",
                              len(batch), len(notices), exc)
                    self.on_dropped(len(batch))
                    return
                log.warning("history recorder: %s; retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # noqa: BLE001 - a bug must not stop the recorder
                log.exception("history recorder: %d event(s) not recorded", len(batch))
                self.on_dropped(len(batch))
                return
