"""The statistics' SQL: one aggregate query per answer, on any backend the history supports.

Buckets are whole intervals since the Unix epoch of a naive-UTC column, computed by the database: the
expression is compiled per dialect (SQLite ``strftime('%s')``, PostgreSQL ``EXTRACT(EPOCH ...)``,
MySQL ``TIMESTAMPDIFF``), so grouping never loads rows into Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, case, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from elasticjob.history.schema import job_execution_log, job_statistics_sample
from elasticjob.history.statistics import FAILED, SUCCEEDED, StatisticInterval

SAMPLE_COLUMNS = ("running_task_count", "running_job_count", "registered_job_count")


class _Bucket(FunctionElement[int]):
    """``floor(epoch seconds of column / width)``; ``width`` is a positive int of ours, never input."""

    type = BigInteger()
    inherit_cache = True
    name = "elasticjob_bucket"

    def __init__(self, column: ColumnElement[Any], width: int) -> None:
        if width < 1:
            raise ValueError("bucket width must be positive")
        self.width = int(width)
        super().__init__(column)


def _column(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(list(element.clauses)[0], **kw))


@compiles(_Bucket, "sqlite")
def _bucket_sqlite(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST(strftime('%s', {_column(element, compiler, **kw)}) AS INTEGER) / {element.width})"


@compiles(_Bucket, "postgresql")
def _bucket_postgresql(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {_column(element, compiler, **kw)}) / {element.width}) AS BIGINT)"


@compiles(_Bucket, "mysql")
@compiles(_Bucket, "mariadb")
def _bucket_mysql(element: _Bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = _column(element, compiler, **kw)
    return f"(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column}) DIV {element.width})"


_ENDED = (*SUCCEEDED, *FAILED)


def _result_sums() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    t = job_execution_log
    ok = func.coalesce(func.sum(case((t.c.state.in_(SUCCEEDED), 1), else_=0)), 0)
    bad = func.coalesce(func.sum(case((t.c.state.in_(FAILED), 1), else_=0)), 0)
    return ok, bad


def _ended_between(since: datetime | None, until: datetime) -> list[ColumnElement[bool]]:
    t = job_execution_log
    conditions = [t.c.state.in_(_ENDED), t.c.finished_at < until]
    if since is not None:
        conditions.append(t.c.finished_at >= since)
    return conditions


def task_results(conn: Connection, since: datetime | None, until: datetime) -> tuple[int, int]:
    """``(succeeded, failed)`` of the tasks that ended in ``[since, until)`` (naive UTC)."""
    ok, bad = _result_sums()
    row = conn.execute(select(ok, bad).where(*_ended_between(since, until))).one()
    return int(row[0]), int(row[1])


def task_result_buckets(
    conn: Connection, since: datetime, until: datetime, interval: StatisticInterval
) -> dict[int, tuple[int, int]]:
    """By bucket number: ``(succeeded, failed)`` of the tasks that ended in ``[since, until)``."""
    bucket = _Bucket(job_execution_log.c.finished_at, interval.seconds)
    ok, bad = _result_sums()
    stmt = select(bucket.label("bucket"), ok, bad).where(*_ended_between(since, until)).group_by(bucket)
    return {int(b): (int(s), int(f)) for b, s, f in conn.execute(stmt)}


def sample_buckets(
    conn: Connection, column: str, since: datetime | None, interval: StatisticInterval
) -> dict[int, tuple[int, int]]:
    """By bucket number: ``(largest row id, largest value of column)`` among the samples since ``since``."""
    if column not in SAMPLE_COLUMNS:
        raise ValueError(f"no sample column {column!r}")
    s = job_statistics_sample
    bucket = _Bucket(s.c.statistics_time, interval.seconds)
    stmt = select(bucket.label("bucket"), func.max(s.c.id), func.max(s.c[column])).group_by(bucket)
    if since is not None:
        stmt = stmt.where(s.c.statistics_time >= since)
    return {int(b): (int(row_id), int(value)) for b, row_id, value in conn.execute(stmt)}


def record_sample(conn: Connection, at: datetime, running_tasks: int, running_jobs: int, registered: int,
                  created: datetime) -> None:
    conn.execute(insert(job_statistics_sample).values(
        statistics_time=at, running_task_count=running_tasks, running_job_count=running_jobs,
        registered_job_count=registered, created_at=created,
    ))


def prune_samples(conn: Connection, before: datetime) -> int:
    """Delete the samples older than ``before``; how many went."""
    s = job_statistics_sample
    result = conn.execute(delete(s).where(s.c.statistics_time < before))
    return int(result.rowcount or 0)


__all__ = ["prune_samples", "record_sample", "sample_buckets", "task_result_buckets", "task_results"]
