"""``HistoryStore`` on any SQLAlchemy database: SQLite by default, PostgreSQL (or others) by URL.

Only portable SQL is used: the upsert is select-then-insert/update inside one transaction, with the
rows locked (``SELECT ... FOR UPDATE`` where the backend has it). SQLite gets WAL (synced at checkpoints),
a busy timeout and ``BEGIN IMMEDIATE`` for writes, so that several processes may share one file without
lost updates.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Row,
    bindparam,
    create_engine,
    distinct,
    event,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from elasticjob.history import deliveries_sql, pruning, statistics_sql
from elasticjob.history.deliveries import Attempt, Delivery
from elasticjob.history.merge import apply_event, execution_time
from elasticjob.history.schema import job_execution_log, job_run, job_status_trace_log
from elasticjob.history.statistics import StatisticInterval
from elasticjob.history.store import (
    MAX_PER_PAGE,
    SCHEDULER_STATES,
    Execution,
    ExecutionPage,
    ExecutionQuery,
    FiringPage,
    HistoryError,
    TracePage,
)
from elasticjob.history.upgrade import WRITE_OPTION, head, upgrade
from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.task import SEPARATOR, TaskKind
from elasticjob.model.webhook import RunNotice

DEFAULT_HISTORY_URL = "sqlite:////var/lib/elasticjob/history.db"

_CHUNK = 500  # task ids per IN (...) list: below every backend's bound-parameter limit
_INSERT_RETRIES = 3  # another process may insert the same new task between our SELECT and INSERT
_WRITE = WRITE_OPTION  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


class HistoryConfigError(ValueError):
    """The history location is unusable: malformed URL, unknown driver, directory not creatable."""


def history_url(url_or_path: str) -> URL:
    """Parse a SQLAlchemy URL (``scheme://...``) or a plain file path (becomes a SQLite URL).

    ``:memory:`` gives an in-memory SQLite database. Raises :class:`HistoryConfigError`.
    """
    text = url_or_path.strip()
    if not text:
        raise HistoryConfigError("history location must not be empty")
    if text == ":memory:":
        return URL.create("sqlite")
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    try:
        return make_url(text)
    except ArgumentError as exc:
        raise HistoryConfigError(f"invalid history URL {text!r}: {exc}") from None


def open_history(url_or_path: str) -> SqlHistoryStore:
    """Open (upgrading the database and creating SQLite directories as needed) the store at a URL or file
    path."""
    return SqlHistoryStore(history_url(url_or_path))


def upgrade_history(url_or_path: str) -> tuple[str | None, str]:
    """Upgrade the database at a URL or file path to this release's schema, as a master does when it
    starts (``elasticjob history upgrade``): ``(revision before, or None for none; head)``. Raises
    :class:`HistoryConfigError` for an unusable URL and :class:`HistoryError` when the upgrade fails."""
    parsed = history_url(url_or_path)
    engine = _create_engine(parsed, busy_timeout=30.0)
    try:
        with _failures(parsed.render_as_string(hide_password=True), "upgrading the history database"):
            return upgrade(engine), head()
    finally:
        engine.dispose()


@contextmanager
def _failures(url: str, doing: str) -> Iterator[None]:
    """Driver errors become :class:`HistoryError`, naming the store and what it was doing."""
    try:
        yield
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise HistoryError(f"history store {url}: {doing} failed: {type(cause).__name__}: {cause}") from exc


def _in_groups(column: Any, groups: tuple[str, ...]) -> Any:
    """``column`` names a job in one of ``groups``: the group itself or a name below it (``group.``)."""
    return or_(false(), *(or_(column == g, column.startswith(g + ".", autoescape=True)) for g in groups))


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _required(value: datetime | None) -> datetime:
    if value is None:  # NOT NULL columns; only a corrupted database gets here
        raise HistoryError("history row is missing a required timestamp")
    return value.replace(tzinfo=UTC)


def _execution_values(execution: Execution) -> dict[str, Any]:
    return {
        "task_id": execution.task_id,
        "job_name": execution.job_name,
        "sharding_item": execution.sharding_item,
        "firing_id": execution.firing_id,
        "state": execution.state,
        "agent_id": execution.agent_id,
        "hostname": execution.hostname,
        "ip": execution.ip,
        "exit_code": execution.exit_code,
        "message": execution.message,
        "started_at": _naive_utc(execution.started_at),
        "finished_at": _naive_utc(execution.finished_at),
        "created_at": _naive_utc(execution.created_at),
        "updated_at": _naive_utc(execution.updated_at),
        "execution_time": _naive_utc(execution_time(execution)),
    }


def _execution_from_row(row: Row[Any]) -> Execution:
    m = row._mapping
    return Execution(
        task_id=m["task_id"],
        job_name=m["job_name"],
        sharding_item=m["sharding_item"],
        firing_id=m["firing_id"],
        state=m["state"],
        agent_id=m["agent_id"],
        hostname=m["hostname"],
        ip=m["ip"],
        exit_code=m["exit_code"],
        message=m["message"],
        started_at=_aware(m["started_at"]),
        finished_at=_aware(m["finished_at"]),
        created_at=_required(m["created_at"]),
        updated_at=_required(m["updated_at"]),
    )


def _trace_values(e: ExecutionEvent) -> dict[str, Any]:
    return {
        "task_id": e.task_id,
        "job_name": e.job_name,
        "sharding_item": e.sharding_item,
        "firing_id": e.firing_id,
        "state": e.state,
        "agent_id": e.agent_id,
        "hostname": e.hostname,
        "ip": e.ip,
        "exit_code": e.exit_code,
        "message": e.message,
        "started_at": _naive_utc(e.started_at),
        "finished_at": _naive_utc(e.finished_at),
        "at": _naive_utc(e.at),
    }


def _event_from_row(row: Row[Any]) -> ExecutionEvent:
    m = row._mapping
    return ExecutionEvent(
        m["task_id"],
        m["job_name"],
        m["sharding_item"],
        m["firing_id"],
        m["state"],
        agent_id=m["agent_id"],
        hostname=m["hostname"],
        ip=m["ip"],
        exit_code=m["exit_code"],
        message=m["message"],
        started_at=_aware(m["started_at"]),
        finished_at=_aware(m["finished_at"]),
        at=_required(m["at"]),
    )


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database or ""
    if database.startswith("file:"):  # SQLite URI filename: leave it to SQLite
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"cannot create the directory of history database {database}: {exc}"
        raise HistoryConfigError(problem) from None


def _install_sqlite_hooks(engine: Engine, busy_timeout_ms: int, wal: bool) -> None:
    # pysqlite's own transaction handling starts transactions late (at the first write) and never with
    # IMMEDIATE; take it over so a write transaction holds the write lock from its first SELECT.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL syncs at checkpoints, not at every commit: a power loss may forget
                # the last transactions but never corrupts the database (history is best effort; the
                # state that matters is in ZooKeeper).
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _create_engine(url: URL, busy_timeout: float) -> Engine:
    kwargs: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        if url.get_driver_name() == "pysqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
        if _is_memory_sqlite(url):
            kwargs["poolclass"] = StaticPool  # one shared connection, else each thread sees its own database
        else:
            _prepare_sqlite_file(url)
    else:
        kwargs["pool_pre_ping"] = True  # survive database restarts without failing the next call
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise HistoryConfigError(f"cannot use history URL {url.render_as_string()}: {exc}") from None
    if sqlite:
        _install_sqlite_hooks(engine, int(busy_timeout * 1000), wal=not _is_memory_sqlite(url))
    return engine


class SqlHistoryStore:
    """:class:`HistoryStore` on a SQLAlchemy engine; brings the database to this release's schema first
    (``upgrade.py``: creates the tables of an empty one).

    ``url``: a SQLAlchemy URL (string or ``URL``), e.g. ``sqlite:////var/lib/elasticjob/history.db`` or
    ``postgresql+psycopg://user:pw@host/db``; use :func:`open_history` for plain paths. ``busy_timeout``
    (seconds) bounds how long a SQLite write waits for another writer.

    Raises :class:`HistoryConfigError` for an unusable URL and :class:`HistoryError` when the database
    cannot be reached or the tables cannot be created.

    Thread-safety: every method may be called from any thread. Connections come from the engine's pool;
    ``record()`` calls are serialised within the process (there is one writer, the leader master), reads
    run concurrently (except on in-memory SQLite, which has a single connection).
    """

    def __init__(self, url: str | URL = DEFAULT_HISTORY_URL, *, busy_timeout: float = 30.0) -> None:
        parsed = history_url(url) if isinstance(url, str) else url
        self.url = parsed.render_as_string(hide_password=True)
        self._engine = _create_engine(parsed, busy_timeout)
        self._write_lock = threading.Lock()
        self._single_connection = _is_memory_sqlite(parsed)
        self._closed = False
        try:
            with self._failures("upgrading the history database"):
                upgrade(self._engine)  # Alembic's revisions, up to this release's schema
        except HistoryError:
            self._engine.dispose()
            raise

    # -- HistoryStore -----------------------------------------------------------------------------

    def record(self, events: Sequence[ExecutionEvent], notices: Sequence[RunNotice] = ()) -> None:
        """See :meth:`HistoryStore.record`: one transaction per call, all events and deliveries or none."""
        self._check_open()
        if not events and not notices:
            return
        batch = list(events)
        with self._write_lock, self._failures("recording execution events"):
            for attempt in range(_INSERT_RETRIES):
                try:
                    with self._engine.connect() as conn:
                        conn.execution_options(**{_WRITE: True})
                        with conn.begin():
                            if batch:
                                self._record_batch(conn, batch)
                            if notices:
                                self._record_notices(conn, notices)
                    return
                except IntegrityError:
                    if attempt == _INSERT_RETRIES - 1:
                        raise

    def executions(self, query: ExecutionQuery) -> ExecutionPage:
        """See :meth:`HistoryStore.executions`."""
        self._check_open()
        t = job_execution_log
        conditions: list[Any] = []
        if query.job_name is not None:
            conditions.append(t.c.job_name == query.job_name)
        if query.groups is not None:
            conditions.append(_in_groups(t.c.job_name, query.groups))
        if query.states:
            conditions.append(t.c.state.in_(sorted(query.states)))
        if query.since is not None:
            conditions.append(t.c.execution_time >= _naive_utc(query.since))
        if query.until is not None:
            conditions.append(t.c.execution_time <= _naive_utc(query.until))
        if query.sharding_item is not None:
            conditions.append(t.c.sharding_item == query.sharding_item)
        if query.task_id is not None:
            conditions.append(t.c.task_id == query.task_id)
        if query.firing_id is not None:
            conditions.append(t.c.firing_id == query.firing_id)
        if query.ip is not None:
            conditions.append(t.c.ip == query.ip)
        if query.newest_first:
            order = (t.c.execution_time.desc(), t.c.task_id.desc())
        else:
            order = (t.c.execution_time.asc(), t.c.task_id.asc())
        page = select(t).where(*conditions).order_by(*order).limit(query.per_page).offset(query.offset)
        with (
            self._reading(),
            self._failures("querying executions"),
            self._engine.connect() as conn,
            conn.begin(),  # one snapshot for the count and the page
        ):
            total = conn.scalar(select(func.count()).select_from(t).where(*conditions)) or 0
            rows = [_execution_from_row(row) for row in conn.execute(page)]
        return ExecutionPage(total=total, rows=rows)

    def firings(
        self, job_name: str, offset: int = 0, limit: int = 20, pending: Sequence[str] = ()
    ) -> FiringPage:
        """See :meth:`HistoryStore.firings`."""
        if offset < 0 or not 0 <= limit <= MAX_PER_PAGE:
            raise ValueError(f"offset must not be negative and limit between 0 and {MAX_PER_PAGE}")
        self._check_open()
        t = job_execution_log
        first = func.min(t.c.created_at).label("first")
        with self._reading(), self._failures("querying runs"), self._engine.connect() as conn, conn.begin():
            # One snapshot: a pending firing is either recorded (and counted below) or listed first.
            recorded = self._recorded(conn, job_name, pending)
            unrecorded = [f for f in dict.fromkeys(pending) if f not in recorded]
            total = conn.scalar(
                select(func.count(distinct(t.c.firing_id))).where(t.c.job_name == job_name)
            ) or 0
            shown = unrecorded[offset : offset + limit]
            ids = (
                select(t.c.firing_id, first)
                .where(t.c.job_name == job_name)
                .group_by(t.c.firing_id)
                .order_by(first.desc(), t.c.firing_id.desc())
                .limit(limit - len(shown))
                .offset(max(0, offset - len(unrecorded)))
            )
            order = [row.firing_id for row in conn.execute(ids)] if limit > len(shown) else []
            rows = self._executions_of(conn, job_name, order)
        listed: list[tuple[str, list[Execution]]] = [(firing, []) for firing in shown]
        listed += [(firing, rows.get(firing, [])) for firing in order]
        return FiringPage(total=total + len(unrecorded), rows=listed)

    def firings_at(self, job_name: str, instant: datetime) -> list[tuple[str, list[Execution]]]:
        """See :meth:`HistoryStore.firings_at`."""
        self._check_open()
        t = job_execution_log
        second = instant.astimezone(UTC).replace(microsecond=0)
        stamp = second.strftime("%Y%m%dT%H%M%S")
        named = or_(t.c.firing_id.like(f"cron-{stamp}.%"), t.c.firing_id.like(f"trigger-{stamp}.%"))
        in_it = (t.c.created_at >= _naive_utc(second)) & (
            t.c.created_at < _naive_utc(second + timedelta(seconds=1))
        )
        found = select(t.c.firing_id).distinct().where(t.c.job_name == job_name, or_(named, in_it)).limit(100)
        with self._reading(), self._failures("querying runs"), self._engine.connect() as conn, conn.begin():
            order = sorted(row[0] for row in conn.execute(found))
            rows = self._executions_of(conn, job_name, order)
        return [(firing, rows.get(firing, [])) for firing in order]

    @staticmethod
    def _recorded(conn: Connection, job_name: str, firing_ids: Sequence[str]) -> set[str]:
        t = job_execution_log
        found: set[str] = set()
        ids = sorted(set(firing_ids))
        for start in range(0, len(ids), _CHUNK):
            wanted = (t.c.job_name == job_name, t.c.firing_id.in_(ids[start : start + _CHUNK]))
            query = select(t.c.firing_id).distinct().where(*wanted)
            found.update(row.firing_id for row in conn.execute(query))
        return found

    def run_overrides(self, job_name: str, firing_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """See :meth:`HistoryStore.run_overrides`."""
        self._check_open()
        r = job_run
        found: dict[str, dict[str, Any]] = {}
        if not firing_ids:
            return found
        with self._reading(), self._failures("querying runs"), self._engine.connect() as conn, conn.begin():
            ids = sorted(set(firing_ids))
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                stmt = select(r).where(r.c.job_name == job_name, r.c.firing_id.in_(chunk))
                for row in conn.execute(stmt):
                    found[row.firing_id] = json.loads(row.overrides)
        return found

    @staticmethod
    def _executions_of(conn: Connection, job_name: str, firing_ids: list[str]) -> dict[str, list[Execution]]:
        t = job_execution_log
        found: dict[str, list[Execution]] = {}
        for start in range(0, len(firing_ids), _CHUNK):
            chunk = firing_ids[start : start + _CHUNK]
            query = (
                select(t)
                .where(t.c.job_name == job_name, t.c.firing_id.in_(chunk))
                .order_by(t.c.created_at.asc(), t.c.task_id.asc())
            )
            for row in conn.execute(query):
                execution = _execution_from_row(row)
                found.setdefault(execution.firing_id, []).append(execution)
        return found

    def delete_runs(self, job_name: str, firing_ids: Sequence[str]) -> list[str]:
        """See :meth:`HistoryStore.delete_runs`: one write transaction."""
        self._check_open()
        if not firing_ids:
            return []
        with self._write_lock, self._failures("deleting runs"), self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                return pruning.delete_runs(conn, job_name, firing_ids)

    def prunable_runs(self, job_name: str, keep: int, protected: Sequence[str], limit: int) -> list[str]:
        """See :meth:`HistoryStore.prunable_runs`."""
        if keep < 0 or limit < 0:
            raise ValueError("keep and limit must not be negative")
        self._check_open()
        with self._reading(), self._failures("querying runs"), self._engine.connect() as conn, conn.begin():
            return pruning.prunable_runs(conn, job_name, keep, protected, limit)

    def jobs_over(self, job_names: Sequence[str], keep: int) -> list[str]:
        """See :meth:`HistoryStore.jobs_over`."""
        self._check_open()
        with self._reading(), self._failures("querying runs"), self._engine.connect() as conn, conn.begin():
            return pruning.jobs_over(conn, job_names, keep)

    def run_jobs(self) -> list[str]:
        """See :meth:`HistoryStore.run_jobs`."""
        self._check_open()
        with self._reading(), self._failures("querying runs"), self._engine.connect() as conn, conn.begin():
            return pruning.run_jobs(conn)

    def status_traces(self, query: ExecutionQuery) -> TracePage:
        """See :meth:`HistoryStore.status_traces`."""
        self._check_open()
        t = job_status_trace_log
        conditions: list[Any] = []
        for column, value in (
            (t.c.job_name, query.job_name),
            (t.c.task_id, query.task_id),
            (t.c.firing_id, query.firing_id),
            (t.c.sharding_item, query.sharding_item),
            (t.c.ip, query.ip),
        ):
            if value is not None:
                conditions.append(column == value)
        if query.groups is not None:
            conditions.append(_in_groups(t.c.job_name, query.groups))
        if query.states:
            conditions.append(t.c.state.in_(sorted(query.states)))
        if query.agent_id is not None:
            conditions.append(t.c.agent_id == query.agent_id)
        if query.by_scheduler is not None:
            by_scheduler = t.c.state.in_(sorted(SCHEDULER_STATES))
            conditions.append(by_scheduler if query.by_scheduler else ~by_scheduler)
        if query.failover is not None:
            marker = f"{SEPARATOR}{TaskKind.FAILOVER.value}{SEPARATOR}"  # the task id's kind part
            failover = t.c.task_id.contains(marker, autoescape=True)
            conditions.append(failover if query.failover else ~failover)
        if query.since is not None:
            conditions.append(t.c.at >= _naive_utc(query.since))
        if query.until is not None:
            conditions.append(t.c.at <= _naive_utc(query.until))
        order = (t.c.at.desc(), t.c.id.desc()) if query.newest_first else (t.c.at.asc(), t.c.id.asc())
        page = select(t).where(*conditions).order_by(*order).limit(query.per_page).offset(query.offset)
        with (
            self._reading(),
            self._failures("querying status traces"),
            self._engine.connect() as conn,
            conn.begin(),
        ):
            total = conn.scalar(select(func.count()).select_from(t).where(*conditions)) or 0
            rows = [(int(row._mapping["id"]), _event_from_row(row)) for row in conn.execute(page)]
        return TracePage(total=total, rows=rows)

    # -- DeliveryStore (queries in deliveries_sql.py) ----------------------------------------------

    def due_deliveries(self, now: datetime, limit: int, exclude: Collection[str] = ()) -> list[Delivery]:
        """See :meth:`DeliveryStore.due_deliveries`."""
        self._check_open()
        with self._reading(), self._failures("reading due deliveries"), self._engine.connect() as conn:
            return deliveries_sql.due(conn, now, limit, exclude)

    def next_delivery_at(self) -> datetime | None:
        """See :meth:`DeliveryStore.next_delivery_at`."""
        self._check_open()
        with self._reading(), self._failures("reading due deliveries"), self._engine.connect() as conn:
            return deliveries_sql.next_at(conn)

    def delivery_attempted(self, delivery_id: str, attempt: Attempt) -> None:
        """See :meth:`DeliveryStore.delivery_attempted`."""
        self._check_open()
        with self._write_lock, self._failures("recording a delivery attempt"), self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                deliveries_sql.attempted(conn, delivery_id, attempt)

    def deliveries(self, job_name: str, offset: int, limit: int) -> tuple[int, list[Delivery]]:
        """See :meth:`DeliveryStore.deliveries`."""
        self._check_open()
        with (
            self._reading(),
            self._failures("reading deliveries"),
            self._engine.connect() as conn,
            conn.begin(),
        ):
            return deliveries_sql.page(conn, job_name, offset, limit)

    def pending_deliveries(self) -> int:
        """See :meth:`DeliveryStore.pending_deliveries`."""
        self._check_open()
        with self._reading(), self._failures("counting deliveries"), self._engine.connect() as conn:
            return deliveries_sql.pending(conn)

    # -- StatisticsStore (queries in statistics_sql.py) ---------------------------------------------

    def task_results(self, since: datetime | None, until: datetime) -> tuple[int, int]:
        """See :meth:`StatisticsStore.task_results`."""
        self._check_open()
        with self._reading(), self._failures("counting task results"), self._engine.connect() as conn:
            return statistics_sql.task_results(conn, _naive_utc(since), _naive(until))

    def task_result_buckets(
        self, since: datetime, until: datetime, interval: StatisticInterval
    ) -> dict[int, tuple[int, int]]:
        """See :meth:`StatisticsStore.task_result_buckets`."""
        self._check_open()
        with self._reading(), self._failures("counting task results"), self._engine.connect() as conn:
            return statistics_sql.task_result_buckets(conn, _naive(since), _naive(until), interval)

    def sample_buckets(
        self, column: str, since: datetime | None, interval: StatisticInterval
    ) -> dict[int, tuple[int, int]]:
        """See :meth:`StatisticsStore.sample_buckets`."""
        self._check_open()
        with self._reading(), self._failures("reading statistics samples"), self._engine.connect() as conn:
            return statistics_sql.sample_buckets(conn, column, _naive_utc(since), interval)

    def record_sample(self, at: datetime, running_tasks: int, running_jobs: int, registered: int) -> None:
        """See :meth:`StatisticsStore.record_sample`."""
        self._check_open()
        with self._write_lock, self._failures("recording a sample"), self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                statistics_sql.record_sample(conn, _naive(at), running_tasks, running_jobs, registered,
                                             _naive(datetime.now(UTC)))

    def prune_samples(self, before: datetime) -> int:
        """See :meth:`StatisticsStore.prune_samples`."""
        self._check_open()
        with self._write_lock, self._failures("pruning statistics samples"), self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                return statistics_sql.prune_samples(conn, _naive(before))

    def status_trace(self, task_id: str) -> list[ExecutionEvent]:
        """See :meth:`HistoryStore.status_trace`."""
        self._check_open()
        t = job_status_trace_log
        stmt = select(t).where(t.c.task_id == task_id).order_by(t.c.at, t.c.id)
        with self._reading(), self._failures("reading the status trace"), self._engine.connect() as conn:
            return [_event_from_row(row) for row in conn.execute(stmt)]

    def close(self) -> None:
        """Dispose of the connection pool. Idempotent; later calls to other methods raise HistoryError."""
        with self._write_lock:
            if not self._closed:
                self._closed = True
                self._engine.dispose()

    # -- context manager --------------------------------------------------------------------------

    def __enter__(self) -> SqlHistoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlHistoryStore({self.url!r})"

    # -- internals --------------------------------------------------------------------------------

    def _record_batch(self, conn: Connection, batch: list[ExecutionEvent]) -> None:
        t = job_execution_log
        task_ids = sorted({e.task_id for e in batch})
        current: dict[str, Execution] = {}
        for start in range(0, len(task_ids), _CHUNK):
            chunk = task_ids[start : start + _CHUNK]
            # Lock in task-id order so that two writers on a server database cannot deadlock.
            stmt = select(t).where(t.c.task_id.in_(chunk)).order_by(t.c.task_id).with_for_update()
            current.update((row.task_id, _execution_from_row(row)) for row in conn.execute(stmt))
        merged = dict(current)
        for e in batch:
            merged[e.task_id] = apply_event(merged.get(e.task_id), e)
        inserts = [_execution_values(merged[task_id]) for task_id in task_ids if task_id not in current]
        updates = [
            {**_execution_values(merged[task_id]), "key_task_id": task_id}
            for task_id in task_ids
            if task_id in current and merged[task_id] != current[task_id]
        ]
        if inserts:
            conn.execute(insert(t), inserts)
        if updates:
            for values in updates:
                del values["task_id"]  # the key goes in WHERE, under a name no column has
            conn.execute(update(t).where(t.c.task_id == bindparam("key_task_id")), updates)
        conn.execute(insert(job_status_trace_log), [_trace_values(e) for e in batch])
        self._record_overrides(conn, batch)

    def _record_notices(self, conn: Connection, notices: Sequence[RunNotice]) -> None:
        """The deliveries of runs that started or ended, built from their executions as just recorded."""
        firings: dict[str, list[str]] = {}
        for notice in notices:
            firings.setdefault(notice.job_name, []).append(notice.firing_id)
        executions = {
            (job, firing): rows
            for job, ids in firings.items()
            for firing, rows in self._executions_of(conn, job, sorted(set(ids))).items()
        }
        deliveries_sql.enqueue(conn, notices, executions, datetime.now(UTC))

    @staticmethod
    def _record_overrides(conn: Connection, batch: list[ExecutionEvent]) -> None:
        """The overrides of runs launched in ``batch``, once per run (a run's first launch)."""
        runs = {(e.job_name, e.firing_id): e for e in batch if e.run_overrides}
        if not runs:
            return
        r = job_run
        known: set[tuple[str, str]] = set()
        for job_name in {job for job, _ in runs}:
            firings = [f for job, f in runs if job == job_name]
            stmt = select(r.c.firing_id).where(r.c.job_name == job_name, r.c.firing_id.in_(firings))
            known.update((job_name, row.firing_id) for row in conn.execute(stmt))
        rows = [
            {"job_name": job, "firing_id": firing, "overrides": json.dumps(e.run_overrides, sort_keys=True),
             "created_at": _naive_utc(e.at)}
            for (job, firing), e in runs.items()
            if (job, firing) not in known
        ]
        if rows:
            conn.execute(insert(r), rows)

    def _check_open(self) -> None:
        if self._closed:
            raise HistoryError(f"history store {self.url} is closed")

    def _reading(self) -> AbstractContextManager[object]:
        # In-memory SQLite shares one connection: interleaved transactions would see each other.
        return self._write_lock if self._single_connection else nullcontext()

    def _failures(self, doing: str) -> AbstractContextManager[None]:
        return _failures(self.url, doing)
