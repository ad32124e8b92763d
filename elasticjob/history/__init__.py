"""Execution history: every task's state changes (events) and one row per task (executions).

- ``events``  — task states and :class:`ExecutionEvent`;
- ``store``   — the :class:`HistoryStore` port, :class:`ExecutionQuery`, :class:`Execution`, pages;
- ``merge``   — how events fold into an execution (pure);
- ``schema``/``sql`` — :class:`SqlHistoryStore` on SQLAlchemy Core (SQLite default, PostgreSQL by URL);
- ``upgrade``/``migrations`` — the schema's Alembic revisions, run when a store opens;
- ``native``  — Elastic-Job-Cloud ``/job/events/executions`` rows and query-parameter parsing.
"""

from elasticjob.history.native import (
    QueryError,
    native_page,
    native_row,
    native_trace_page,
    native_trace_row,
    parse_query,
    parse_trace_query,
)
from elasticjob.history.sql import (
    DEFAULT_HISTORY_URL,
    HistoryConfigError,
    SqlHistoryStore,
    history_url,
    open_history,
    upgrade_history,
)
from elasticjob.history.store import (
    MAX_PER_PAGE,
    Execution,
    ExecutionPage,
    ExecutionQuery,
    FiringPage,
    HistoryError,
    HistoryStore,
    TracePage,
)
from elasticjob.model.execution import (
    FAILED,
    FINISHED,
    KILLED,
    LOST,
    MISSED,
    RUNNING,
    STAGING,
    TASK_STATES,
    TERMINAL_STATES,
    ExecutionEvent,
    missed_task_id,
)

__all__ = [
    "DEFAULT_HISTORY_URL",
    "FAILED",
    "FINISHED",
    "KILLED",
    "LOST",
    "MAX_PER_PAGE",
    "MISSED",
    "RUNNING",
    "STAGING",
    "TASK_STATES",
    "TERMINAL_STATES",
    "Execution",
    "ExecutionEvent",
    "ExecutionPage",
    "ExecutionQuery",
    "FiringPage",
    "HistoryConfigError",
    "HistoryError",
    "HistoryStore",
    "QueryError",
    "SqlHistoryStore",
    "TracePage",
    "history_url",
    "missed_task_id",
    "native_page",
    "native_row",
    "native_trace_page",
    "native_trace_row",
    "open_history",
    "parse_query",
    "parse_trace_query",
    "upgrade_history",
]
