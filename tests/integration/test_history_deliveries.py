"""Webhook deliveries in the history store, on SQLite and PostgreSQL: made from run notices with the run's
events in one transaction, once per run, event and URL; due, attempted, listed newest first; and made in a
database of an earlier release, which gains the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect, text

from elasticjob.history import ExecutionEvent, open_history
from elasticjob.history.deliveries import Attempt, DeliveryStatus
from elasticjob.model.webhook import RunNotice, WebhookEvent, delivery_id
from tests.integration.test_history_sql import url  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FIRING = "cron-20260301T080000.000Z"


def _run(shards: int, end: str = "FINISHED") -> list[ExecutionEvent]:
    events = []
    for item in range(shards):
        task = f"hooked@-@{item}@-@READY@-@a1@-@u{item}"
        events += [ExecutionEvent(task, "hooked", item, FIRING, "RUNNING", at=T0, started_at=T0),
                   ExecutionEvent(task, "hooked", item, FIRING, end, at=T0 + timedelta(seconds=3),
                                  started_at=T0, finished_at=T0 + timedelta(seconds=3))]
    return events


def _notice(event: WebhookEvent = WebhookEvent.END, *urls: str) -> RunNotice:
    return RunNotice("hooked", FIRING, event, urls or ("http://a/x", "http://b/y"), 2)


def test_a_run_end_makes_one_pending_delivery_per_url_with_the_payload_of_its_events(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_run(2), [_notice()])
        total, rows = store.deliveries("hooked", 0, 10)
        assert total == 2 and store.pending_deliveries() == 2
        assert {r.url for r in rows} == {"http://a/x", "http://b/y"}
        ids = {delivery_id("hooked", FIRING, WebhookEvent.END, u) for u in ("http://a/x", "http://b/y")}
        assert {r.delivery_id for r in rows} == ids
        body = json.loads(rows[0].payload)
        assert body["event"] == "run.ended" and body["status"] == "SUCCESS" and body["runId"] == rows[0].run_id
        assert body["shards"] == {"total": 2, "succeeded": 2, "failed": 0, "active": 0}
        assert body["deliveryId"] == rows[0].delivery_id
        assert all(r.status is DeliveryStatus.PENDING and r.attempts == 0 for r in rows)
        # Told again (a repeated report, another leader): nothing new.
        store.record([], [_notice()])
        assert store.deliveries("hooked", 0, 10)[0] == 2


def test_an_end_without_every_shard_recorded_is_failed_with_a_reason(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_run(1)[:1], [_notice(WebhookEvent.END, "http://a/x")])  # RUNNING only
        body = json.loads(store.deliveries("hooked", 0, 1)[1][0].payload)
        assert body["status"] == "FAILED" and "no end" in body["reason"]


def test_due_deliveries_attempts_and_the_log_order(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_run(2), [_notice()])
        now = datetime.now(UTC) + timedelta(seconds=1)
        due = store.due_deliveries(now, 10)
        assert len(due) == 2
        first, second = due
        assert [d.delivery_id for d in store.due_deliveries(now, 10, {first.delivery_id})] == [second.delivery_id]
        later = now + timedelta(seconds=30)
        store.delivery_attempted(first.delivery_id, Attempt(DeliveryStatus.PENDING, now, 503, "HTTP 503", later))
        store.delivery_attempted(second.delivery_id, Attempt(DeliveryStatus.DELIVERED, now, 200))
        assert store.due_deliveries(now, 10) == []
        assert store.next_delivery_at() == later
        assert [d.delivery_id for d in store.due_deliveries(later, 10)] == [first.delivery_id]
        rows = {r.delivery_id: r for r in store.deliveries("hooked", 0, 10)[1]}
        assert (rows[first.delivery_id].attempts, rows[first.delivery_id].last_status) == (1, 503)
        assert rows[first.delivery_id].to_json()["nextAttemptAt"] is not None
        assert rows[second.delivery_id].status is DeliveryStatus.DELIVERED
        assert rows[second.delivery_id].delivered_at == now and store.pending_deliveries() == 1
        store.record([], [RunNotice("hooked", "cron-later", WebhookEvent.START, ("http://a/x",), 2)])
        newest = store.deliveries("hooked", 0, 1)[1][0]
        assert newest.firing_id == "cron-later" and newest.event == "start"


def test_an_old_database_gains_the_delivery_table(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_run(1))
    engine = create_engine(url)
    with engine.begin() as conn:  # a database of a release before webhooks (and before migrations)
        conn.execute(text("DROP TABLE job_webhook_delivery"))
        conn.execute(text("DROP TABLE alembic_version"))
    assert "job_webhook_delivery" not in inspect(engine).get_table_names()
    engine.dispose()
    with open_history(url) as store:
        store.record([], [_notice()])
        assert store.deliveries("hooked", 0, 10)[0] == 2
