"""The history's schema comes from Alembic's revisions (``elasticjob/history/migrations``), on SQLite and
PostgreSQL: an empty database is upgraded to head; a database of a release before migrations (tables, no
``alembic_version``, no ``ip`` columns, no index on end times, no webhook deliveries) is adopted with its
rows kept; several masters upgrading one PostgreSQL database at once take turns."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from elasticjob.history import ExecutionEvent, ExecutionQuery, native_row, open_history
from elasticjob.history.schema import metadata
from elasticjob.history.upgrade import ADVISORY_LOCK_KEY, head, upgrade
from tests.integration.test_history_sql import url  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _finished(task: str, **fields: str) -> list[ExecutionEvent]:
    return [ExecutionEvent(task, "daily", 0, "f1", "RUNNING", hostname="h1", at=T0, **fields),
            ExecutionEvent(task, "daily", 0, "f1", "FINISHED", at=T0 + timedelta(seconds=5), **fields)]


def _as_earlier_release(database_url: str) -> None:
    """Make the database one of the first release: its tables (as ``metadata.create_all`` made them),
    without what later releases added and without Alembic's table."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP TABLE job_webhook_delivery"))
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


def _versions(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def _differences(database_url: str) -> list[object]:
    """What Alembic's autogenerate finds between the database and ``schema.py`` (nothing: they agree)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_an_empty_database_is_upgraded_to_head_matching_the_schema(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_finished("t1", ip="10.0.0.8"))
    assert _versions(url) == [head()]
    assert _differences(url) == []


def test_an_earlier_release_database_is_adopted_and_keeps_its_rows(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_finished("old"))
        store.record_sample(T0, 1, 1, 3)
    _as_earlier_release(url)
    assert "ip" not in _columns(url, "job_execution_log")
    with open_history(url) as store:
        store.record(_finished("new", ip="10.0.0.7"))
        rows = {r.task_id: r for r in store.executions(ExecutionQuery()).rows}
        assert rows["old"].ip == "" and rows["old"].state == "FINISHED"
        assert [e.state for e in store.status_trace("old")] == ["RUNNING", "FINISHED"]
        assert rows["new"].ip == "10.0.0.7"
        assert native_row(rows["new"])["ip"] == "10.0.0.7"
        assert [r.task_id for r in store.executions(ExecutionQuery(ip="10.0.0.7")).rows] == ["new"]
        assert [e.ip for e in store.status_trace("new")] == ["10.0.0.7", "10.0.0.7"]
        assert store.task_results(None, T0 + timedelta(days=1)) == (2, 0)
        assert store.pending_deliveries() == 0  # the table is back
    assert _versions(url) == [head()]
    assert _differences(url) == []


def test_opening_an_up_to_date_database_again_changes_nothing(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_finished("t1", ip="10.0.0.8"))
    engine = create_engine(url)
    try:
        assert upgrade(engine) == head()  # it was at head already
    finally:
        engine.dispose()
    with open_history(url) as store:
        assert store.executions(ExecutionQuery()).rows[0].ip == "10.0.0.8"
    assert _versions(url) == [head()]


def test_a_database_of_a_newer_release_is_used_as_it_is(
    url: str, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    with open_history(url) as store:
        store.record(_finished("t1"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger="elasticjob.history.upgrade"), open_history(url) as store:
        assert [r.task_id for r in store.executions(ExecutionQuery()).rows] == ["t1"]
    assert "revision 9999, which this release" in caplog.text
    assert _versions(url) == ["9999"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elasticjob", *args], capture_output=True, text=True,
                          timeout=60)


def test_the_cli_upgrades_ahead_of_a_rollout(url: str) -> None:  # noqa: F811
    with open_history(url) as store:
        store.record(_finished("old"))
    _as_earlier_release(url)
    result = _cli("history", "upgrade", "--history-url", url)
    assert result.returncode == 0, result.stderr
    assert f"upgraded from no revision, now at revision {head()}" in result.stdout
    assert _versions(url) == [head()]
    assert "ip" in _columns(url, "job_execution_log")
    again = _cli("history", "upgrade", "--history-url", url)
    assert again.returncode == 0 and f"already at revision {head()}" in again.stdout


def test_the_cli_names_an_unusable_url() -> None:
    result = _cli("history", "upgrade", "--history-url", "nosuchdriver://x/y")
    assert result.returncode == 2
    assert "nosuchdriver" in result.stderr


# -- several masters starting at once on one PostgreSQL database ---------------------------------------


@pytest.fixture
def pg_url(postgres_database: str) -> Iterator[str]:
    """The module's PostgreSQL database, emptied after the test."""
    yield postgres_database
    engine = create_engine(postgres_database)
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


def _upgrade_together(database_url: str, masters: int) -> list[object]:
    """Upgrade from ``masters`` threads with an engine each (a session each) while a connection holds the
    upgrade's advisory lock, then release it. Returns what each upgrade returned (or raised)."""
    results: list[object] = [None] * masters
    engines = [create_engine(database_url) for _ in range(masters)]
    holder = create_engine(database_url)

    def run(i: int) -> None:
        try:
            results[i] = upgrade(engines[i])
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc

    try:
        with holder.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            threads = [threading.Thread(target=run, args=(i,)) for i in range(masters)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=1.0)
            # Every upgrade waits for the lock: none got anywhere.
            assert all(thread.is_alive() for thread in threads)
        for thread in threads:  # the lock went with the transaction: they go, one after the other
            thread.join(timeout=60)
            assert not thread.is_alive()
    finally:
        holder.dispose()
        for engine in engines:
            engine.dispose()
    return results


def test_concurrent_upgrades_of_an_empty_postgresql_database_take_turns(pg_url: str) -> None:
    results = _upgrade_together(pg_url, 3)
    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(map(str, results)) == [head(), head(), "None"]  # one upgraded it; the others found it done
    assert _versions(pg_url) == [head()]
    assert _differences(pg_url) == []


def test_concurrent_upgrades_of_an_earlier_release_postgresql_database_keep_its_rows(pg_url: str) -> None:
    with open_history(pg_url) as store:
        store.record(_finished("old"))
    _as_earlier_release(pg_url)
    results = _upgrade_together(pg_url, 2)
    assert sorted(map(str, results)) == [head(), "None"]
    assert _versions(pg_url) == [head()]
    with open_history(pg_url) as store:
        assert [(r.task_id, r.ip) for r in store.executions(ExecutionQuery()).rows] == [("old", "")]
