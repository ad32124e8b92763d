"""The history port: where execution events go and how executions are looked up.

``HistoryStore`` is the interface the scheduler (writer) and the API (reader) depend on; ``sql.py`` is the
implementation. Queries and results are immutable values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from elasticjob.history.statistics import StatisticInterval
from elasticjob.model.execution import LOST, MISSED, STAGING, TASK_STATES, ExecutionEvent
from elasticjob.model.run import RunTask
from elasticjob.model.webhook import RunNotice

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 1000
SCHEDULER_STATES: frozenset[str] = frozenset({STAGING, LOST, MISSED})
"""The states the scheduler records (a launch, a loss, a missed firing): a status trace's ``source`` is
``CLOUD_SCHEDULER`` for them and ``CLOUD_EXECUTOR`` (what the agent reported) for the others."""


class HistoryError(Exception):
    """The store could not complete an operation (database unreachable, locked too long, closed store).

    Raised instead of driver errors so callers need not know the backend. The operation had no effect:
    a failed ``record()`` wrote none of its events, and the caller may retry it.
    """


@dataclass(frozen=True)
class ExecutionQuery:
    """Which executions to list, and which page of them.

    Every filter is optional and they combine with AND. ``since``/``until`` are inclusive bounds on the
    execution's time: its start time, or the time of its first event when it never started (a MISSED
    firing, a task lost while staging). Results are ordered by that time (``newest_first``), then by task id.

    Construction raises ``ValueError`` for an unknown state, a naive datetime, ``since`` after ``until``,
    ``page < 1`` or ``per_page`` outside ``1..MAX_PER_PAGE``.
    """

    job_name: str | None = None
    states: frozenset[str] = field(default_factory=frozenset)
    since: datetime | None = None
    until: datetime | None = None
    sharding_item: int | None = None
    task_id: str | None = None
    firing_id: str | None = None
    ip: str | None = None  # the agent's address
    # Status traces only (``status_traces``; ``executions`` ignores them): Elastic-Job-Cloud's ``slaveId``,
    # ``source`` (True: recorded by the scheduler, see ``SCHEDULER_STATES``) and ``executionType``
    # (True: a failover task, False: a ready one).
    agent_id: str | None = None
    by_scheduler: bool | None = None
    failover: bool | None = None
    # Only jobs named in these job groups (a user confined to them, ``security.scopes``); None: every job.
    groups: tuple[str, ...] | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    newest_first: bool = True

    def __post_init__(self) -> None:
        # Accept any iterable of states (a set, a list) but keep the value hashable and immutable.
        object.__setattr__(self, "states", frozenset(self.states))
        unknown = sorted(self.states - set(TASK_STATES))
        if unknown:
            raise ValueError(f"unknown task state(s) {', '.join(unknown)}; expected {', '.join(TASK_STATES)}")
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError("since must not be after until")
        if self.page < 1:
            raise ValueError("page must be at least 1")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}")

    @property
    def offset(self) -> int:
        """Number of matching executions before this page."""
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class Execution:
    """One task's execution as it stands now: the merge of all its events.

    ``state`` and the fields that came with it are those of the latest event (terminal states never
    regress). ``created_at`` is the time of the task's first event and ``updated_at`` that of the event
    that set the current state. All datetimes are aware UTC.
    """

    task_id: str
    job_name: str
    sharding_item: int | None
    firing_id: str
    state: str
    agent_id: str
    hostname: str
    exit_code: int | None
    message: str
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    ip: str = ""  # the agent's address, "" if unknown

    def run_task(self) -> RunTask:
        """The execution as a task of its run."""
        return RunTask(
            task_id=self.task_id,
            sharding_item=self.sharding_item,
            state=self.state,
            agent_id=self.agent_id,
            hostname=self.hostname,
            exit_code=self.exit_code,
            message=self.message,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


@dataclass(frozen=True)
class ExecutionPage:
    """One page of executions and ``total``, the number of executions matching the query on all pages."""

    total: int
    rows: list[Execution]


@dataclass(frozen=True)
class TracePage:
    """One page of status-trace events (with their trace ids) and ``total`` matching on all pages."""

    total: int
    rows: list[tuple[int, ExecutionEvent]]


@dataclass(frozen=True)
class FiringPage:
    """One page of a job's firings (runs), newest first: each firing id with its executions (oldest
    first), and ``total``, the number of the job's firings on all pages."""

    total: int
    rows: list[tuple[str, list[Execution]]]


@runtime_checkable
class StatisticsStore(Protocol):
    """Aggregates for ``/job/statistics`` (see ``statistics.py``), each one query; datetimes aware.
    Thread-safe; every method may raise :class:`HistoryError`."""

    def task_results(self, since: datetime | None, until: datetime) -> tuple[int, int]:
        """``(succeeded, failed)`` of the tasks that ended in ``[since, until)`` (``since`` None: ever)."""
        ...

    def task_result_buckets(
        self, since: datetime, until: datetime, interval: StatisticInterval
    ) -> dict[int, tuple[int, int]]:
        """The same per bucket of ``interval`` (number: whole intervals since the epoch); only buckets
        in which some task ended."""
        ...

    def sample_buckets(
        self, column: str, since: datetime | None, interval: StatisticInterval
    ) -> dict[int, tuple[int, int]]:
        """Per bucket of ``interval``: ``(largest sample id, largest value of column)`` of the samples
        taken since ``since``. ``column``: running_task_count, running_job_count, registered_job_count."""
        ...

    def record_sample(self, at: datetime, running_tasks: int, running_jobs: int, registered: int) -> None:
        """Store one sample taken at ``at``."""
        ...

    def prune_samples(self, before: datetime) -> int:
        """Delete the samples taken before ``before``; how many went."""
        ...


@runtime_checkable
class HistoryStore(Protocol):
    """Durable record of execution events.

    Implementations must be safe to call from several threads at once. Every method may raise
    :class:`HistoryError` when the backing store fails; after ``close()`` every method but ``close()``
    raises it.
    """

    def record(self, events: Sequence[ExecutionEvent], notices: Sequence[RunNotice] = ()) -> None:
        """Store ``events`` atomically (all or none), in the given order, and in the same transaction the
        webhook deliveries of ``notices`` (runs that started or ended, see ``deliveries.py``), built from
        the executions as they are once ``events`` are in.

        Every event is appended to the task's status trace. The task's execution row takes the event's
        state unless that would move it backwards in the lifecycle (STAGING < RUNNING < terminal), or the
        event is older than the current one with the same rank: events can arrive out of order after
        reconnects. Nothing to store does nothing.
        """
        ...

    def executions(self, query: ExecutionQuery) -> ExecutionPage:
        """The page of executions (one per task) matching ``query``, and the total number of matches."""
        ...

    def status_traces(self, query: ExecutionQuery) -> TracePage:
        """Every recorded state change matching ``query`` (``since``/``until`` bound the event time), newest
        first unless ``query.newest_first`` is False."""
        ...

    def status_trace(self, task_id: str) -> list[ExecutionEvent]:
        """Every event recorded for ``task_id``, oldest first (by event time, then arrival); [] if none."""
        ...

    def firings(
        self, job_name: str, offset: int = 0, limit: int = DEFAULT_PER_PAGE, pending: Sequence[str] = ()
    ) -> FiringPage:
        """``limit`` of ``job_name``'s firings (one run each) after the first ``offset``: first those of
        ``pending`` (firings the caller knows of, newest first) that have no execution recorded yet, then
        the recorded ones, newest first by their first execution, with their executions. ``total`` counts
        both, from one snapshot of the store."""
        ...

    def firings_at(self, job_name: str, instant: datetime) -> list[tuple[str, list[Execution]]]:
        """The firings of ``job_name`` a run id's instant (whole seconds, UTC) can name: those whose firing
        id carries that second, or whose first execution was in it."""
        ...

    def run_overrides(self, job_name: str, firing_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The recorded overrides (``{"environment", "jobParameter"}``) of those of ``firing_ids`` that had
        some, by firing id."""
        ...

    def delete_runs(self, job_name: str, firing_ids: Sequence[str]) -> list[str]:
        """Delete those of ``job_name``'s runs (firing ids) whose executions are all terminal — their
        executions, status traces and overrides — atomically; the others are left alone. Returns the
        firing ids deleted, sorted. Whether the leader still holds a run is for the caller to check."""
        ...

    def prunable_runs(self, job_name: str, keep: int, protected: Sequence[str], limit: int) -> list[str]:
        """Up to ``limit`` firing ids of ``job_name``'s runs whose executions are all terminal, not in
        ``protected`` (runs the caller knows are active) and not among the ``keep`` newest such runs (by
        their first execution); newest first."""
        ...

    def jobs_over(self, job_names: Sequence[str], keep: int) -> list[str]:
        """Those of ``job_names`` with more than ``keep`` runs (finished or not) in the history, sorted."""
        ...

    def run_jobs(self) -> list[str]:
        """The names of the jobs with runs in the history, sorted."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...
