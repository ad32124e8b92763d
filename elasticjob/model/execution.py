"""Execution events: what the leader master records each time a task changes state.

Shared by the scheduler (which produces them) and ``history`` (which stores them). Task states are plain
strings here (``MISSED`` is not a task state of ``model.task``). The lifecycle of one task is
``STAGING -> RUNNING -> one terminal state``; ``MISSED`` is the terminal state of a firing that was
dropped without running (no task, no agent).

Everything here is an immutable value: safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticjob.model.task import TaskState, missed_task_id

STAGING = TaskState.STAGING.value
RUNNING = TaskState.RUNNING.value
FINISHED = TaskState.FINISHED.value
FAILED = TaskState.FAILED.value
KILLED = TaskState.KILLED.value
LOST = TaskState.LOST.value
MISSED = "MISSED"  # a firing, not a task: it never became one

TASK_STATES: tuple[str, ...] = (STAGING, RUNNING, FINISHED, FAILED, KILLED, LOST, MISSED)
"""Every known state, in lifecycle order (the order used in error messages)."""

TERMINAL_STATES: frozenset[str] = frozenset({FINISHED, FAILED, KILLED, LOST, MISSED})
"""States after which a task never runs again. A terminal execution never moves back to a live state."""

_RANK: dict[str, int] = {STAGING: 0, RUNNING: 1, **{state: 2 for state in TERMINAL_STATES}}


def state_rank(state: str) -> int:
    """Position of ``state`` in the lifecycle: 0 for STAGING, 1 for RUNNING, 2 for every terminal state.

    Raises ``ValueError`` for an unknown state.
    """
    try:
        return _RANK[state]
    except KeyError:
        raise ValueError(f"unknown task state {state!r}; expected one of {', '.join(TASK_STATES)}") from None


def _check_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")


@dataclass(frozen=True)
class ExecutionEvent:
    """One state change of one task, as seen by the leader master.

    ``at`` (keyword-only, required) is when the change happened; it and the optional ``started_at`` /
    ``finished_at`` must be timezone-aware (UTC is expected; any offset is accepted and stored as UTC).
    ``sharding_item`` is ``None`` only for firings that never became a task (``MISSED``); build those with
    :meth:`missed`. Construction raises ``ValueError`` for an unknown state, a naive datetime or an empty
    task id / job name.
    """

    task_id: str
    job_name: str
    sharding_item: int | None
    firing_id: str
    state: str
    agent_id: str = ""
    hostname: str = ""
    exit_code: int | None = None
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    at: datetime = field(kw_only=True)
    # A launch of a run with its own environment or job parameter: those (``Overrides.to_json()``), kept
    # with the run in the history.
    run_overrides: Mapping[str, Any] | None = field(default=None, kw_only=True, compare=False)
    ip: str = field(default="", kw_only=True)  # the agent's address (Elastic-Job-Cloud's ``ip``)

    def __post_init__(self) -> None:
        if not self.task_id:
            raise ValueError("task_id must not be empty")
        if not self.job_name:
            raise ValueError("job_name must not be empty")
        state_rank(self.state)
        # A StrEnum member (e.g. the scheduler's TaskState) becomes a plain str: drivers bind exact strs.
        object.__setattr__(self, "state", str(self.state))
        _check_aware("at", self.at)
        _check_aware("started_at", self.started_at)
        _check_aware("finished_at", self.finished_at)

    @property
    def terminal(self) -> bool:
        """Whether this event ends the task (see :data:`TERMINAL_STATES`)."""
        return self.state in TERMINAL_STATES

    @classmethod
    def missed(cls, job_name: str, firing_id: str, *, at: datetime, message: str = "") -> ExecutionEvent:
        """The event for a firing that was dropped without running: no task, no agent, no shard."""
        return cls(
            missed_task_id(job_name, firing_id), job_name, None, firing_id, MISSED, message=message, at=at
        )
