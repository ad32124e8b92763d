"""Webhook deliveries as the history keeps them: the value, and the port the worker and the API use.

A delivery is made PENDING (``next_attempt_at``: now) from a ``RunNotice`` in the transaction that records
the run's events (``HistoryStore.record``); each attempt updates it (``delivery_attempted``) until it is
DELIVERED (a 2xx answer) or FAILED (given up after ``--webhook-retry-for``, or its webhook is gone).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from elasticjob.model.queue import iso
from elasticjob.model.webhook import shown_url


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # to be tried (again) at next_attempt_at
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    FAILED = "FAILED"  # given up


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    job_name: str
    firing_id: str
    run_id: str
    event: str  # start | end
    url: str  # as configured (credentials included: the worker needs them); ``to_json`` hides them
    payload: str
    status: DeliveryStatus
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """The delivery log's shape (``GET /job/jobs/{jobName}/webhooks/deliveries``)."""
        return {
            "id": self.delivery_id,
            "event": "run.started" if self.event == "start" else "run.ended",
            "runId": self.run_id,
            "firingId": self.firing_id,
            "url": shown_url(self.url),
            "status": self.status.value,
            "attempts": self.attempts,
            "lastStatus": self.last_status,
            "lastError": self.last_error,
            "nextAttemptAt": iso(self.next_attempt_at) if self.next_attempt_at else None,
            "deliveredAt": iso(self.delivered_at) if self.delivered_at else None,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: the delivery's new status, the answer's HTTP status (None: no answer) or
    the error, and for a PENDING one when to try again."""

    status: DeliveryStatus
    at: dt.datetime
    http_status: int | None = None
    error: str = ""
    next_attempt_at: dt.datetime | None = None


@runtime_checkable
class DeliveryStore(Protocol):
    """The deliveries of the history store. Thread-safe; every method may raise ``HistoryError``."""

    def due_deliveries(self, now: dt.datetime, limit: int, exclude: Collection[str] = ()) -> list[Delivery]:
        """Up to ``limit`` PENDING deliveries due at ``now`` (not in ``exclude``: those in flight),
        the longest due first."""
        ...

    def next_delivery_at(self) -> dt.datetime | None:
        """When the earliest PENDING delivery is due (None: none is)."""
        ...

    def delivery_attempted(self, delivery_id: str, attempt: Attempt) -> None:
        """Record an attempt: one more ``attempts``, the new status, answer or error, next attempt."""
        ...

    def deliveries(self, job_name: str, offset: int, limit: int) -> tuple[int, list[Delivery]]:
        """The job's deliveries, newest first (by creation, then id): their number and a page."""
        ...

    def pending_deliveries(self) -> int:
        """How many deliveries are PENDING."""
        ...
