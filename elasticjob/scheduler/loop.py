"""The leader's scheduling loop: it plans what is due and what changed, from the master's in-memory state.

Inputs, and nothing else: a heap of every job's next instant (cron, a failover shard's backoff, a retry
after a conflict), the set of jobs whose state changed (told by the ``ClusterState`` listener: a job
registered, changed, disabled or removed through any master or directly in ZooKeeper, a manual trigger, a
run that ended, a failover entry), the agents' status reports, and agents joining or leaving. A cycle
records the statuses and expires tasks of agents gone past the grace period (``reports.Reports``), then
cuts a snapshot of just
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
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import KazooException

from elasticjob import cron, placement
from elasticjob.model import Job, JobExecutionType
from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.failover import FailoverEntry
from elasticjob.model.queue import ReadyQueue, cron_lateness
from elasticjob.protocol.convert import StatusUpdate, kill_message
from elasticjob.registry import Fence, JsonStore, StoreError
from elasticjob.registry.state import (
    APPS,
    DISABLED_APPS,
    DISABLED_JOBS,
    FAILOVER,
    JOBS,
    READY,
    RUNNING,
    STOPS,
    ClusterState,
)
from elasticjob.registry.tables import Change
from elasticjob.scheduler.apply import Applier, FenceLost, Group
from elasticjob.scheduler.cycle import REPLACING_PREVIOUS, WAITING_FOR_PREVIOUS, CyclePlan, plan_cycle
from elasticjob.scheduler.ports import AgentPort, EventSink, NoMetrics, NoticeSink, SchedulerMetrics
from elasticjob.scheduler.reports import Reports
from elasticjob.scheduler.run_notices import RunNotices
from elasticjob.scheduler.timers import FireHeap
from elasticjob.scheduler.view import snapshot_of
from elasticjob.scheduler.writes import Writes

log = logging.getLogger(__name__)

# Reasons a firing waits that are not a shortage of resources (no point replanning it when room appears).
PREVIOUS_RUN_REASONS = ("", WAITING_FOR_PREVIOUS, REPLACING_PREVIOUS)

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
        fence_lost: Callable[[], None] = lambda: None,
        notices: NoticeSink | None = None,
    ) -> None:
        """``fence()`` is the fence of this master's writes (None: not the leader); ``fence_lost()`` is
        called when a transaction failed its fence check (a cached fence is then read again);
        ``notices`` is told of runs of jobs with webhooks that started or ended (``run_notices``)."""
        self.store = store
        self.fence_lost = fence_lost
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
            store, agents, events, wrote=state.wrote, refresh=state.refresh, stamp=state.layout.stamp,
            expect=state.expect, runs=RunNotices(state, notices),
        )
        self.writes = Writes(self.layout, state)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.reports = Reports(state, self.writes, self.applier, agents, self.metrics, agent_grace, self.wake)
        self._leader_since: float | None = None
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
        self.reports.queue.put((agent_id, status))
        self._wake.set()

    def agent_registered(self, agent_id: str, tasks: list[StatusUpdate], incarnation: str = "") -> None:
        self.reports.gone_since.pop(agent_id, None)
        for status in tasks:
            self.reports.queue.put((agent_id, status))
        self.reports.registrations.put((agent_id, time.time(), {s.task_id for s in tasks}, incarnation))
        with self._lock:
            self._capacity_changed = True
        self._wake.set()

    def agent_disconnected(self, agent_id: str) -> None:
        self.reports.gone_since[agent_id] = time.monotonic()
        self._wake.set()

    def capacity_changed(self) -> None:
        """New resources (e.g. Mesos offers) without an agent registering: replan jobs waiting for room."""
        with self._lock:
            self._capacity_changed = True
        self._wake.set()

    def _on_changes(self, changes: list[Change], resynced: bool) -> None:
        """The state's listener (its thread): note which jobs need planning, then wake the loop. A full
        re-read is not gone through change by change: the loop rebuilds from the state (``_rebuild``)."""
        if resynced:
            self._wake.set()
            return
        with self._lock:
            for change in changes:
                collection, key = change.collection, change.key
                if collection in (JOBS, DISABLED_JOBS, FAILOVER, STOPS):
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
                    self.fence_lost()
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
            self.metrics.level("waiting_jobs", 0)  # the leader's count: none here
            return self.tick
        if not self.state.synced:
            return 0.2  # the state is being (re)read: nothing is decided on a partial view
        if self.state.generation != self._generation:
            self._rebuild()
        self.cycles += 1
        try:
            return self._cycle(fence)
        finally:
            # Behind every event this cycle recorded: the history builds payloads from the runs as recorded.
            if self.applier.runs is not None:
                self.applier.runs.flush()

    def _cycle(self, fence: Fence) -> float:
        now = self.clock()
        started = time.monotonic()
        self.writes.new_round()
        # What the loop commits it applies to its state at once (see ClusterState.wrote): no waiting for
        # watches between the steps.
        worked = self.reports.apply_statuses(fence, now)
        self.reports.expire_lost(fence, now, self._leader_since)
        again = False
        jobs = self._take_work(now)
        if jobs:
            again = self._plan(fence, jobs, now)
            self.metrics.level("waiting_jobs", len(self._waiting))
        if time.monotonic() - self._housekept > HOUSEKEEPING_EVERY:
            self._housekeeping(fence, now)
            worked = True
        if worked or jobs:
            self.metrics.observe("cycle_seconds", time.monotonic() - started)
        if again:
            return 0.0
        return self._next_wait()

    def _schedule(self, job: Job) -> cron.Schedule:
        return cron.parse_cached(job.cron, job.cron_dialect, job.timeZone)

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
                schedule = cron.parse_cached(record.cron, record.cron_dialect, record.time_zone)
                upcoming = schedule.next_fire(cursor or now)
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
        gone = list(self.reports.gone_since.values())  # copied: gRPC threads change it
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
        for launch in plan.launches:
            task = launch.task
            if task.attempt == 0 and task.job_name in committed:
                late = cron_lateness(task.firing_id, now)
                if late is not None:
                    self.metrics.observe("launch_lateness_seconds", late)
        self._record_missed(plan, committed)
        for kill in plan.kills:
            self.agents.send(kill.agent_id, kill_message(kill.task_id, kill.reason, kill.grace_seconds))
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
            waiting = bool(queue and queue.firings and queue.reason not in PREVIOUS_RUN_REASONS)
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
        for job_name, key, version in plan.failover_deletes:
            group(job_name).ops.append(self.writes.delete_failover(job_name, key, version))
        for entry, version in plan.failover_writes:
            group(entry.job_name).ops.append(self.writes.set_failover(entry, version))
        for job_name, firing_id, version in plan.stop_deletes:
            group(job_name).ops.append(self.writes.delete_stop(job_name, firing_id, version))
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
        if self.applier.runs is not None:
            for job_name, firing, _reason in missed:
                self.applier.runs.ended(job_name, [firing.firing_id])

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
