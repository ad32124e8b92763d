"""How one event changes a task's execution record. Pure functions, no I/O, safe from any thread.

The rule, which every store applies the same way:

- An event *supersedes* the current record when its state is further along the lifecycle
  (STAGING < RUNNING < any terminal state), or equally far and not older (``event.at >= updated_at``).
  So a terminal execution never becomes STAGING or RUNNING again, and among equal ranks the latest wins
  (a LOST task that later reports FINISHED ends up FINISHED).
- A superseding event sets the state, exit code and message (those belong to the state) and overrides
  agent, host, ip, shard, firing, start and finish times when it carries them.
- A stale event changes no state; it only fills what the record lacks (agent, host, shard, firing,
  start time, ip) — a RUNNING that arrives after FINISHED still tells when the task started.
- ``started_at`` defaults to the time of the first RUNNING event, ``finished_at`` to the time of the
  terminal event (except MISSED: a missed firing never ran).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from elasticjob.history.store import Execution
from elasticjob.model.execution import MISSED, RUNNING, TERMINAL_STATES, ExecutionEvent, state_rank


def as_utc(value: datetime) -> datetime:
    """``value`` (aware) converted to UTC."""
    return value.astimezone(UTC)


def _opt_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def execution_time(execution: Execution) -> datetime:
    """The time queries filter and sort on: the start time, else the time of the first event."""
    return execution.started_at or execution.created_at


def supersedes(event: ExecutionEvent, current: Execution) -> bool:
    """Whether ``event`` replaces ``current``'s state (see the module docstring)."""
    new_rank, old_rank = state_rank(event.state), state_rank(current.state)
    return new_rank > old_rank or (new_rank == old_rank and as_utc(event.at) >= current.updated_at)


def _event_times(event: ExecutionEvent) -> tuple[datetime, datetime | None, datetime | None]:
    at = as_utc(event.at)
    started = _opt_utc(event.started_at)
    if started is None and event.state == RUNNING:
        started = at
    finished = _opt_utc(event.finished_at)
    if finished is None and event.state in TERMINAL_STATES and event.state != MISSED:
        finished = at
    return at, started, finished


def apply_event(current: Execution | None, event: ExecutionEvent) -> Execution:
    """The execution record after ``event``; ``current`` is ``None`` for the task's first event."""
    at, started, finished = _event_times(event)
    if current is None:
        return Execution(
            task_id=event.task_id,
            job_name=event.job_name,
            sharding_item=event.sharding_item,
            firing_id=event.firing_id,
            state=event.state,
            agent_id=event.agent_id,
            hostname=event.hostname,
            ip=event.ip,
            exit_code=event.exit_code,
            message=event.message,
            started_at=started,
            finished_at=finished,
            created_at=at,
            updated_at=at,
        )
    created = min(current.created_at, at)
    if supersedes(event, current):
        return replace(
            current,
            job_name=event.job_name or current.job_name,
            sharding_item=current.sharding_item if event.sharding_item is None else event.sharding_item,
            firing_id=event.firing_id or current.firing_id,
            state=event.state,
            agent_id=event.agent_id or current.agent_id,
            hostname=event.hostname or current.hostname,
            ip=event.ip or current.ip,
            exit_code=event.exit_code,
            message=event.message,
            # An explicit start time wins; the RUNNING default only fills a gap.
            started_at=started if event.started_at is not None else current.started_at or started,
            finished_at=finished or current.finished_at,
            created_at=created,
            updated_at=at,
        )
    return replace(
        current,
        sharding_item=event.sharding_item if current.sharding_item is None else current.sharding_item,
        firing_id=current.firing_id or event.firing_id,
        agent_id=current.agent_id or event.agent_id,
        hostname=current.hostname or event.hostname,
        ip=current.ip or event.ip,
        started_at=current.started_at or started,
        created_at=created,
    )
