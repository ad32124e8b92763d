"""One scheduling cycle, decided purely: cron -> ready queues -> offers -> placement -> a plan to apply.

``plan_cycle`` reads a ``Snapshot`` and the time, and returns a ``CyclePlan``; it does no I/O. The loop
commits the plan's ZooKeeper writes in one fenced multi-transaction and only then sends the launches.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from elasticjob import placement
from elasticjob.cron import Schedule
from elasticjob.model import (
    App,
    ConcurrencyPolicy,
    Job,
    JobExecutionType,
    JobType,
    TaskId,
    TaskKind,
    TaskState,
)
from elasticjob.model.failover import FailoverEntry
from elasticjob.model.queue import NO_OVERRIDES, Firing, FiringCause, Overrides, ReadyQueue
from elasticjob.model.running import RunningTask
from elasticjob.scheduler.firings import coalesce_pending, due_firings
from elasticjob.scheduler.snapshot import AgentUsage, Snapshot

WAITING_FOR_PREVIOUS = "previous firing still running"
REPLACING_PREVIOUS = "stopping the previous run, which this one replaces"
DAEMON_FIRING = "daemon"


@dataclass(frozen=True)
class QueueWrite:
    job_name: str
    queue: ReadyQueue
    version: int | None  # None: the znode does not exist yet


@dataclass(frozen=True)
class TaskLaunch:
    task: RunningTask
    spec: dict[str, Any]  # what the agent needs to run it (see protocol.convert.spec_to_proto)


@dataclass(frozen=True)
class TaskKill:
    """Kill a task: SIGTERM, then SIGKILL after ``grace_seconds`` (its job's taskKillGracePeriodSeconds;
    None: its agent decides — the grace its launch carried, else its own)."""

    agent_id: str
    task_id: str
    reason: str
    grace_seconds: float | None = None

    @classmethod
    def of(cls, job: Job | None, task: RunningTask, reason: str) -> TaskKill:
        grace = job.taskKillGracePeriodSeconds if job is not None else None
        return cls(task.agent_id, task.task_id, reason, grace)


@dataclass
class CyclePlan:
    queue_writes: list[QueueWrite] = field(default_factory=list)
    launches: list[TaskLaunch] = field(default_factory=list)
    kills: list[TaskKill] = field(default_factory=list)
    next_wake: dt.datetime | None = None
    collapsed: dict[str, int] = field(default_factory=dict)  # job -> firings merged away this cycle
    catching_up: set[str] = field(default_factory=set)  # jobs whose cron cursor is still behind: plan again
    job_versions: dict[str, int] = field(default_factory=dict)  # config versions the plan was decided on
    # job, entry key, version: launched or dropped
    failover_deletes: list[tuple[str, str, int]] = field(default_factory=list)
    failover_writes: list[tuple[FailoverEntry, int]] = field(default_factory=list)  # new reason, version
    missed: list[tuple[str, Firing, str]] = field(default_factory=list)  # job, firing, why it never ran
    stop_deletes: list[tuple[str, str, int]] = field(default_factory=list)  # job, firing, version: done

    @property
    def empty(self) -> bool:
        return not (self.queue_writes or self.launches or self.kills or self.stop_deletes)


def plan_cycle(
    snapshot: Snapshot,
    now: dt.datetime,
    schedule_of: Callable[[Job], Schedule],
    scorer: placement.Scorer = placement.SPREAD,
    max_pending: int | None = None,
    ahead: dt.timedelta = dt.timedelta(0),
) -> CyclePlan:
    """Decide one cycle. ``max_pending`` overrides every job's ``maxPendingFirings`` (tests).

    ``ahead``: a job with nothing pending whose next cron instant is at most this far away is launched
    now, its shards told to start at the instant (``RunningTask.start_at``): agents prepare sandboxes
    before the instant, so the shards start on time however many are due at once. ``next_wake`` is then
    that much before the next instant."""
    result = CyclePlan(job_versions=dict(snapshot.job_versions))
    queues: dict[str, ReadyQueue] = {}
    for name, job in sorted(snapshot.jobs.items()):
        queue, _ = snapshot.queues.get(name, (ReadyQueue(cursor=now), -1))
        if job.jobExecutionType is JobExecutionType.DAEMON:
            queues[name] = queue
            continue
        schedule = schedule_of(job)
        queue = _advance_cron(job, queue, now, schedule, snapshot, result, max_pending)
        nxt = schedule.next_fire(queue.cursor or now)
        near = nxt is not None and ahead and nxt <= now + ahead
        # A job that replaces its previous run does so at the instant, not ahead of it.
        replacing = job.concurrencyPolicy is ConcurrencyPolicy.REPLACE and (
            snapshot.running.get(name) or snapshot.failover.get(name)
        )
        launchable = snapshot.job_enabled(job) and job.schedule_active and not replacing
        if near and nxt is not None and not queue.firings and launchable:
            # Nothing pending and the next instant is near: queue it now, to be launched ahead of it.
            queue = replace(queue, cursor=nxt, firings=(Firing.cron(nxt),))
            nxt = schedule.next_fire(nxt)
        if nxt is not None and (result.next_wake is None or nxt - ahead < result.next_wake):
            result.next_wake = nxt - ahead
        queues[name] = queue

    _stop_queued(snapshot, queues, result)
    groups, heads = _task_groups(snapshot, queues, result)
    failover_groups, entries = _failover_groups(snapshot, queues, now, result)
    groups = failover_groups + groups
    decided = placement.plan(groups, _offers(snapshot), scorer) if groups else placement.LaunchPlan((), ())
    placed_by_group: dict[str, list[placement.Placement]] = defaultdict(list)
    for placed in decided.placements:
        placed_by_group[_group_of(placed.task.task_key)].append(placed)
    reasons: dict[str, str] = {}
    for unplaced in decided.unplaced:
        reasons.setdefault(_group_of(unplaced.task.task_key), unplaced.reason)

    _apply_failover(snapshot, entries, placed_by_group, reasons, now, result)
    for job_name, head in heads.items():
        job = snapshot.jobs[job_name]
        app = snapshot.apps[job.effective_app_name]
        placements = placed_by_group.get(job_name, [])
        if placements and job_name not in reasons:
            for placed in sorted(placements, key=lambda p: p.task.sharding_item):
                agent = snapshot.agents[placed.agent_id]
                result.launches.append(_launch(
                    job, app, placed, head, now, incarnation=agent.incarnation, ip=agent.ip
                ))
            if head is not None:
                queue = queues[job_name]
                fired = max(now, head.scheduled_at)  # a firing launched ahead fires at its instant
                queues[job_name] = replace(queue, firings=queue.firings[1:], reason="", last_fire_time=fired)
        else:
            queues[job_name] = replace(
                queues[job_name], reason=reasons.get(job_name, "waiting for resources")
            )

    for name, queue in queues.items():
        stored = snapshot.queues.get(name)
        # Equal records serialise alike (``extra`` takes no part in ``==``); unequal ones at worst cost a
        # write that changes nothing (instants kept to the microsecond here, stored to the millisecond).
        if stored is None or stored[0] != queue or stored[0].extra != queue.extra:
            result.queue_writes.append(QueueWrite(name, queue, None if stored is None else stored[1]))

    for job_name, tasks in snapshot.running.items():
        for task in tasks:
            reason = _obsolete(snapshot, job_name, task)
            if reason:
                result.kills.append(TaskKill.of(snapshot.jobs.get(job_name), task, reason))
    _finish_stops(snapshot, result)
    return result


def _stop_queued(snapshot: Snapshot, queues: dict[str, ReadyQueue], result: CyclePlan) -> None:
    """Stopped runs still queued are dropped from their queue, recorded as never run."""
    for job_name, stops in snapshot.stops.items():
        queue = queues.get(job_name)
        if queue is None:
            continue
        kept = tuple(f for f in queue.firings if f.firing_id not in stops)
        if len(kept) == len(queue.firings):
            continue
        for firing in queue.firings:
            if firing.firing_id in stops:
                result.missed.append((job_name, firing, f"stopped: {stops[firing.firing_id][0]}"))
        queues[job_name] = replace(queue, firings=kept, reason="" if not kept else queue.reason)


def _finish_stops(snapshot: Snapshot, result: CyclePlan) -> None:
    """Stopped runs: their running tasks are killed (not failed over: a KILLED shard is not run again) and
    their shards waiting to run again dropped; a request is removed once nothing of its run is left."""
    for job_name, stops in snapshot.stops.items():
        running = [t for t in snapshot.running.get(job_name, ()) if t.firing_id in stops]
        killing = {k.task_id for k in result.kills}
        for task in running:
            if task.task_id not in killing:
                reason = f"stopped: {stops[task.firing_id][0]}"
                result.kills.append(TaskKill.of(snapshot.jobs.get(job_name), task, reason))
        dropping = {(j, k) for j, k, _ in result.failover_deletes}
        for entry, version in snapshot.failover.get(job_name, ()):
            if entry.firing_id in stops and (job_name, entry.key) not in dropping:
                result.failover_deletes.append((job_name, entry.key, version))
        left = {t.firing_id for t in running}
        for firing_id, (_reason, version) in stops.items():
            if firing_id not in left:
                result.stop_deletes.append((job_name, firing_id, version))


def _obsolete(snapshot: Snapshot, job_name: str, task: RunningTask) -> str | None:
    """Why a running task no longer belongs to its job's configuration, if it does not."""
    job = snapshot.jobs.get(job_name)
    if job is None:
        return f"job '{job_name}' was removed"
    if task.sharding_item >= job.shardingTotalCount:
        return f"job '{job_name}' has {job.shardingTotalCount} shard(s) now"
    if task.firing_id == DAEMON_FIRING:
        # A daemon shard never ends by itself: it stops when its job stops being an enabled DAEMON job.
        if job.jobExecutionType is not JobExecutionType.DAEMON:
            return f"job '{job_name}' is no longer a DAEMON job"
        if not snapshot.job_enabled(job):
            return f"job '{job_name}' is disabled"
    elif task.state is TaskState.STAGING and task.start_at is not None:
        # Launched ahead of its (cron) instant: it has not started, and its job was disabled or its schedule
        # switched off meanwhile.
        if not snapshot.job_enabled(job):
            return f"job '{job_name}' was disabled before its firing's instant"
        if not job.schedule_active:
            return f"job '{job_name}' had its schedule switched off before its firing's instant"
    return None


def _advance_cron(
    job: Job,
    queue: ReadyQueue,
    now: dt.datetime,
    schedule: Schedule,
    snapshot: Snapshot,
    result: CyclePlan,
    max_pending: int | None,
) -> ReadyQueue:
    limit = max_pending if max_pending is not None else job.maxPendingFirings
    cursor = queue.cursor or now
    if not snapshot.job_enabled(job):
        # A disabled job does not pile up firings: its cursor skips the instants that pass while it is
        # disabled (written only when one has passed, not on every cycle), and firings that were waiting
        # when it was disabled never run (recorded as MISSED) rather than all at once on enabling.
        for firing in queue.firings:
            result.missed.append((job.jobName, firing, "the job (or its app) was disabled before it started"))
        if queue.firings:
            queue = replace(queue, firings=(), reason="", missed=queue.missed + len(queue.firings))
        upcoming = schedule.next_fire(cursor)
        return replace(queue, cursor=now) if upcoming is not None and upcoming <= now else queue
    if not job.schedule_active:
        # The schedule is switched off: as for a disabled job, its instants pass without firings and the
        # cron firings that were waiting never run — but manual runs are kept and start as usual.
        crons = tuple(f for f in queue.firings if f.cause is FiringCause.CRON)
        for firing in crons:
            result.missed.append((job.jobName, firing, "the job's schedule was switched off before it ran"))
        if crons:
            kept = tuple(f for f in queue.firings if f.cause is not FiringCause.CRON)
            queue = replace(queue, firings=kept, reason=queue.reason if kept else "",
                            missed=queue.missed + len(crons))
        upcoming = schedule.next_fire(cursor)
        return replace(queue, cursor=now) if upcoming is not None and upcoming <= now else queue
    due = due_firings(schedule, cursor, now, job.misfire, limit)
    if not due.complete:
        result.catching_up.add(job.jobName)
    missed = [(f, _collapse_reason(job)) for f in due.dropped]
    firings = (*queue.firings, *due.firings)
    if job.startingDeadlineSeconds is not None:
        deadline = now - dt.timedelta(seconds=job.startingDeadlineSeconds)
        reason = f"could not start within startingDeadlineSeconds={job.startingDeadlineSeconds}"
        missed += [(f, reason) for f in firings if f.scheduled_at < deadline]
        firings = tuple(f for f in firings if f.scheduled_at >= deadline)
    # Firings pile up behind an active run (unless runs overlap: then nothing waits for it).
    waiting = not job.runs_overlap and (
        bool(snapshot.running.get(job.jobName)) or bool(snapshot.failover.get(job.jobName))
    )
    if waiting or len(firings) > 1:
        kept, _ = coalesce_pending(firings, job.misfire, limit)
        missed += [(f, _collapse_reason(job)) for f in firings if f not in kept]
        firings = kept
    missed.sort(key=lambda pair: pair[0].scheduled_at)
    result.missed += [(job.jobName, firing, why) for firing, why in missed]
    count = len(missed) + due.uncounted
    if count:
        result.collapsed[job.jobName] = count
    return replace(queue, cursor=due.cursor, firings=firings, missed=queue.missed + count)


def _collapse_reason(job: Job) -> str:
    if job.misfire:
        return f"more than maxPendingFirings={job.maxPendingFirings} firings were waiting"
    return "missed while the previous firing ran or no room was free (misfire=false: collapsed into one)"


def _task_groups(
    snapshot: Snapshot,
    queues: dict[str, ReadyQueue],
    result: CyclePlan,
) -> tuple[list[placement.TaskGroup], dict[str, Firing | None]]:
    groups: list[placement.TaskGroup] = []
    heads: dict[str, Firing | None] = {}
    for name, job in sorted(snapshot.jobs.items()):
        app = snapshot.apps.get(job.effective_app_name)
        if not snapshot.job_enabled(job):
            continue
        if app is None:
            if queues[name].firings:
                missing = f"app '{job.effective_app_name}' is not registered"
                queues[name] = replace(queues[name], reason=missing)
            continue
        running = snapshot.running.get(name, ())
        if job.jobExecutionType is JobExecutionType.DAEMON:
            items = sorted(set(range(job.shardingTotalCount)) - {t.sharding_item for t in running})
            if items:
                heads[name] = None
                groups.append(_group(job, app, items, DAEMON_FIRING))
            continue
        queue = queues[name]
        if not queue.firings:
            continue
        pending = snapshot.failover.get(name)
        if job.concurrencyPolicy is ConcurrencyPolicy.REPLACE and (running or pending):
            # The previous run gives way: its shards are killed (KILLED: not run again) and its shards
            # waiting to run again dropped; this firing starts once they are gone.
            why = f"replaced by the next run ({queue.firings[0].firing_id})"
            result.kills.extend(TaskKill.of(job, t, why) for t in running)
            result.failover_deletes.extend((name, e.key, version) for e, version in pending or ())
            if running:
                queues[name] = replace(queue, reason=REPLACING_PREVIOUS)
                continue
            pending = None
        if running and not job.runs_overlap:
            queues[name] = replace(queue, reason=WAITING_FOR_PREVIOUS)
            continue
        if pending and not job.runs_overlap:
            shards = ", ".join(str(e.sharding_item) for e, _ in pending)
            queues[name] = replace(queue, reason=f"previous firing's shard(s) {shards} waiting to be re-run")
            continue
        head = queue.firings[0]
        heads[name] = head
        groups.append(_group(job, app, list(range(job.shardingTotalCount)), head.firing_id))
    return groups, heads


FAILOVER_GROUP = "!failover"


def _failover_groups(
    snapshot: Snapshot, queues: dict[str, ReadyQueue], now: dt.datetime, result: CyclePlan
) -> tuple[list[placement.TaskGroup], dict[str, dict[int, tuple[FailoverEntry, int]]]]:
    """One group per job with shards due for failover or retry: placed one by one, before any firing."""
    groups: list[placement.TaskGroup] = []
    due_entries: dict[str, dict[int, tuple[FailoverEntry, int]]] = {}
    for job_name, entries in sorted(snapshot.failover.items()):
        job = snapshot.jobs.get(job_name)
        app = snapshot.apps.get(job.effective_app_name) if job is not None else None
        overlap = job is not None and job.runs_overlap
        # A shard runs again once no task of it runs — of its own run, when the job's runs overlap.
        running = {
            (t.sharding_item, t.firing_id if overlap else "") for t in snapshot.running.get(job_name, ())
        }
        due: dict[int, tuple[FailoverEntry, int]] = {}
        queued = queues.get(job_name)
        replaced = job is not None and job.concurrencyPolicy is ConcurrencyPolicy.REPLACE
        if replaced and queued is not None and queued.firings:
            continue  # a next run replaces the one these shards belong to (see _task_groups)
        stopped = snapshot.stops.get(job_name, {})
        for entry, version in entries:
            if entry.firing_id in stopped:
                continue  # its run was stopped: dropped (see _finish_stops)
            if job is None or entry.sharding_item >= job.shardingTotalCount:
                result.failover_deletes.append((job_name, entry.key, version))
            elif entry.not_before > now:
                if result.next_wake is None or entry.not_before < result.next_wake:
                    result.next_wake = entry.not_before
            elif (entry.sharding_item, entry.firing_id if overlap else "") not in running:
                # One entry per shard a cycle (runs that overlap may have several): the rest next cycle.
                due.setdefault(entry.sharding_item, (entry, version))
        if not due or job is None or app is None or not snapshot.job_enabled(job):
            continue
        due_entries[job_name] = due
        group = _group(job, app, sorted(due), "")
        tasks = tuple(
            replace(t, task_key=f"{job_name}{FAILOVER_GROUP}#{t.sharding_item}") for t in group.tasks
        )
        groups.append(
            replace(
                group, group_key=f"{job_name}{FAILOVER_GROUP}", tasks=tasks, all_or_nothing=False, priority=10
            )
        )
    return groups, due_entries


def _apply_failover(
    snapshot: Snapshot,
    entries: dict[str, dict[int, tuple[FailoverEntry, int]]],
    placed_by_group: dict[str, list[placement.Placement]],
    reasons: dict[str, str],
    now: dt.datetime,
    result: CyclePlan,
) -> None:
    for job_name, due in entries.items():
        job = snapshot.jobs[job_name]
        app = snapshot.apps[job.effective_app_name]
        placed_items = set()
        for placed in placed_by_group.get(f"{job_name}{FAILOVER_GROUP}", []):
            entry, version = due[placed.task.sharding_item]
            placed_items.add(entry.sharding_item)
            launch = _launch(
                job,
                app,
                placed,
                None,
                now,
                kind=TaskKind.FAILOVER,
                firing_id=entry.firing_id,
                attempt=entry.attempt,
                incarnation=snapshot.agents[placed.agent_id].incarnation,
                ip=snapshot.agents[placed.agent_id].ip,
                overrides=entry.overrides,
            )
            result.launches.append(launch)
            result.failover_deletes.append((job_name, entry.key, version))
        reason = reasons.get(f"{job_name}{FAILOVER_GROUP}", "waiting for resources")
        for item, (entry, version) in due.items():
            if item not in placed_items and entry.reason != reason:
                result.failover_writes.append((replace(entry, reason=reason), version))


def _group(job: Job, app: App, items: list[int], firing_id: str) -> placement.TaskGroup:
    per_shard = placement.Resources(job.cpuCount, job.memoryMB)
    executor = placement.Resources(app.cpuCount, app.memoryMB)
    tasks = tuple(
        placement.TaskRequest(
            task_key=f"{job.jobName}#{item}",
            job_name=job.jobName,
            sharding_item=item,
            app_name=app.appName,
            resources=per_shard,
            app_resources=executor,
        )
        for item in items
    )
    patterns = tuple(
        placement.PatternConstraint(p.attribute, placement.PatternOperator(p.operator.value), p.value)
        for p in job.patternConstraints or ()
    )
    return placement.TaskGroup(
        group_key=job.jobName,
        tasks=tasks,
        all_or_nothing=True,
        constraints=dict(job.constraints),
        patterns=patterns,
    )


def _group_of(task_key: str) -> str:
    return task_key.rsplit("#", 1)[0]


def _offers(snapshot: Snapshot) -> list[placement.Offer]:
    offers = []
    usage = snapshot.agent_usage()
    for agent in sorted(snapshot.agents.values(), key=lambda a: a.agent_id):
        used = usage.get(agent.agent_id, AgentUsage())
        free = placement.Resources(max(agent.cpus - used.cpus, 0.0), max(agent.mem_mb - used.mem_mb, 0.0))
        attributes = dict(agent.attributes)
        offers.append(placement.Offer(agent.agent_id, agent.hostname, free, attributes, used.apps))
    return offers


def _launch(
    job: Job,
    app: App,
    placed: placement.Placement,
    head: Firing | None,
    now: dt.datetime,
    *,
    kind: TaskKind = TaskKind.READY,
    firing_id: str | None = None,
    attempt: int = 0,
    incarnation: str = "",
    ip: str = "",
    overrides: Overrides | None = None,
) -> TaskLaunch:
    item = placed.task.sharding_item
    task_id = str(TaskId.new(job.jobName, item, kind, placed.agent_id))
    if firing_id is None:
        firing_id = head.firing_id if head is not None else DAEMON_FIRING
    start_at = head.scheduled_at if head is not None and head.scheduled_at > now else None
    if overrides is None:
        overrides = head.overrides if head is not None else NO_OVERRIDES
    task = RunningTask(
        task_id=task_id,
        job_name=job.jobName,
        sharding_item=item,
        firing_id=firing_id,
        agent_id=placed.agent_id,
        hostname=placed.hostname,
        app_name=app.appName,
        cpus=job.cpuCount,
        mem_mb=job.memoryMB,
        app_cpus=app.cpuCount,
        app_mem_mb=app.memoryMB,
        kind=kind,
        state=TaskState.STAGING,
        launched_at=now,
        attempt=attempt,
        start_at=start_at,
        agent_incarnation=incarnation,
        overrides=overrides,
        ip=ip,
    )
    return TaskLaunch(task, task_spec(job, app, task))


@functools.lru_cache(maxsize=1024)
def app_version(app: App) -> str:
    """A digest of the app's configuration: an agent revalidates its cached copy when it changes."""
    encoded = json.dumps(app.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def task_spec(job: Job, app: App, task: RunningTask) -> dict[str, Any]:
    """Everything an agent needs to run one shard."""
    command, overrides = "", task.overrides
    if job.jobType is JobType.SCRIPT:
        command = job.scriptCommandLine or app.bootstrapScript
    spec = {
        "task_id": task.task_id,
        "job_name": job.jobName,
        "firing_id": task.firing_id,
        "sharding_item": task.sharding_item,
        "sharding_total_count": job.shardingTotalCount,
        "sharding_parameter": job.sharding_parameters.get(task.sharding_item, ""),
        "job_parameter": job.jobParameter if overrides.job_parameter is None else overrides.job_parameter,
        "app_name": app.appName,
        "app_url": app.appURL,
        "app_cache_enable": app.appCacheEnable,
        "app_version": app_version(app),
        "job_type": job.jobType.value,
        "command": command,
        "job_class": job.jobClass or "",
        "streaming_process": job.streamingProcess,
        "environment": {**job.environment, **overrides.env},
        "cpus": job.cpuCount,
        "mem_mb": job.memoryMB,
        "execution_type": job.jobExecutionType.value,
        "cron": job.cron or "",
        "time_zone": job.timeZone,
        "start_at_ms": int(task.start_at.timestamp() * 1000) if task.start_at else 0,
        "kill_grace_seconds": job.taskKillGracePeriodSeconds,
    }
    if job.artifacts:  # fetched into the working directory after the app
        spec["artifacts"] = [a.to_spec() for a in job.artifacts]
    return spec
