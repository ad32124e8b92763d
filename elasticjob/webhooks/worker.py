"""The leader's webhook worker: sends the deliveries the history holds as due, and records each attempt.

One thread polls the store (woken when the recorder made deliveries, else at the earliest next attempt and
at least every ``POLL`` seconds) and hands due deliveries to a pool of ``concurrency`` sender threads, each
one attempt with httpx and a ``timeout`` per attempt. Nothing here runs on the scheduler's thread nor on
kazoo's: a receiver that hangs holds one sender for ``timeout`` seconds and delays no firing.

An attempt is signed anew (``signing``) with the secret the job has now (``secret_of(job, url)``, from
the master's in-memory state: the history keeps no secret). A 2xx answer makes it DELIVERED; anything else
(another status, a refused or reset connection, a timeout) is retried after ``backoff.delay``, until the
next attempt would fall beyond ``retry_for`` seconds after the delivery was made: then it is FAILED. A
delivery whose webhook left its job (or whose job is gone) is FAILED at once. Only the leader sends (a
database shared by several masters is shared by their workers too); a delivery in flight when the
leadership moves may be sent again by the next leader: delivery is at least once, and receivers
de-duplicate by the ``X-ElasticJob-Delivery`` id.

Thread-safety: ``wake`` and ``stop`` may be called from any thread and never block (``stop`` waits).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import httpx

from elasticjob.history.deliveries import Attempt, Delivery, DeliveryStatus, DeliveryStore
from elasticjob.history.store import HistoryError
from elasticjob.model.webhook import shown_url
from elasticjob.webhooks import backoff
from elasticjob.webhooks.signing import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between looks at the store while nothing wakes the worker
DEFAULT_TIMEOUT = 10.0  # --webhook-timeout: seconds per attempt (connect, send, each read)
DEFAULT_CONCURRENCY = 8
USER_AGENT = "ElasticJob-Webhook/1"
GONE = "the job no longer has this webhook"


class DeliveryMetrics(Protocol):
    def delivery_attempt(self, outcome: str) -> None:
        """``outcome``: delivered | retrying | failed."""
        ...

    def pending_deliveries(self, count: int) -> None: ...


class NoDeliveryMetrics:
    def delivery_attempt(self, outcome: str) -> None:
        pass

    def pending_deliveries(self, count: int) -> None:
        pass


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WebhookWorker:
    def __init__(
        self,
        store: DeliveryStore,
        secret_of: Callable[[str, str], str | None],
        leading: Callable[[], bool],
        *,
        retry_for: float = backoff.DEFAULT_RETRY_FOR,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        metrics: DeliveryMetrics | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.secret_of = secret_of
        self.leading = leading
        self.retry_for = retry_for
        self.concurrency = concurrency
        self.metrics = metrics or NoDeliveryMetrics()
        self.clock = clock
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,  # a redirect is an answer that is not 2xx: the receiver's to fix
            headers={"User-Agent": USER_AGENT},
        )
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook-send")
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)

    def start(self) -> WebhookWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; attempts in flight finish (bounded by the per-attempt timeout)."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    # ---- the polling thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            wait = POLL
            if self.leading():
                try:
                    wait = self._round()
                except HistoryError as exc:
                    log.warning("webhook worker: %s", exc)
                except Exception:  # noqa: BLE001 - the worker must survive a bug in one round
                    log.exception("webhook worker: round failed")
            self._wake.wait(wait)

    def _round(self) -> float:
        """Hand due deliveries to free senders; the seconds until the next look."""
        with self._lock:
            free = self.concurrency - len(self._in_flight)
            busy = set(self._in_flight)
        self.metrics.pending_deliveries(self.store.pending_deliveries())
        if free <= 0:
            return POLL
        now = self.clock()
        for delivery in self.store.due_deliveries(now, free, busy):
            with self._lock:
                self._in_flight.add(delivery.delivery_id)
            self._pool.submit(self._send, delivery)
        upcoming = self.store.next_delivery_at()
        if upcoming is None:
            return POLL
        return min(POLL, max((upcoming - self.clock()).total_seconds(), 0.05))

    # ---- a sender thread -----------------------------------------------------------------------------
    def _send(self, delivery: Delivery) -> None:
        try:
            attempt = self._attempt(delivery)
            self.store.delivery_attempted(delivery.delivery_id, attempt)
            outcome = {DeliveryStatus.DELIVERED: "delivered", DeliveryStatus.FAILED: "failed"}.get(
                attempt.status, "retrying"
            )
            self.metrics.delivery_attempt(outcome)
            level = logging.WARNING if attempt.status is DeliveryStatus.FAILED else logging.INFO
            log.log(level, "webhook delivery %s of job %s to %s (attempt %d): %s%s", delivery.delivery_id,
                    delivery.job_name, shown_url(delivery.url), delivery.attempts + 1, attempt.status.value,
                    f" ({attempt.error})" if attempt.error else "")
        except HistoryError as exc:  # the attempt is made again once the store answers
            log.warning("webhook delivery %s: attempt not recorded: %s", delivery.delivery_id, exc)
        except Exception:  # noqa: BLE001 - one delivery must not stop a sender
            log.exception("webhook delivery %s failed", delivery.delivery_id)
        finally:
            with self._lock:
                self._in_flight.discard(delivery.delivery_id)
            self._wake.set()  # a sender is free

    def _attempt(self, delivery: Delivery) -> Attempt:
        secret = self.secret_of(delivery.job_name, delivery.url)
        if secret is None:
            return Attempt(DeliveryStatus.FAILED, self.clock(), error=GONE)
        body = delivery.payload.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
            DELIVERY_HEADER: delivery.delivery_id,
            EVENT_HEADER: "run.started" if delivery.event == "start" else "run.ended",
            ATTEMPT_HEADER: str(delivery.attempts + 1),
        }
        status: int | None = None
        try:
            answer = self._client.post(delivery.url, content=body, headers=headers)
            status = answer.status_code
            error = "" if 200 <= status < 300 else f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        now = self.clock()
        if not error:
            return Attempt(DeliveryStatus.DELIVERED, now, http_status=status)
        upcoming = backoff.next_attempt(delivery.created_at, now, delivery.attempts + 1, self.retry_for)
        if upcoming is None:
            return Attempt(DeliveryStatus.FAILED, now, status, f"{error}; gave up after "
                           f"{delivery.attempts + 1} attempt(s) (--webhook-retry-for {self.retry_for:g}s)")
        return Attempt(DeliveryStatus.PENDING, now, status, error, upcoming)
