"""The leader's scheduling loop: it plans what is due and what changed, from the master's in-memory state.

Inputs, and nothing else: a heap of every job's next instant (cron, a failover shard's backoff, a retry
after a conflict), the set of jobs whose state changed (told by the ``ClusterState`` listener: a job
registered, changed, disabled or removed through any master or directly in ZooKeeper, a manual trigger, a
run that ended, a failover entry), the agents' status reports, and agents joining or leaving. A cycle
records the statuses, expires tasks of agents gone past the grace period, then cuts a snapshot of just
the jobs due or changed and plans it with the pure ``plan_cycle``. The ``Applier`` commits each job's
writes in fenced multi-transactions before anything is launched; a job whose writes conflict is decided
again on fresher state, with a short backoff, and the others go ahead.

The heap and the indexes are rebuilt from the state whenever the state was re-read (start, becoming
leader, a reconnect or a session loss): nothing is planned from a state that is not in sync.

Runs on its own thread; the public methods are thread-safe and never block (they only record and wake).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import KazooException

from elasticjob import cron, placement
from elasticjob.model import Job, JobExecutionType, TaskId, TaskState
from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.failover import FailoverCause, FailoverEntry
from elasticjob.model.queue import ReadyQueue
from elasticjob.model.running import RunningTask
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.registry import Fence, JsonStore, StoreError
from elasticjob.registry.mirror import Change
from elasticjob.registry.state import (
    APPS,
    DISABLED_APPS,
    DISABLED_JOBS,
    FAILOVER,
    JOBS,
    READY,
    RUNNING,
    ClusterState,
    CorruptConfig,
)
from elasticjob.scheduler.apply import Applier, FenceLost, Group
from elasticjob.scheduler.cycle import WAITING_FOR_PREVIOUS, CyclePlan, plan_cycle
from elasticjob.scheduler.failover import after_end
from elasticjob.scheduler.ports import AgentPort, EventSink, NoMetrics, SchedulerMetrics
from elasticjob.scheduler.statuses import Context, Recorded, plan_statuses
from elasticjob.scheduler.timers import FireHeap
from elasticjob.scheduler.view import snapshot_of
from elasticjob.scheduler.writes import Writes

log = logging.getLogger(__name__)

TOMBSTONE_TTL = dt.timedelta(days=1)
HOUSEKEEPING_EVERY = 30.0  # seconds between removals of empty parents and old tombstones
CONFLICT_BACKOFF = (0.05, 0.2, 0.5, 1.0, 2.0)  # a job whose writes keep conflicting waits longer each time
MAX_JOBS_PER_CYCLE = 5_000  # a burst of due jobs is planned in slices, oldest instants first


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    def __init__(
        self,
        store: JsonStore,
        state: ClusterState,
        agents: AgentPort,
        events: EventSink,
        fence: Callable[[], Fence | None],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        tick: float = 5.0,
        agent_grace: float = 15.0,
        scorer: placement.Scorer = placement.SPREAD,
        metrics: SchedulerMetrics | None = None,
        launch_ahead: float = 0.0,
    ) -> None:
        self.store = store
        self.ahead = dt.timedelta(seconds=launch_ahead)
        self.state = state
        self.layout = state.layout
        self.agents = agents
        self.fence = fence
        self.clock = clock
        self.tick = tick
        self.agent_grace = agent_grace
        self.scorer = scorer
        self.metrics = metrics or NoMetrics()
        self.applier = Applier(
            store, agents, events, wrote=state.wrote, refresh=state.refresh, stamp=state.layout.stamp
        )
        self.writes = Writes(self.layout, state)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._reports: queue.Queue[tuple[str, StatusUpdate]] = queue.Queue()
        self._registrations: queue.Queue[tuple[str, float, set[str]]] = queue.Queue()
        self._gone_since: dict[str, float] = {}
        self._leader_since: float | None = None
        self._schedules: dict[tuple[str, str], cron.Schedule] = {}
        # Fed by the state's listener (mirror thread) and the gateway (gRPC threads), taken by the loop.
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._dirty_apps: set[str] = set()
        self._capacity_changed = False
        # Owned by the loop's thread.
        self._heap = FireHeap()
        self._waiting: set[str] = set()  # jobs waiting for resources: planned again when capacity frees
        self._conflicts: dict[str, int] = {}
        self._generation = -1  # the state generation the heap was built from
        self._housekept = 0.0
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self.cycles = 0
        state.subscribe(self._on_changes)

    # ---- events (any thread, never block) --------------------------------------------------------
    def wake(self, *_: Any) -> None:
        self._wake.set()

    def leadership(self, leader: bool) -> None:
        self._leader_since = time.monotonic() if leader else None
        self._generation = -1  # rebuild the heap from the state before planning as leader
        if not leader:
            self.state.disown_runtime()
        self._wake.set()

    def task_status(self, agent_id: str, status: StatusUpdate) -> None:
        self._reports.put((agent_id, status))
        self._wake.set()

    def agent_registered(self, agent_id: str, tasks: list[StatusUpdate]) -> None:
        self._gone_since.pop(agent_id, None)
        for status in tasks:
            self._reports.put((agent_id, status))
        self._registrations.put((agent_id, time.time(), {s.task_id for s in tasks}))
        with self._lock:
            self._capacity_changed = True
        self._wake.set()

    def agent_disconnected(self, agent_id: str) -> None:
        self._gone_since[agent_id] = time.monotonic()
        self._wake.set()

    def _on_changes(self, changes: list[Change], resynced: bool) -> None:
        """The state's listener (its thread): note which jobs need planning, then wake the loop."""
        with self._lock:
            for change in changes:
                collection, key = change.collection, change.key
                if collection in (JOBS, DISABLED_JOBS, FAILOVER):
                    self._dirty.add(key[0] if isinstance(key, tuple) else key)
                elif collection == READY:  # a trigger, a registration (this loop's own writes are not told)
                    self._dirty.add(key)
                elif collection == RUNNING and change.new is None:  # a run ended: room, next firing
                    self._dirty.add(key[0])
                    self._capacity_changed = True
                elif collection in (APPS, DISABLED_APPS):
                    self._dirty_apps.add(key)
        if changes or resynced:
            self._wake.set()

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            timeout = self.tick
            if self._leader_since is not None:
                try:
                    timeout = self.cycle()
                except FenceLost as exc:
                    log.warning("%s; stopping scheduling until leadership is settled", exc)
                    timeout = 0.5
                except (KazooException, StoreError) as exc:
                    log.warning("scheduling cycle failed (%s: %s); retrying", type(exc).__name__, exc)
                    timeout = 0.5
                except Exception:  # noqa: BLE001 - the loop must survive a bug in one cycle
                    log.exception("scheduling cycle failed")
                    timeout = 1.0
            self._wake.wait(max(timeout, 0.0))

    # ---- one cycle -------------------------------------------------------------------------------
    def cycle(self) -> float:
        """Run one cycle; return seconds until the next one is needed."""
        fence = self.fence()
        if fence is None:
            return self.tick
        if not self.state.synced:
            return 0.2  # the state is being (re)read: nothing is decided on a partial view
        if self.state.generation != self._generation:
            self._rebuild()
        self.cycles += 1
        now = self.clock()
        self.writes.new_round()
        # What the loop commits it applies to its state at once (see ClusterState.wrote): no waiting for
        # watches between the steps.
        self._apply_statuses(fence, now)
        self._expire_lost(fence, now)
        again = False
        jobs = self._take_work(now)
        if jobs:
            again = self._plan(fence, jobs, now)
        if time.monotonic() - self._housekept > HOUSEKEEPING_EVERY:
            self._housekeeping(fence, now)
        if again:
            return 0.0
        return self._next_wait()

    def _schedule(self, job: Job) -> cron.Schedule:
        return self._schedule_of(job.cron, job.timeZone)

    def _schedule_of(self, expression: str, zone: str) -> cron.Schedule:
        key = (expression, zone)
        schedule = self._schedules.get(key)
        if schedule is None:
            schedule = cron.parse(expression, cron.Dialect.QUARTZ, zone)
            self._schedules[key] = schedule
        return schedule

    def _rebuild(self) -> None:
        """Every job's next instant from its stored cron cursor; every job with something pending is dirty.

        The previous leader's last writes are in the state first (its session ended before this master
        could lead, and ZooKeeper told this master of them before that), then this master owns the
        records only a leader writes: it applies its own writes to them from now on."""
        started = time.monotonic()
        self.state.barrier()
        self.state.own_runtime()
        generation = self.state.generation
        now = self.clock()
        self._heap.clear()
        self._waiting.clear()
        self._conflicts.clear()
        dirty: set[str] = set()
        for name in self.state.job_names():
            record = self.state.job_record(name)
            if record is None or record.error is not None:
                continue
            if record.daemon:
                dirty.add(name)
                continue
            stored = self.state.queue(name)
            if stored is not None and stored[0].firings:
                dirty.add(name)
            cursor = stored[0].cursor if stored is not None else None
            try:
                upcoming = self._schedule_of(record.cron, record.time_zone).next_fire(cursor or now)
            except cron.CronError as exc:
                log.error("job %s: %s", name, exc)
                continue
            if upcoming is not None:
                upcoming -= self.ahead
                if upcoming <= now:
                    dirty.add(name)
            self._heap.set(name, upcoming)
        dirty.update(self.state.mirror.parents(RUNNING))
        dirty.update(self.state.failover_jobs())
        with self._lock:
            self._dirty |= dirty
            self._capacity_changed = True
        self._generation = generation
        log.info(
            "scheduler state rebuilt in %.2fs: %d job(s) timed, %d to plan now",
            time.monotonic() - started,
            len(self._heap),
            len(dirty),
        )

    def _take_work(self, now: dt.datetime) -> list[str]:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            apps, self._dirty_apps = self._dirty_apps, set()
            capacity, self._capacity_changed = self._capacity_changed, False
        for app in apps:
            dirty.update(self.state.jobs_of_app(app))
        if capacity:
            dirty |= self._waiting
        due = self._heap.pop_due(now)
        jobs = due + sorted(dirty.difference(due))
        if len(jobs) > MAX_JOBS_PER_CYCLE:
            with self._lock:
                self._dirty.update(jobs[MAX_JOBS_PER_CYCLE:])
            jobs = jobs[:MAX_JOBS_PER_CYCLE]
        return jobs

    def _next_wait(self) -> float:
        wait = self.tick
        upcoming = self._heap.peek()
        if upcoming is not None:
            wait = min(wait, (upcoming - self.clock()).total_seconds())
        gone = list(self._gone_since.values())  # copied: gRPC threads change it
        if gone:  # wake when an absent agent's grace period runs out
            wait = min(wait, max(min(gone) + self.agent_grace - time.monotonic(), 0.05))
        return wait

    # ---- planning ----------------------------------------------------------------------------------
    def _plan(self, fence: Fence, jobs: list[str], now: dt.datetime) -> bool:
        """Plan ``jobs`` and apply the plan; True if some of them must be planned again at once."""
        snapshot = snapshot_of(self.state, jobs, self.agents.agents())
        plan = plan_cycle(snapshot, now, self._schedule, self.scorer, ahead=self.ahead)
        groups = self._groups(plan)
        outcome = self.applier.commit(fence, list(groups.values()))
        committed = set(outcome.committed)
        self._record_missed(plan, committed)
        for kill in plan.kills:
            self.agents.send(
                kill.agent_id, pb.MasterMessage(kill=pb.Kill(task_id=kill.task_id, reason=kill.reason))
            )
        new_queues = {w.job_name: w.queue for w in plan.queue_writes}
        for name in jobs:
            if name in outcome.failed:
                self._conflict(name, now)
                continue
            self._conflicts.pop(name, None)
            job = snapshot.jobs.get(name)
            if job is None or job.jobExecutionType is JobExecutionType.DAEMON:
                self._heap.discard(name)
                self._waiting.discard(name)
                continue
            stored = snapshot.queues.get(name)
            queue = new_queues.get(name) or (stored[0] if stored is not None else None)
            entries = snapshot.failover.get(name, ())
            self._time(job, queue, entries, now)
            waiting = bool(queue and queue.firings and queue.reason not in ("", WAITING_FOR_PREVIOUS))
            if waiting or any(e.reason and e.not_before <= now for e, _ in entries):
                self._waiting.add(name)
            else:
                self._waiting.discard(name)
        if plan.catching_up:
            with self._lock:
                self._dirty |= plan.catching_up - set(outcome.failed)
        return bool(plan.catching_up)

    def _groups(self, plan: CyclePlan) -> dict[str, Group]:
        groups: dict[str, Group] = {}

        def group(job: str) -> Group:
            if job not in groups:
                groups[job] = Group(job)
                version = plan.job_versions.get(job)
                if version is not None:
                    # Decided on this configuration: a job removed or changed meanwhile voids its writes.
                    groups[job].ops.append(self.writes.check_job(job, version))
            return groups[job]

        for write in plan.queue_writes:
            op = self.writes.write_queue(write.job_name, write.queue, write.version)
            group(write.job_name).ops.append(op)
        for job_name, item, version in plan.failover_deletes:
            group(job_name).ops.append(self.writes.delete_failover(job_name, item, version))
        for entry, version in plan.failover_writes:
            group(entry.job_name).ops.append(self.writes.set_failover(entry, version))
        for launch in plan.launches:
            target = group(launch.task.job_name)
            target.ops.extend(self.writes.create_running(launch.task))
            target.launches.append(launch)
        return groups

    def _time(
        self,
        job: Job,
        queue: ReadyQueue | None,
        failover: tuple[tuple[FailoverEntry, int], ...],
        now: dt.datetime,
    ) -> None:
        """Put the job's next instant on the heap: its next cron instant (less the launch lead), or a
        failover shard's backoff."""
        try:
            upcoming = self._schedule(job).next_fire((queue.cursor if queue else None) or now)
        except cron.CronError:
            upcoming = None
        if upcoming is not None:
            upcoming -= self.ahead
        for entry, _ in failover:
            if entry.not_before > now and (upcoming is None or entry.not_before < upcoming):
                upcoming = entry.not_before
        self._heap.set(job.jobName, upcoming)

    def _conflict(self, job: str, now: dt.datetime) -> None:
        """Decide ``job`` again shortly; after repeated conflicts, wait for the next change instead."""
        count = self._conflicts.get(job, 0)
        if count >= len(CONFLICT_BACKOFF):
            log.warning("job %s: writes kept conflicting; waiting for its next change", job)
            self._conflicts.pop(job, None)
            self._heap.discard(job)
            return
        self._conflicts[job] = count + 1
        retry_at = now + dt.timedelta(seconds=CONFLICT_BACKOFF[count])
        current = self._heap.when(job)
        self._heap.set(job, retry_at if current is None else min(current, retry_at))

    def _record_missed(self, plan: CyclePlan, committed: set[str]) -> None:
        missed = [(job, firing, reason) for job, firing, reason in plan.missed if job in committed]
        if not missed:
            return
        now = self.clock()
        self.metrics.count("missed_firings", len(missed))
        for job_name, firing, reason in missed:
            log.info(
                "job %s firing %s (scheduled %s) MISSED: %s",
                job_name,
                firing.firing_id,
                firing.scheduled_at.isoformat(),
                reason,
            )
        self.applier.record_events(
            [ExecutionEvent.missed(job, f.firing_id, at=now, message=reason) for job, f, reason in missed]
        )

    # ---- statuses --------------------------------------------------------------------------------
    def _apply_statuses(self, fence: Fence, now: dt.datetime) -> bool:
        """Apply queued status reports; True if ZooKeeper changed."""
        reports: list[tuple[str, StatusUpdate]] = []
        while True:
            try:
                reports.append(self._reports.get_nowait())
            except queue.Empty:
                break
        if not reports:
            return False
        running: dict[str, tuple[RunningTask, int]] = {}
        job_names: set[str] = set()
        for _, status in reports:
            try:
                job_name = TaskId.parse(status.task_id).job_name
            except ValueError:
                continue
            job_names.add(job_name)
            found = self.state.running_task(job_name, status.task_id)
            if found is not None:
                running[status.task_id] = found
        plan = plan_statuses(reports, running, now, self._context(job_names))
        for agent_id, status in reports:
            if status.state.terminal and status.task_id not in running:
                log.info("agent %s reported %s %s, which the state does not hold: acknowledged",
                         agent_id, status.task_id, status.state.value)
        # One group per task: its update or end (with the failover entry that replaces it), an adoption
        # (with the failover entry it cancels), the removal of its tombstone.
        groups: dict[str, Group] = {}

        def group(key: str) -> Group:
            return groups.setdefault(key, Group(key))

        ends = {entry.original_task_id: entry for entry in plan.failover_creates}
        for task, version in plan.updates:
            group(task.task_id).ops.append(self.writes.set_running(task, version))
        for task, version in plan.deletes:
            group(task.task_id).ops.append(self.writes.delete_running(task, version))
            if task.task_id in ends:
                group(task.task_id).ops.extend(self.writes.create_failover(ends[task.task_id]))
        for task in plan.creates:
            group(task.task_id).ops.extend(self.writes.create_running(task))
        adopted_items = {(t.job_name, t.sharding_item): t.task_id for t in plan.creates}
        for job_name, item, version in plan.failover_deletes:
            key = adopted_items.get((job_name, item), f"{job_name}#{item}")
            group(key).ops.append(self.writes.delete_failover(job_name, item, version))
        for task_id in plan.tombstone_deletes:
            group(task_id).ops.append(self.writes.delete_tombstone(task_id))
        # An agent forgets a status once acknowledged, so the acknowledgement waits until the status is
        # both committed and in the history: a leader that dies in between leaves it to the next one.
        gate = _AckGate(self.agents, plan.acks)
        self.applier.record(plan.events, then=gate.recorded)
        outcome = self.applier.commit(fence, list(groups.values()))
        failed = set(outcome.failed)
        gate.committed(failed)
        if failed:
            # Those records changed under us: decide their reports again next cycle, on fresher state.
            for agent_id, status in reports:
                if status.task_id in failed:
                    self._reports.put((agent_id, status))
            self._wake.set()
        self._count_failovers([e for e in plan.failover_creates if e.original_task_id not in failed])
        adopted = [t for t in plan.creates if t.task_id not in failed]
        if adopted:
            self.metrics.count("reconciliations", len(adopted), action="adopt")
            for task in adopted:
                log.warning(
                    "adopted task %s of job %s shard %d reported by agent %s",
                    task.task_id,
                    task.job_name,
                    task.sharding_item,
                    task.agent_id,
                )
        for agent_id, task_id, reason in plan.kills:
            log.warning("killing task %s on agent %s: %s", task_id, agent_id, reason)
            self.metrics.count("reconciliations", 1, action="kill")
            self.agents.send(agent_id, pb.MasterMessage(kill=pb.Kill(task_id=task_id, reason=reason)))
        return bool(outcome.committed)

    def _context(self, job_names: set[str]) -> Context:
        jobs, apps, failover = {}, {}, {}
        for name in job_names:
            try:
                stored = self.state.job(name)
                app = self.state.app(stored.model.effective_app_name) if stored is not None else None
            except CorruptConfig:
                continue
            if stored is not None:
                jobs[name] = stored.model
                if app is not None:
                    apps[app.model.appName] = app.model
            entries = self.state.failover_of(name)
            if entries:
                failover[name] = tuple(entries)
        return Context(
            jobs=jobs,
            apps=apps,
            failover=failover,
            lost=frozenset(self.state.lost()),
            running_items=frozenset((t.job_name, t.sharding_item) for t in self.state.running()),
        )

    def _count_failovers(self, entries: list[FailoverEntry]) -> None:
        for entry in entries:
            kind = "failover" if entry.cause is FailoverCause.LOST else "retry"
            self.metrics.count("failovers", 1, cause=entry.cause.value)
            log.warning(
                "job %s shard %d queued for %s (attempt %d, firing %s, after task %s)",
                entry.job_name,
                entry.sharding_item,
                kind,
                entry.attempt,
                entry.firing_id,
                entry.original_task_id,
            )

    # ---- lost tasks --------------------------------------------------------------------------------
    def _expire_lost(self, fence: Fence, now: dt.datetime) -> bool:
        """Tasks whose agent is gone past the grace period, or that a re-registered agent did not report,
        become LOST: recorded, tombstoned (a stale copy that turns up is killed) and, per the job's
        policy, queued for failover — all in one transaction per task. True if any was."""
        registrations = []
        while True:
            try:
                registrations.append(self._registrations.get_nowait())
            except queue.Empty:
                break
        connected = set(self.agents.agents())
        tasks = self.state.running()
        lost: dict[str, tuple[RunningTask, str]] = {}
        for agent_id, registered_at, reported in registrations:
            for task in tasks:
                if (
                    task.agent_id == agent_id
                    and task.task_id not in reported
                    and task.launched_at.timestamp() < registered_at
                ):
                    lost[task.task_id] = (task, f"agent {agent_id} reconnected without this task")
        now_mono = time.monotonic()
        reference = self._leader_since or now_mono
        for task in tasks:
            if task.agent_id in connected or task.task_id in lost:
                continue
            gone_for = now_mono - self._gone_since.get(task.agent_id, reference)
            if gone_for >= self.agent_grace:
                lost[task.task_id] = (task, f"agent {task.agent_id} gone for {gone_for:.0f}s")
        # Absent agents past their grace period have been dealt with: stop waking up for them.
        for agent_id, since in list(self._gone_since.items()):
            if agent_id in connected or now_mono - since >= self.agent_grace:
                self._gone_since.pop(agent_id, None)
        if not lost:
            return False
        groups: list[Group] = []
        records: dict[str, Recorded] = {}
        entries: dict[str, FailoverEntry] = {}
        for task, reason in lost.values():
            found = self.state.running_task(task.job_name, task.task_id)
            version = found[1] if found is not None else -1
            group = Group(
                task.task_id,
                [self.writes.delete_running(task, version), self.writes.create_tombstone(task.task_id, now)],
            )
            try:
                stored = self.state.job(task.job_name)
            except CorruptConfig:
                stored = None
            entry = after_end(stored.model if stored else None, task, TaskState.LOST, "", now)
            if entry is not None and not any(
                e.sharding_item == entry.sharding_item for e, _ in self.state.failover_of(task.job_name)
            ):
                group.ops.extend(self.writes.create_failover(entry))
                entries[task.task_id] = entry
            groups.append(group)
            records[task.task_id] = Recorded(task, TaskState.LOST, None, reason, now, task.started_at, now)
            log.warning(
                "task %s of job %s shard %d is LOST: %s",
                task.task_id,
                task.job_name,
                task.sharding_item,
                reason,
            )
        outcome = self.applier.commit(fence, groups)
        committed = set(outcome.committed)
        self.applier.record([records[t] for t in committed])
        self.metrics.count("lost_tasks", len(committed))
        self._count_failovers([entries[t] for t in committed if t in entries])
        return bool(committed)

    # ---- housekeeping --------------------------------------------------------------------------------
    def _housekeeping(self, fence: Fence, now: dt.datetime) -> None:
        """Remove parents left without children, and tombstones older than a day (a stale copy that
        reports later than that is adopted or killed by the other rules: its job gone, its shard running
        elsewhere)."""
        self._housekept = time.monotonic()
        groups = [Group(f"parent-{i}", [op]) for i, op in enumerate(self.writes.empty_parents())]
        old = [task_id for task_id, at in self.state.lost().items() if at < now - TOMBSTONE_TTL]
        groups += [Group(task_id, [self.writes.delete_tombstone(task_id)]) for task_id in old]
        if groups:
            self.applier.commit(fence, groups)


class _AckGate:
    """Sends the acknowledgements of a batch of statuses once they are committed (but for the failed ones)
    and recorded, whichever comes last (the recorder calls back from its own thread)."""

    def __init__(self, agents: AgentPort, acks: dict[str, list[str]]) -> None:
        self._agents = agents
        self._acks = acks
        self._lock = threading.Lock()
        self._failed: set[str] | None = None
        self._recorded = False

    def recorded(self) -> None:
        with self._lock:
            self._recorded = True
            ready = self._failed is not None
        if ready:
            self._send()

    def committed(self, failed: set[str]) -> None:
        with self._lock:
            self._failed = failed
            ready = self._recorded
        if ready:
            self._send()

    def _send(self) -> None:
        failed = self._failed or set()
        for agent_id, task_ids in self._acks.items():
            acked = [t for t in task_ids if t not in failed]
            if acked:
                self._agents.send(agent_id, pb.MasterMessage(ack=pb.Acknowledge(task_ids=acked)))
