"""Turning agents' task status reports into state changes: pure decisions, applied by the loop.

Also where a new leader reconciles: a report of a task the state lacks is either adopted (the shard
still runs there and nothing replaced it) or killed as a stale copy (its shard was declared lost and
re-run or given up, or another run of the shard exists).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from elasticjob.model import App, Job, TaskId, TaskState
from elasticjob.model.failover import FailoverEntry
from elasticjob.model.running import RunningTask
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.scheduler.failover import after_end


@dataclass(frozen=True)
class Recorded:
    """One history event to record. ``missed``: recorded as MISSED (a shard launched ahead of its
    firing's instant and cancelled before it: it never ran) instead of ``state``."""

    task: RunningTask
    state: TaskState
    exit_code: int | None
    message: str
    at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    missed: bool = False


@dataclass(frozen=True)
class Context:
    """What the decisions need beyond the running znodes (from the cycle's snapshot)."""

    jobs: Mapping[str, Job] = field(default_factory=dict)
    apps: Mapping[str, App] = field(default_factory=dict)
    failover: Mapping[str, tuple[tuple[FailoverEntry, int], ...]] = field(default_factory=dict)
    running_items: frozenset[tuple[str, int]] = frozenset()  # (job, item) of every running task
    running_firing_items: frozenset[tuple[str, int, str]] = frozenset()  # (job, item, firing) of each
    lost: frozenset[str] = frozenset()  # tombstones of tasks declared LOST


@dataclass
class StatusPlan:
    updates: list[tuple[RunningTask, int]] = field(default_factory=list)  # new value, expected version
    deletes: list[tuple[RunningTask, int]] = field(default_factory=list)
    creates: list[RunningTask] = field(default_factory=list)  # adopted tasks
    failover_creates: list[FailoverEntry] = field(default_factory=list)
    failover_deletes: list[tuple[str, str, int]] = field(default_factory=list)  # job, entry key, version
    tombstone_deletes: list[str] = field(default_factory=list)
    events: list[Recorded] = field(default_factory=list)
    kills: list[tuple[str, str, str]] = field(default_factory=list)  # agent, task id, reason
    acks: dict[str, list[str]] = field(default_factory=dict)  # agent -> terminal task ids recorded


def daemon_run_id(task_id: str, run: int) -> str:
    """The execution id of run ``run`` of a DAEMON task."""
    return f"{task_id}#{run}"


_RANK = {TaskState.STAGING: 0, TaskState.RUNNING: 1}
# The reason an agent gives when told to kill a task it does not run (see agent.tasks.TaskManager.kill).
UNKNOWN_TO_AGENT = "unknown"


def _ms(value: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC) if value else None


def plan_statuses(
    reports: list[tuple[str, StatusUpdate]],
    running: dict[str, tuple[RunningTask, int]],
    now: dt.datetime,
    context: Context | None = None,
) -> StatusPlan:
    """Decide what each report changes.

    - a task the state knows, reported by the agent it was launched on: non-terminal states update the
      znode (when they change it), terminal states delete it and may queue a failover or retry (see
      ``failover.after_end``); either way the event is recorded;
    - a terminal report of an unknown task is acknowledged, and recorded when it tells how a run ended:
      a leader that committed the run's end but died before the history had it and the agent had the
      acknowledgement leaves the report to the next leader (recording twice changes nothing). Not
      recorded: a stale copy's end (its task was declared LOST and its shard re-run) and an agent's
      "not running here" answer to a kill (it says nothing about the run);
    - a non-terminal report of an unknown task is reconciled (``_reconcile``);
    - a DAEMON task's report of one finished run is recorded as an execution of its own.
    """
    context = context or Context()
    result = StatusPlan()
    current = dict(running)
    for agent_id, status in reports:
        known = current.get(status.task_id)
        if known is None or known[0].agent_id != agent_id:
            if status.state.terminal:
                result.acks.setdefault(agent_id, []).append(status.task_id)
                if status.task_id in context.lost:
                    result.tombstone_deletes.append(status.task_id)  # the stale copy is gone for good
                elif status.reason != UNKNOWN_TO_AGENT:
                    ended = _reported_end(agent_id, status, now)
                    if ended is not None:
                        result.events.append(ended)
            else:
                adopted = _reconcile(agent_id, status, context, result, now)
                if adopted is not None:
                    current[status.task_id] = (adopted, 0)
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
            # Launched ahead and killed before its instant (its job disabled or removed meanwhile): it
            # never ran — its firing was missed, as if it had not been launched yet.
            missed = status.state is TaskState.KILLED and task.start_at is not None and not status.started_ms
            result.events.append(
                Recorded(task, status.state, status.exit_code, status.message, at, started, at, missed)
            )
            entry = after_end(context.jobs.get(task.job_name), task, status.state, status.reason, now)
            if entry is not None:
                result.failover_creates.append(entry)
            del current[status.task_id]
            continue
        if _RANK[status.state] <= _RANK[task.state]:
            continue  # a repeated or late report (e.g. STAGING after RUNNING) changes nothing
        updated = replace(task, state=status.state, started_at=started)
        result.updates.append((updated, version))
        result.events.append(Recorded(updated, status.state, None, status.message, at, started, None))
        current[status.task_id] = (updated, version + 1)
    return result


def _reported_end(agent_id: str, status: StatusUpdate, now: dt.datetime) -> Recorded | None:
    """The history event of an agent's terminal report of a task the state no longer holds."""
    try:
        task_id = TaskId.parse(status.task_id)
    except ValueError:
        return None
    at = _ms(status.timestamp_ms) or now
    task = RunningTask(
        task_id=status.task_id,
        job_name=task_id.job_name,
        sharding_item=task_id.sharding_item,
        firing_id=status.firing_id,
        agent_id=agent_id,
        hostname="",
        app_name="",
        cpus=0.0,
        mem_mb=0.0,
        app_cpus=0.0,
        app_mem_mb=0.0,
        kind=task_id.kind,
        state=status.state,
        launched_at=at,
    )
    return Recorded(task, status.state, status.exit_code, status.message, at, _ms(status.started_ms), at)


def _reconcile(
    agent_id: str, status: StatusUpdate, context: Context, result: StatusPlan, now: dt.datetime
) -> RunningTask | None:
    """A task an agent runs but the state lacks: adopt it, or kill it. Returns the adopted task."""
    try:
        task_id = TaskId.parse(status.task_id)
    except ValueError:
        result.kills.append((agent_id, status.task_id, "not a task id of this cluster"))
        return None
    job = context.jobs.get(task_id.job_name)
    app = context.apps.get(job.effective_app_name) if job is not None else None
    if job is None or app is None or task_id.sharding_item >= job.shardingTotalCount:
        result.kills.append((agent_id, status.task_id, "its job or shard no longer exists"))
        return None
    # Another task of this shard running makes this a stale copy — of any firing, unless the job's runs
    # overlap (then only one of the same firing does).
    if (
        (task_id.job_name, task_id.sharding_item, status.firing_id) in context.running_firing_items
        if job.runs_overlap
        else (task_id.job_name, task_id.sharding_item) in context.running_items
    ):
        result.kills.append((agent_id, status.task_id, "another run of this shard is running"))
        return None
    pending = [
        (entry, version)
        for entry, version in context.failover.get(task_id.job_name, ())
        if entry.sharding_item == task_id.sharding_item and entry.original_task_id == status.task_id
    ]
    if status.task_id in context.lost and not pending:
        result.kills.append(
            (agent_id, status.task_id, "it was declared lost and its shard re-run or given up")
        )
        return None
    # Adopt: the shard still runs here and nothing replaced it (a pending failover of it is cancelled).
    attempt = 0
    for entry, version in pending:
        result.failover_deletes.append((entry.job_name, entry.key, version))
        attempt = entry.attempt - 1
    if status.task_id in context.lost:
        result.tombstone_deletes.append(status.task_id)
    started = _ms(status.started_ms)
    adopted = RunningTask(
        task_id=status.task_id,
        job_name=job.jobName,
        sharding_item=task_id.sharding_item,
        firing_id=status.firing_id or (pending[0][0].firing_id if pending else "adopted"),
        agent_id=agent_id,
        hostname="",
        app_name=app.appName,
        cpus=job.cpuCount,
        mem_mb=job.memoryMB,
        app_cpus=app.cpuCount,
        app_mem_mb=app.memoryMB,
        kind=task_id.kind,
        state=status.state,
        launched_at=started or now,
        started_at=started,
        attempt=attempt,
    )
    result.creates.append(adopted)
    result.events.append(
        Recorded(adopted, status.state, None, "adopted: reported by its agent", now, started, None)
    )
    return adopted
