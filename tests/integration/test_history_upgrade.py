"""A history database of an earlier release (no ``ip`` columns, no index on end times) is upgraded in
place when a store opens it, on SQLite and PostgreSQL; its rows survive and new ones carry ``ip``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect, text

from elasticjob.history import ExecutionEvent, ExecutionQuery, native_row, open_history
from tests.integration.test_history_sql import postgres_database, postgres_server, url  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _finished(task: str, **fields: str) -> list[ExecutionEvent]:
    return [ExecutionEvent(task, "daily", 0, "f1", "RUNNING", hostname="h1", at=T0, **fields),
            ExecutionEvent(task, "daily", 0, "f1", "FINISHED", at=T0 + timedelta(seconds=5), **fields)]


def _as_first_release(database_url: str) -> None:
    """Remove what this release added, leaving the tables of the first release."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_job_execution_log_finished"))
        for table in ("job_execution_log", "job_status_trace_log"):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN ip"))
    engine.dispose()


def _columns(database_url: str, table: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_an_old_database_gets_the_ip_columns_and_keeps_its_rows(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_finished("old"))
    _as_first_release(url)
    assert "ip" not in _columns(url, "job_execution_log")
    with open_history(url) as store:
        store.record(_finished("new", ip="10.0.0.7"))
        rows = {r.task_id: r for r in store.executions(ExecutionQuery()).rows}
        assert rows["old"].ip == "" and rows["old"].state == "FINISHED"
        assert rows["new"].ip == "10.0.0.7"
        assert native_row(rows["new"])["ip"] == "10.0.0.7"
        assert [r.task_id for r in store.executions(ExecutionQuery(ip="10.0.0.7")).rows] == ["new"]
        assert [e.ip for e in store.status_trace("new")] == ["10.0.0.7", "10.0.0.7"]
    engine = create_engine(url)
    try:
        indexes = {i["name"] for i in inspect(engine).get_indexes("job_execution_log")}
    finally:
        engine.dispose()
    assert "ix_job_execution_log_finished" in indexes
    assert "ip" in _columns(url, "job_status_trace_log")


def test_opening_an_up_to_date_database_again_changes_nothing(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_finished("t1", ip="10.0.0.8"))
    before = _columns(url, "job_execution_log")
    with open_history(url) as store:
        assert store.executions(ExecutionQuery()).rows[0].ip == "10.0.0.8"
    assert _columns(url, "job_execution_log") == before
