"""Turning agents' task status reports into state changes: pure decisions, applied by the loop."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from elasticjob.model import TaskState
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.scheduler.snapshot import RunningTask


@dataclass(frozen=True)
class Recorded:
    """One history event to record."""

    task: RunningTask
    state: TaskState
    exit_code: int | None
    message: str
    at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


@dataclass
class StatusPlan:
    updates: list[tuple[RunningTask, int]] = field(default_factory=list)  # new value, expected version
    deletes: list[tuple[RunningTask, int]] = field(default_factory=list)
    events: list[Recorded] = field(default_factory=list)
    kills: list[tuple[str, str, str]] = field(default_factory=list)  # agent, task id, reason
    acks: dict[str, list[str]] = field(default_factory=dict)  # agent -> terminal task ids recorded


def daemon_run_id(task_id: str, run: int) -> str:
    """The execution id of run ``run`` of a DAEMON task."""
    return f"{task_id}#{run}"


_RANK = {TaskState.STAGING: 0, TaskState.RUNNING: 1}


def _ms(value: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC) if value else None


def plan_statuses(
    reports: list[tuple[str, StatusUpdate]],
    running: dict[str, tuple[RunningTask, int]],
    now: dt.datetime,
) -> StatusPlan:
    """Decide what each report changes.

    - a task the state knows, reported by the agent it was launched on: non-terminal states update the
      znode (when they change it), terminal states delete it; either way the event is recorded;
    - a terminal report of an unknown task is acknowledged (it was recorded before, or never existed);
    - a non-terminal report of an unknown task is a stale copy: the agent is told to kill it;
    - a DAEMON task's report of one finished run is recorded as an execution of its own.
    """
    result = StatusPlan()
    current = dict(running)
    for agent_id, status in reports:
        known = current.get(status.task_id)
        if known is None or known[0].agent_id != agent_id:
            if status.state.terminal:
                result.acks.setdefault(agent_id, []).append(status.task_id)
            else:
                result.kills.append((agent_id, status.task_id, "the master does not know this task"))
            continue
        task, version = known
        started = _ms(status.started_ms) or task.started_at
        at = _ms(status.timestamp_ms) or now
        if status.daemon_run:
            # One run of a DAEMON shard ended; the shard keeps running. Each run is its own execution.
            run = replace(task, task_id=daemon_run_id(task.task_id, status.run))
            result.events.append(
                Recorded(run, status.state, status.exit_code, status.message, at, started, at)
            )
            continue
        if status.state.terminal:
            result.deletes.append((task, version))
            result.acks.setdefault(agent_id, []).append(status.task_id)
            result.events.append(
                Recorded(task, status.state, status.exit_code, status.message, at, started, at)
            )
            del current[status.task_id]
            continue
        if _RANK[status.state] <= _RANK[task.state]:
            continue  # a repeated or late report (e.g. STAGING after RUNNING) changes nothing
        updated = replace(task, state=status.state, started_at=started)
        result.updates.append((updated, version))
        result.events.append(Recorded(updated, status.state, None, status.message, at, started, None))
        current[status.task_id] = (updated, version + 1)
    return result
