"""The SQL behind webhook deliveries (``deliveries.DeliveryStore``): making them from run notices inside the
transaction that records the run's events, finding the due ones, recording attempts, the delivery log.

Functions take an open connection; ``sql.SqlHistoryStore`` owns the transactions and the locking.
Datetimes are naive UTC here, as in every history table.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from elasticjob.history.deliveries import Attempt, Delivery, DeliveryStatus
from elasticjob.history.schema import job_webhook_delivery
from elasticjob.history.store import Execution
from elasticjob.model.run import Run, RunStatus, assemble
from elasticjob.model.webhook import RunNotice, WebhookEvent, delivery_id, run_payload

CHUNK = 500
PENDING = DeliveryStatus.PENDING.value
INCOMPLETE = "the history holds no end of every shard of this run"


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def notice_run(notice: RunNotice, executions: Sequence[Execution]) -> Run:
    """The run a notice is about, from its recorded executions: a start is STARTING (or ACTIVE once a
    shard runs); an end has the status its tasks give — FAILED with a reason saying so when the history
    lacks the end of a shard (an event it could not record)."""
    tasks = [e.run_task() for e in executions]
    if notice.event is WebhookEvent.START:
        going = [t for t in tasks if t.state in ("STAGING", "RUNNING")]
        return assemble(notice.job_name, notice.firing_id, tasks, running=going or tasks)
    run = assemble(notice.job_name, notice.firing_id, tasks)
    if not run.status.finished:
        run = replace(run, status=RunStatus.FAILED, reason=INCOMPLETE)
    return run


def enqueue(
    conn: Connection,
    notices: Sequence[RunNotice],
    executions: Mapping[tuple[str, str], Sequence[Execution]],
    now: dt.datetime,
) -> int:
    """Make the deliveries of ``notices`` (``executions``: by job and firing) that do not exist yet, due
    now; returns how many were made. A notice told again (another leader, a repeated report) makes none."""
    d = job_webhook_delivery
    rows: dict[str, dict[str, Any]] = {}
    at = _naive(now)
    for notice in notices:
        run = notice_run(notice, executions.get((notice.job_name, notice.firing_id), ()))
        for url in notice.urls:
            ident = delivery_id(notice.job_name, notice.firing_id, notice.event, url)
            body = run_payload(notice.event, run, notice.sharding_total, ident)
            rows[ident] = {
                "id": ident, "job_name": notice.job_name, "firing_id": notice.firing_id, "run_id": run.run_id,
                "event": notice.event.value, "url": url, "payload": json.dumps(body, separators=(",", ":")),
                "status": DeliveryStatus.PENDING.value, "attempts": 0, "last_status": None, "last_error": "",
                "next_attempt_at": at, "delivered_at": None, "created_at": at, "updated_at": at,
            }
    if not rows:
        return 0
    ids = sorted(rows)
    known: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        known.update(conn.scalars(select(d.c.id).where(d.c.id.in_(ids[start:start + CHUNK]))))
    new = [rows[i] for i in ids if i not in known]
    if new:
        conn.execute(insert(d), new)
    return len(new)


def _delivery(row: Row[Any]) -> Delivery:
    m = row._mapping
    return Delivery(
        delivery_id=m["id"], job_name=m["job_name"], firing_id=m["firing_id"], run_id=m["run_id"],
        event=m["event"], url=m["url"], payload=m["payload"], status=DeliveryStatus(m["status"]),
        attempts=m["attempts"], last_status=m["last_status"], last_error=m["last_error"],
        next_attempt_at=_aware(m["next_attempt_at"]), delivered_at=_aware(m["delivered_at"]),
        created_at=_aware(m["created_at"]) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        updated_at=_aware(m["updated_at"]) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    )


def due(conn: Connection, now: dt.datetime, limit: int, exclude: Collection[str]) -> list[Delivery]:
    d = job_webhook_delivery
    conditions: list[Any] = [d.c.status == PENDING, d.c.next_attempt_at <= _naive(now)]
    if exclude:
        conditions.append(d.c.id.not_in(sorted(exclude)))
    query = select(d).where(*conditions).order_by(d.c.next_attempt_at, d.c.id).limit(limit)
    return [_delivery(row) for row in conn.execute(query)]


def next_at(conn: Connection) -> dt.datetime | None:
    d = job_webhook_delivery
    found = conn.scalar(select(func.min(d.c.next_attempt_at)).where(d.c.status == PENDING))
    return _aware(found)


def attempted(conn: Connection, ident: str, attempt: Attempt) -> None:
    d = job_webhook_delivery
    conn.execute(
        update(d)
        .where(d.c.id == ident)
        .values(
            attempts=d.c.attempts + 1,
            status=attempt.status.value,
            last_status=attempt.http_status,
            last_error=attempt.error[:2000],
            next_attempt_at=(
                _naive(attempt.next_attempt_at) if attempt.status is DeliveryStatus.PENDING else None
            ),
            delivered_at=_naive(attempt.at) if attempt.status is DeliveryStatus.DELIVERED else None,
            updated_at=_naive(attempt.at),
        )
    )


def page(conn: Connection, job_name: str, offset: int, limit: int) -> tuple[int, list[Delivery]]:
    d = job_webhook_delivery
    total = conn.scalar(select(func.count()).select_from(d).where(d.c.job_name == job_name)) or 0
    query = (
        select(d)
        .where(d.c.job_name == job_name)
        .order_by(d.c.created_at.desc(), d.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, [_delivery(row) for row in conn.execute(query)]


def pending(conn: Connection) -> int:
    d = job_webhook_delivery
    return conn.scalar(select(func.count()).select_from(d).where(d.c.status == PENDING)) or 0


def delete_of_runs(conn: Connection, job_name: str, firing_ids: Sequence[str]) -> None:
    """Delete the finished (not PENDING) deliveries of runs the history deletes."""
    d = job_webhook_delivery
    ids = sorted(set(firing_ids))
    for start in range(0, len(ids), CHUNK):
        conn.execute(
            delete(d).where(
                d.c.job_name == job_name,
                d.c.firing_id.in_(ids[start:start + CHUNK]),
                d.c.status != DeliveryStatus.PENDING.value,
            )
        )
