"""Removing runs from the history: the SQL behind ``delete_runs``, ``prunable_runs``, ``jobs_over`` and
``run_jobs``.

A run here is a firing of a job: its executions (``job_execution_log``), their status traces
(``job_status_trace_log``, found by task id) and its overrides (``job_run``). The history counts a run
as finished when every one of its executions is terminal; whether the leader still holds it (queued,
failing over, asked to stop) only the caller knows, and says so with ``protected``.

Functions take an open connection; the store owns the transactions and the locking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.engine import Connection

from elasticjob.history import deliveries_sql
from elasticjob.history.schema import job_execution_log, job_run, job_status_trace_log
from elasticjob.model.execution import TASK_STATES, TERMINAL_STATES

CHUNK = 500  # ids per IN (...) list: below every backend's bound-parameter limit
_GOING = sorted(set(TASK_STATES) - TERMINAL_STATES)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK)]


def prunable_runs(
    conn: Connection, job_name: str, keep: int, protected: Sequence[str], limit: int
) -> list[str]:
    """Up to ``limit`` of ``job_name``'s finished runs (firing ids) that are not ``protected`` and not
    among its ``keep`` newest finished ones (by their first execution), newest first."""
    t = job_execution_log
    first = func.min(t.c.created_at).label("first")
    going = func.sum(case((t.c.state.in_(_GOING), 1), else_=0))
    conditions: list[Any] = [t.c.job_name == job_name]
    if protected:
        conditions.append(t.c.firing_id.not_in(sorted(set(protected))))
    query = (
        select(t.c.firing_id, first)
        .where(*conditions)
        .group_by(t.c.firing_id)
        .having(going == 0)
        .order_by(first.desc(), t.c.firing_id.desc())
        .offset(keep)
        .limit(limit)
    )
    return [row.firing_id for row in conn.execute(query)]


def delete_runs(conn: Connection, job_name: str, firing_ids: Sequence[str]) -> list[str]:
    """Delete those of ``job_name``'s runs ``firing_ids`` that are finished (every execution terminal):
    executions, status traces, overrides and finished webhook deliveries. Returns the deleted firing ids,
    sorted. Call inside a write transaction: the executions are locked (``FOR UPDATE`` where the backend
    has it) while deciding."""
    t = job_execution_log
    tasks: dict[str, list[str]] = {}
    going: set[str] = set()
    for chunk in _chunks(sorted(set(firing_ids))):
        query = (
            select(t.c.task_id, t.c.firing_id, t.c.state)
            .where(t.c.job_name == job_name, t.c.firing_id.in_(chunk))
            .order_by(t.c.task_id)
            .with_for_update()
        )
        for row in conn.execute(query):
            tasks.setdefault(row.firing_id, []).append(row.task_id)
            if row.state not in TERMINAL_STATES:
                going.add(row.firing_id)
    finished = sorted(set(tasks) - going)
    task_ids = [task_id for firing in finished for task_id in tasks[firing]]
    for chunk in _chunks(task_ids):
        conn.execute(delete(job_status_trace_log).where(job_status_trace_log.c.task_id.in_(chunk)))
    for chunk in _chunks(finished):
        conn.execute(delete(t).where(t.c.job_name == job_name, t.c.firing_id.in_(chunk)))
        conn.execute(delete(job_run).where(job_run.c.job_name == job_name, job_run.c.firing_id.in_(chunk)))
    deliveries_sql.delete_of_runs(conn, job_name, finished)
    return finished


def jobs_over(conn: Connection, job_names: Sequence[str], keep: int) -> list[str]:
    """Those of ``job_names`` with more than ``keep`` runs (finished or not) in the history, sorted: the
    only ones ``prunable_runs`` can find anything for. One grouped index scan per ``CHUNK`` names."""
    t = job_execution_log
    over: list[str] = []
    for chunk in _chunks(sorted(set(job_names))):
        query = (
            select(t.c.job_name)
            .where(t.c.job_name.in_(chunk))
            .group_by(t.c.job_name)
            .having(func.count(t.c.firing_id.distinct()) > keep)
        )
        over.extend(row.job_name for row in conn.execute(query))
    return sorted(over)


def run_jobs(conn: Connection) -> list[str]:
    """Every job with a run in the history, in name order."""
    t = job_execution_log
    return [row.job_name for row in conn.execute(select(t.c.job_name).distinct().order_by(t.c.job_name))]
