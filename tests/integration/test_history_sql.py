"""SqlHistoryStore against real databases: round trips, upserts, filters, paging, threads, restarts.

Every test taking ``url`` or ``store`` runs on a SQLite file in tmp_path and on PostgreSQL. PostgreSQL is
the session's server (``tests/postgres.py``: ``ELASTICJOB_TEST_POSTGRES_URL`` or a throwaway server from
the local ``initdb``/``pg_ctl``), a database for each module, emptied after each test.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from elasticjob.history import (
    Execution,
    ExecutionEvent,
    ExecutionQuery,
    HistoryConfigError,
    HistoryError,
    HistoryStore,
    SqlHistoryStore,
    history_url,
    open_history,
    parse_query,
)
from elasticjob.history.schema import metadata

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _ev(task: str, state: str, at: float, *, job: str = "daily", item: int | None = 0, firing: str = "f1",
        **fields: object) -> ExecutionEvent:
    return ExecutionEvent(task, job, item, firing, state, at=_at(at), **fields)  # type: ignore[arg-type]


def _run(task: str, start: float, *, state: str = "FINISHED", **kw: object) -> list[ExecutionEvent]:
    """A whole task: STAGING, RUNNING at ``start``, then ``state`` a minute later."""
    return [_ev(task, "STAGING", start - 1, **kw), _ev(task, "RUNNING", start, **kw),  # type: ignore[arg-type]
            _ev(task, state, start + 60, exit_code=0 if state == "FINISHED" else 1, **kw)]  # type: ignore[arg-type]


def _ids(store: SqlHistoryStore, **query: object) -> list[str]:
    return [row.task_id for row in store.executions(ExecutionQuery(**query)).rows]  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend (PostgreSQL: the module's database, its tables dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    database_url: str = request.getfixturevalue("postgres_database")
    yield database_url
    engine = create_engine(database_url)
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


@pytest.fixture
def store(url: str) -> Iterator[SqlHistoryStore]:
    with open_history(url) as opened:
        yield opened


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A SQLite file, for the SQLite-specific tests."""
    return tmp_path / "history.db"


def test_is_a_history_store(store: SqlHistoryStore) -> None:
    assert isinstance(store, HistoryStore)


def test_round_trip(store: SqlHistoryStore) -> None:
    eight = timezone(timedelta(hours=8))
    events = [
        _ev("t1", "STAGING", 0, agent_id="agent-1", hostname="host-a", message="launched"),
        _ev("t1", "RUNNING", 1, agent_id="agent-1", hostname="host-a", started_at=_at(0.5)),
        ExecutionEvent("t1", "daily", 0, "f1", "FAILED", agent_id="agent-1", exit_code=137,
                       message="killed by OOM", finished_at=datetime(2026, 3, 1, 16, 1, tzinfo=eight),
                       at=datetime(2026, 3, 1, 16, 1, 0, 123456, tzinfo=eight)),
    ]
    store.record(events)
    page = store.executions(ExecutionQuery())
    assert page.total == 1
    assert page.rows == [Execution(
        task_id="t1", job_name="daily", sharding_item=0, firing_id="f1", state="FAILED", agent_id="agent-1",
        hostname="host-a", exit_code=137, message="killed by OOM", started_at=_at(0.5), finished_at=_at(60),
        created_at=_at(0), updated_at=_at(60.123456),
    )]
    trace = store.status_trace("t1")
    assert trace == events  # aware datetimes compare by instant
    assert all(e.at.tzinfo is UTC for e in trace)
    assert store.status_trace("nope") == []


def test_empty_record_is_a_no_op(store: SqlHistoryStore) -> None:
    store.record([])
    assert store.executions(ExecutionQuery()).total == 0


def test_upsert_latest_state_wins_across_batches(store: SqlHistoryStore) -> None:
    store.record([_ev("t1", "STAGING", 0)])
    assert store.executions(ExecutionQuery()).rows[0].state == "STAGING"
    store.record([_ev("t1", "RUNNING", 1, hostname="host-a")])
    assert store.executions(ExecutionQuery()).rows[0].state == "RUNNING"
    store.record([_ev("t1", "FINISHED", 9, exit_code=0)])
    (row,) = store.executions(ExecutionQuery()).rows
    assert (row.state, row.exit_code, row.hostname, row.started_at, row.finished_at) == (
        "FINISHED", 0, "host-a", _at(1), _at(9))
    assert len(store.status_trace("t1")) == 3


def test_terminal_never_regresses(store: SqlHistoryStore) -> None:
    store.record([_ev("t1", "FINISHED", 9, exit_code=0)])
    store.record([_ev("t1", "RUNNING", 1, hostname="host-a")])  # replayed after a reconnect
    store.record([_ev("t1", "STAGING", 12)])  # even with a newer timestamp
    (row,) = store.executions(ExecutionQuery()).rows
    assert (row.state, row.exit_code, row.updated_at) == ("FINISHED", 0, _at(9))
    assert (row.hostname, row.started_at) == ("host-a", _at(1))  # gaps filled by the stale events
    assert [e.state for e in store.status_trace("t1")] == ["RUNNING", "FINISHED", "STAGING"]


def test_many_events_of_one_task_in_one_batch(store: SqlHistoryStore) -> None:
    store.record([_ev("t1", "STAGING", 0), _ev("t1", "FINISHED", 5), _ev("t1", "RUNNING", 1)])
    assert store.executions(ExecutionQuery()).rows[0].state == "FINISHED"


def test_lost_then_finished(store: SqlHistoryStore) -> None:
    store.record(_run("t1", 10, state="LOST"))
    store.record([_ev("t1", "FINISHED", 80, exit_code=0)])  # the agent came back and reported
    assert store.executions(ExecutionQuery()).rows[0].state == "FINISHED"


def test_filters(store: SqlHistoryStore) -> None:
    store.record(_run("a0", 100, job="alpha", item=0, firing="fa"))
    store.record(_run("a1", 200, job="alpha", item=1, firing="fa", state="FAILED"))
    store.record(_run("b0", 300, job="beta", item=0, firing="fb", state="KILLED"))
    store.record([_ev("b1", "RUNNING", 400, job="beta", item=1, firing="fb")])
    store.record([_ev("b2", "STAGING", 500, job="beta", item=2, firing="fb")])  # never started
    store.record([ExecutionEvent.missed("alpha", "fm", at=_at(600))])

    assert _ids(store) == ["missed@-@alpha@-@fm", "b2", "b1", "b0", "a1", "a0"]
    assert _ids(store, job_name="alpha") == ["missed@-@alpha@-@fm", "a1", "a0"]
    assert _ids(store, job_name="gamma") == []
    assert _ids(store, states=frozenset({"FAILED", "KILLED"})) == ["b0", "a1"]
    assert _ids(store, states=frozenset({"MISSED"})) == ["missed@-@alpha@-@fm"]
    assert _ids(store, states=frozenset({"STAGING", "RUNNING"})) == ["b2", "b1"]
    # time filters use the start time (RUNNING at 100, 200, ...); inclusive on both ends
    assert _ids(store, since=_at(200), until=_at(300)) == ["b0", "a1"]
    assert _ids(store, since=_at(200.5), until=_at(399)) == ["b0"]
    # ... or the first event's time when the task never started (STAGING at 499, MISSED at 600)
    assert _ids(store, since=_at(499)) == ["missed@-@alpha@-@fm", "b2"]
    assert _ids(store, until=_at(498)) == ["b1", "b0", "a1", "a0"]
    assert _ids(store, sharding_item=1) == ["b1", "a1"]
    assert _ids(store, task_id="b0") == ["b0"]
    assert _ids(store, firing_id="fb") == ["b2", "b1", "b0"]
    assert _ids(store, job_name="beta", sharding_item=0, states=frozenset({"KILLED"})) == ["b0"]
    assert _ids(store, job_name="beta", states=frozenset({"FINISHED"})) == []


def test_job_groups_select_the_group_and_the_names_below_it_only(store: SqlHistoryStore) -> None:
    # "_" and "%" are LIKE's wildcards: a group's prefix must match literally.
    for index, job in enumerate(["m_x", "m_x.daily", "mAx.daily", "m_xy", "other.m_x", "m", "m.a"]):
        store.record(_run(f"t{index}", 100 + index, job=job, firing=f"f{index}"))
    def jobs(groups: tuple[str, ...]) -> set[str]:
        return {row.job_name for row in store.executions(ExecutionQuery(groups=groups)).rows}
    def traced(groups: tuple[str, ...]) -> set[str]:
        return {event.job_name for _, event in store.status_traces(ExecutionQuery(groups=groups)).rows}
    assert jobs(("m_x",)) == traced(("m_x",)) == {"m_x", "m_x.daily"}
    assert jobs(("m_x", "m")) == {"m_x", "m_x.daily", "m", "m.a"}
    assert jobs(("zz",)) == traced(("zz",)) == set()
    assert store.executions(ExecutionQuery(groups=("m",))).total == 2


def test_parse_query_drives_the_store(store: SqlHistoryStore) -> None:
    store.record(_run("a0", 100, job="alpha") + _run("a1", 200, job="alpha") + _run("b0", 300, job="beta"))
    query = parse_query({"jobName": "alpha", "state": "finished", "startTime": "2026-03-01T08:03:00",
                         "order": "asc"})
    assert [row.task_id for row in store.executions(query).rows] == ["a1"]


def test_paging_and_total(store: SqlHistoryStore) -> None:
    events = [e for n in range(45) for e in _run(f"t{n:02d}", n * 10)]
    store.record(events)
    pages = [store.executions(ExecutionQuery(page=p, per_page=20)) for p in (1, 2, 3, 4)]
    assert [page.total for page in pages] == [45, 45, 45, 45]
    assert [len(page.rows) for page in pages] == [20, 20, 5, 0]
    seen = [row.task_id for page in pages for row in page.rows]
    assert seen == [f"t{n:02d}" for n in reversed(range(45))]
    filtered = store.executions(ExecutionQuery(since=_at(100), until=_at(199), per_page=3))
    assert (filtered.total, [r.task_id for r in filtered.rows]) == (10, ["t19", "t18", "t17"])


def test_ordering(store: SqlHistoryStore) -> None:
    store.record(_run("late", 300) + _run("early", 100) + _run("mid", 200))
    store.record([_ev("tie-b", "RUNNING", 250), _ev("tie-a", "RUNNING", 250)])
    assert _ids(store) == ["late", "tie-b", "tie-a", "mid", "early"]
    assert _ids(store, newest_first=False) == ["early", "mid", "tie-a", "tie-b", "late"]


def test_missed_events(store: SqlHistoryStore) -> None:
    store.record([ExecutionEvent.missed("daily", "f9", at=_at(5), message="previous firing still running")])
    (row,) = store.executions(ExecutionQuery(job_name="daily")).rows
    assert (row.task_id, row.state, row.firing_id) == ("missed@-@daily@-@f9", "MISSED", "f9")
    assert row.sharding_item is None
    assert (row.agent_id, row.hostname, row.started_at, row.finished_at) == ("", "", None, None)
    assert row.message == "previous firing still running"
    assert store.status_trace("missed@-@daily@-@f9")[0].sharding_item is None


def test_status_trace_is_in_event_time_order(store: SqlHistoryStore) -> None:
    store.record([_ev("t1", "FINISHED", 9)])
    store.record([_ev("t1", "STAGING", 0), _ev("t1", "RUNNING", 1, message="first")])
    store.record([_ev("t1", "RUNNING", 1, message="second")])  # same time: arrival order
    store.record([_ev("t2", "RUNNING", 3)])
    assert [(e.state, e.message) for e in store.status_trace("t1")] == [
        ("STAGING", ""), ("RUNNING", "first"), ("RUNNING", "second"), ("FINISHED", "")]


def test_large_batch_is_one_transaction(store: SqlHistoryStore) -> None:
    events = [_ev(f"t{n:04d}", "RUNNING", n) for n in range(1200)]  # more than one IN (...) chunk
    store.record(events)
    store.record([_ev(f"t{n:04d}", "FINISHED", 2000 + n) for n in range(1200)])
    page = store.executions(ExecutionQuery(states=frozenset({"FINISHED"}), per_page=1000))
    assert (page.total, len(page.rows)) == (1200, 1000)


def test_record_is_all_or_nothing(store: SqlHistoryStore, url: str) -> None:
    store.record([_ev("t1", "RUNNING", 1)])
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE job_status_trace_log")  # the trace insert, last in record(), fails
    engine.dispose()
    with pytest.raises(HistoryError, match="recording execution events failed"):
        store.record([_ev("t1", "FINISHED", 2), _ev("t2", "RUNNING", 3)])
    assert [(r.task_id, r.state) for r in store.executions(ExecutionQuery()).rows] == [("t1", "RUNNING")]


def test_concurrent_record_from_threads(store: SqlHistoryStore) -> None:
    threads, batches = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 2, timeout=10)  # writers, reader, this thread

    def writer(w: int) -> None:
        try:
            start.wait()
            for b in range(batches):
                store.record(_run(f"w{w}-b{b}", w * 1000 + b, job=f"job{w % 2}"))
                store.record([_ev("shared", "RUNNING", w + b, job="shared")])
        except BaseException as exc:  # noqa: B036 - surface anything in the main thread
            errors.append(exc)

    def reader() -> None:
        try:
            start.wait()
            for _ in range(20):
                store.executions(ExecutionQuery(job_name="job0"))
        except BaseException as exc:  # noqa: B036
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(w,)) for w in range(threads)]
    workers.append(threading.Thread(target=reader))
    for t in workers:
        t.start()
    start.wait()
    for t in workers:
        t.join(timeout=60)
    assert errors == []
    assert store.executions(ExecutionQuery(states=frozenset({"FINISHED"}))).total == threads * batches
    assert store.executions(ExecutionQuery(job_name="job0")).total == threads // 2 * batches
    assert len(store.status_trace("shared")) == threads * batches
    assert len(store.status_trace("w3-b7")) == 3


def test_two_stores_on_one_database_do_not_lose_updates(url: str) -> None:
    # Two engines = two processes' worth of connections (e.g. an old and a new leader). Their upserts are
    # serialised by the database (SQLite: BEGIN IMMEDIATE; servers: SELECT ... FOR UPDATE, insert retry).
    first, second = SqlHistoryStore(url), SqlHistoryStore(url)
    tasks = [f"t{n}" for n in range(40)]

    def write(store: SqlHistoryStore, state: str, at: float) -> None:
        for task in tasks:
            store.record([_ev(task, state, at)])

    a = threading.Thread(target=write, args=(first, "RUNNING", 1))
    b = threading.Thread(target=write, args=(second, "FINISHED", 2))
    for thread in (a, b):
        thread.start()
    for thread in (a, b):
        thread.join(timeout=60)
    page = first.executions(ExecutionQuery(per_page=100))
    assert {row.state for row in page.rows} == {"FINISHED"}
    assert page.total == 40
    first.close()
    second.close()


def test_reopening_keeps_the_data(url: str) -> None:
    with open_history(url) as store:
        store.record(_run("t1", 10) + [ExecutionEvent.missed("daily", "f2", at=_at(20))])
        before = store.executions(ExecutionQuery())
    with open_history(url) as store:
        assert store.executions(ExecutionQuery()) == before
        assert len(store.status_trace("t1")) == 3
        store.record([_ev("t1", "RUNNING", 11)])  # still no regression after a restart
        assert store.executions(ExecutionQuery(task_id="t1")).rows[0].state == "FINISHED"


def test_reopening_a_sqlite_file_by_path_or_url(db: Path) -> None:
    with open_history(str(db)) as store:
        store.record(_run("t1", 10))
    with open_history(f"sqlite:///{db}") as store:
        assert store.executions(ExecutionQuery()).total == 1


def test_sqlite_file_setup(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "history.db"
    with open_history(str(path)) as store:
        store.record([_ev("t1", "RUNNING", 1)])
    assert path.exists()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indices = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"job_execution_log", "job_status_trace_log"} <= tables
    assert {"ix_job_execution_log_job_time", "ix_job_execution_log_time", "ix_job_execution_log_state",
            "ix_job_status_trace_log_task"} <= indices


def test_history_url_forms(tmp_path: Path) -> None:
    assert history_url(str(tmp_path / "h.db")).database == str(tmp_path / "h.db")
    default = history_url("sqlite:////var/lib/elasticjob/history.db")
    assert default.database == "/var/lib/elasticjob/history.db"
    pg = history_url("postgresql+psycopg://user:secret@db.example:5432/jobs")
    assert (pg.get_backend_name(), pg.host, pg.database) == ("postgresql", "db.example", "jobs")
    assert history_url(":memory:").database is None


def test_in_memory_store_is_shared_by_threads() -> None:
    with open_history(":memory:") as store:
        thread = threading.Thread(target=store.record, args=([_ev("t1", "RUNNING", 1)],))
        thread.start()
        thread.join()
        assert store.executions(ExecutionQuery()).total == 1


@pytest.mark.parametrize("location", ["", "   ", "nosuchdb+nodriver://x/y", "postgresql+nosuchdriver://h/db"])
def test_bad_locations(location: str) -> None:
    with pytest.raises(HistoryConfigError):
        open_history(location)


def test_uncreatable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(HistoryConfigError, match="cannot create the directory"):
        open_history(str(blocker / "sub" / "history.db"))


def test_password_is_hidden(tmp_path: Path) -> None:
    assert "secret" not in repr(SqlHistoryStore(f"sqlite:///{tmp_path / 'h.db'}"))
    assert history_url("postgresql://u:secret@h/db").render_as_string() == "postgresql://u:***@h/db"


def test_closed_store(store: SqlHistoryStore) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(HistoryError, match="closed"):
        store.record([_ev("t1", "RUNNING", 1)])
    with pytest.raises(HistoryError, match="closed"):
        store.executions(ExecutionQuery())
    with pytest.raises(HistoryError, match="closed"):
        store.status_trace("t1")


def test_status_traces_page_through_every_event_with_filters(tmp_path: Path) -> None:
    from elasticjob.history import ExecutionEvent, ExecutionQuery, SqlHistoryStore, native_trace_page

    store = SqlHistoryStore(f"sqlite:///{tmp_path / 'traces.db'}")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    tid = "j@-@0@-@FAILOVER@-@a1@-@u"
    events = [
        ExecutionEvent(tid, "j", 0, "cron-1", "STAGING", agent_id="a1", at=t0),
        ExecutionEvent(tid, "j", 0, "cron-1", "RUNNING", agent_id="a1", at=t0 + timedelta(seconds=1)),
        ExecutionEvent(tid, "j", 0, "cron-1", "FINISHED", agent_id="a1", exit_code=0, at=t0 + timedelta(seconds=2)),
        ExecutionEvent("k@-@1@-@READY@-@a2@-@v", "k", 1, "cron-1", "RUNNING", agent_id="a2", at=t0),
    ]
    store.record(events)
    page = store.status_traces(ExecutionQuery(job_name="j"))
    assert page.total == 3
    assert [e.state for _, e in page.rows] == ["FINISHED", "RUNNING", "STAGING"]  # newest first
    oldest_first = store.status_traces(ExecutionQuery(job_name="j", newest_first=False, per_page=2))
    assert oldest_first.total == 3 and [e.state for _, e in oldest_first.rows] == ["STAGING", "RUNNING"]
    running = store.status_traces(ExecutionQuery(states=frozenset({"RUNNING"})))
    assert {e.job_name for _, e in running.rows} == {"j", "k"}
    body = native_trace_page(store.status_traces(ExecutionQuery(task_id=tid, per_page=1)))
    assert body["total"] == 3
    [row] = body["rows"]
    assert row == {
        "id": row["id"], "jobName": "j", "originalTaskId": "", "taskId": tid, "slaveId": "a1",
        "source": "CLOUD_EXECUTOR", "executionType": "FAILOVER", "shardingItems": "0", "state": "TASK_FINISHED",
        "message": "", "creationTime": "2026-01-01T00:00:02+00:00",
    }

    # Elastic-Job-Cloud's status-trace filters: slaveId, source (who recorded it), executionType.
    def states(**filters: Any) -> list[tuple[str, str]]:
        page = store.status_traces(ExecutionQuery(newest_first=False, **filters))
        return [(e.job_name, e.state) for _, e in page.rows]

    assert states(agent_id="a2") == [("k", "RUNNING")]
    assert states(agent_id="a3") == []
    assert states(by_scheduler=True) == [("j", "STAGING")]
    assert states(by_scheduler=False) == [("k", "RUNNING"), ("j", "RUNNING"), ("j", "FINISHED")]
    assert states(failover=True) == [("j", "STAGING"), ("j", "RUNNING"), ("j", "FINISHED")]
    assert states(failover=False) == [("k", "RUNNING")]
    assert states(by_scheduler=True, states=frozenset({"RUNNING"})) == []  # contradictory: nothing
    store.close()


def test_firings_are_a_jobs_runs_newest_first_with_their_executions(store: SqlHistoryStore) -> None:
    # Three firings of "daily" (the second with a failover attempt), one of another job.
    store.record(_run("a0", 10, firing="cron-20260301T080000.000Z"))
    store.record(_run("b0", 100, firing="cron-20260301T080100.000Z", state="LOST"))
    store.record(_run("b1", 130, firing="cron-20260301T080100.000Z"))
    store.record(_run("c0", 200, firing="trigger-20260301T080320.000Z-ab12", item=1))
    store.record(_run("x0", 300, firing="cron-20260301T080500.000Z", job="other"))
    page = store.firings("daily", 0, 2)
    assert page.total == 3
    assert [(f, [e.task_id for e in rows]) for f, rows in page.rows] == [
        ("trigger-20260301T080320.000Z-ab12", ["c0"]),
        ("cron-20260301T080100.000Z", ["b0", "b1"]),  # oldest attempt first
    ]
    rest = store.firings("daily", 2, 2)
    assert (rest.total, [f for f, _ in rest.rows]) == (3, ["cron-20260301T080000.000Z"])
    assert store.firings("daily", 0, 0).rows == [] and store.firings("none", 0, 5).total == 0
    with pytest.raises(ValueError):
        store.firings("daily", -1, 5)


def test_firings_at_a_second_find_the_ids_that_name_it_or_began_in_it(store: SqlHistoryStore) -> None:
    store.record(_run("a0", 10, firing="cron-20260301T080000.000Z"))
    store.record(_run("t0", 10, firing="trigger-20260301T080000.500Z-ab12"))
    store.record(_run("o0", 9, firing="trigger-0f3a"))  # an older id without an instant: began at 08:00:08
    store.record(_run("n0", 70, firing="cron-20260301T080100.000Z"))
    at_eight = store.firings_at("daily", T0)
    assert [f for f, _ in at_eight] == ["cron-20260301T080000.000Z", "trigger-20260301T080000.500Z-ab12"]
    assert [e.task_id for e in at_eight[0][1]] == ["a0"]
    assert [f for f, _ in store.firings_at("daily", _at(8))] == ["trigger-0f3a"]
    assert store.firings_at("other", T0) == []


def test_a_runs_overrides_are_kept_once_from_its_first_launch(store: SqlHistoryStore) -> None:
    overrides = {"environment": {"MODE": "once"}, "jobParameter": "p"}
    first = _ev("a0", "STAGING", 1, firing="trigger-20260301T080001.000Z-ab", run_overrides=overrides)
    store.record([first, _ev("a1", "STAGING", 1, item=1, firing="trigger-20260301T080001.000Z-ab",
                             run_overrides=overrides)])
    # A failover attempt launched later carries them again: still one record.
    store.record([_ev("a2", "STAGING", 50, firing="trigger-20260301T080001.000Z-ab", run_overrides=overrides)])
    store.record(_run("b0", 10, firing="cron-20260301T080010.000Z"))  # none
    found = store.run_overrides("daily", ["trigger-20260301T080001.000Z-ab", "cron-20260301T080010.000Z"])
    assert found == {"trigger-20260301T080001.000Z-ab": overrides}
    assert store.run_overrides("other", ["trigger-20260301T080001.000Z-ab"]) == {}
    assert store.run_overrides("daily", []) == {}


def test_pending_firings_not_recorded_yet_come_first_and_count_once(store: SqlHistoryStore) -> None:
    store.record(_run("a0", 10, firing="cron-20260301T080000.000Z"))
    store.record(_run("b0", 70, firing="cron-20260301T080100.000Z"))
    store.record(_run("x0", 10, firing="cron-20260301T080200.000Z", job="other"))
    # Queued (not recorded) and launched (recorded already): the recorded one is listed once, in order.
    pending = ["trigger-new", "cron-20260301T080100.000Z"]
    page = store.firings("daily", 0, 2, pending)
    assert page.total == 3
    assert [(f, len(rows)) for f, rows in page.rows] == [("trigger-new", 0), ("cron-20260301T080100.000Z", 1)]
    assert [f for f, _ in store.firings("daily", 2, 2, pending).rows] == ["cron-20260301T080000.000Z"]
    assert [f for f, _ in store.firings("daily", 1, 1, pending).rows] == ["cron-20260301T080100.000Z"]


# ---- deleting runs, retention -------------------------------------------------------------------


def _firing(n: int) -> str:
    return f"cron-20260301T08{n // 60:02d}{n % 60:02d}.000Z"


def test_deleting_a_finished_run_removes_its_executions_traces_and_overrides_only(store: SqlHistoryStore) -> None:
    overrides = {"environment": {"MODE": "once"}, "jobParameter": "p"}
    done, other, active = _firing(1), _firing(2), _firing(3)
    store.record([_ev("a0", "STAGING", 1, firing=done, run_overrides=overrides)])
    store.record(_run("a0", 2, firing=done) + _run("a1", 2, item=1, firing=done, state="FAILED"))
    store.record(_run("b0", 70, firing=other))
    store.record(_run("x0", 2, firing=done, job="weekly"))  # the same firing id, another job
    store.record([_ev("c0", "STAGING", 130, firing=active), _ev("c1", "RUNNING", 130, item=1, firing=active)])

    assert store.delete_runs("daily", [done]) == [done]
    assert [f for f, _ in store.firings("daily", 0, 10).rows] == [active, other]
    assert store.status_trace("a0") == [] and store.status_trace("a1") == []
    assert store.run_overrides("daily", [done]) == {}
    assert _ids(store, job_name="weekly") == ["x0"] and len(store.status_trace("x0")) == 3
    # A run with a task still going is not deleted; unknown runs are nothing to delete.
    assert store.delete_runs("daily", [active, "cron-nope"]) == []
    assert sorted(_ids(store, firing_id=active)) == ["c0", "c1"]
    assert store.delete_runs("daily", []) == []


def test_prunable_runs_are_the_finished_ones_beyond_the_newest_n_never_an_active_one(
    store: SqlHistoryStore,
) -> None:
    store.record([_ev("old-running", "RUNNING", 0, firing=_firing(0))])  # oldest, still running
    store.record(_run("lost", 5, firing=_firing(1), state="LOST"))  # ended, but the state has it failing over
    finished = [_firing(10 + i) for i in range(5)]
    for i, firing in enumerate(finished):
        store.record(_run(f"f{i}", 10 + i * 10, firing=firing, state="FINISHED" if i % 2 else "FAILED"))
    store.record([_ev("m0", "MISSED", 200, item=None, firing=_firing(50))])  # a missed firing is a run too
    store.record(_run("o0", 0, job="other", firing=_firing(0)))
    protected = [_firing(1)]

    # The newest two finished (the missed one and f4) are kept; f0..f3 go, oldest last.
    assert store.prunable_runs("daily", 2, protected, 100) == finished[3::-1]
    assert store.prunable_runs("daily", 2, protected, 3) == finished[3:0:-1]
    assert store.prunable_runs("daily", 10, protected, 100) == []
    assert _firing(1) in store.prunable_runs("daily", 2, [], 100)  # protected only by the caller
    assert store.prunable_runs("other", 0, [], 100) == [_firing(0)]
    assert store.run_jobs() == ["daily", "other"]
    # 8 runs of "daily" (finished or not), 1 of "other": only jobs beyond keep can have prunable runs.
    assert store.jobs_over(["other", "daily", "nope"], 7) == ["daily"]
    assert store.jobs_over(["other", "daily", "nope"], 8) == []
    assert store.jobs_over(["other", "daily"], 0) == ["daily", "other"] and store.jobs_over([], 0) == []
    assert store.delete_runs("daily", store.prunable_runs("daily", 2, protected, 100)) == sorted(finished[:4])
    assert [f for f, _ in store.firings("daily", 0, 10).rows] == [_firing(50), finished[4], _firing(1), _firing(0)]


def test_retention_prunes_each_job_to_its_newest_runs_in_batches_sparing_active_ones(
    store: SqlHistoryStore,
) -> None:
    from elasticjob.history.retention import RunRetention

    for i in range(12):
        store.record(_run(f"a{i}", i * 10, firing=_firing(i)))
    store.record(_run("lost", 1, firing=_firing(100), state="LOST"))  # failing over, says the state
    for i in range(3):
        store.record(_run(f"b{i}", i * 10, firing=_firing(i), job="weekly"))
    active = {"daily": {_firing(100)}}
    retention = RunRetention(store, 5, lambda job: active.get(job, set()), batch=3, settle=0)
    steps = []
    while retention.due_in() == 0:
        steps.append(retention.step())
    assert retention.due_in() is None
    assert sorted(steps, reverse=True)[:3] == [3, 3, 1]  # 7 runs of "daily", 3 at a time
    assert [f for f, _ in store.firings("daily", 0, 100).rows] == [_firing(i) for i in (11, 10, 9, 8, 7, 100)]
    assert store.firings("weekly", 0, 100).total == 3

    # New runs of a job it is told of: pruned again, once they have settled.
    for i in range(12, 14):
        store.record(_run(f"a{i}", i * 10, firing=_firing(i)))
    retention.touched(["daily"])
    while retention.due_in() == 0:
        retention.step()
    assert [f for f, _ in store.firings("daily", 0, 100).rows] == [_firing(i) for i in (13, 12, 11, 10, 9, 100)]
    # A follower prunes nothing (the leader is the history's one writer).
    idle = RunRetention(store, 1, lambda job: set(), leading=lambda: False, settle=0)
    assert idle.step() == 0 and idle.due_in() is not None and store.firings("weekly", 0, 100).total == 3


def test_retention_counts_many_jobs_in_one_query_and_prunes_only_those_beyond_keep(
    store: SqlHistoryStore,
) -> None:
    from elasticjob.history.retention import CHECK, RunRetention

    jobs = [f"burst-{i:04d}" for i in range(CHECK + 100)]
    for job in jobs:  # as after a burst: one finished run each
        store.record(_run(f"{job}-t", 10, firing=_firing(1), job=job))
    for i in range(4):
        store.record(_run(f"a{i}", 20 + i, firing=_firing(2 + i), job=jobs[7]))
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> object:
            method = getattr(store, name)

            def counted(*args: object) -> object:
                calls.append(name)
                return method(*args)
            return counted

    retention = RunRetention(Counting(), 2, lambda _job: set(), settle=0)  # type: ignore[arg-type]
    while retention.due_in() == 0:
        retention.step()
    assert calls.count("run_jobs") == 1 and calls.count("jobs_over") == 2  # CHECK jobs per query
    assert calls.count("prunable_runs") == 1 and calls.count("delete_runs") == 1  # jobs[7] alone
    assert store.firings(jobs[7], 0, 10).total == 2 and store.firings(jobs[8], 0, 10).total == 1

    calls.clear()
    retention.touched(jobs)  # all of them end again: still one count per CHECK jobs
    while retention.due_in() == 0:
        retention.step()
    assert calls == ["jobs_over", "jobs_over"]
