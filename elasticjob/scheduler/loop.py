"""The leader's scheduling loop: event-driven, with a safety tick.

It wakes when the API changes something (a watch on ``/state/changes``), when an agent connects,
disconnects or reports a task status, when the next cron instant is due, and at least every ``tick``
seconds. Each cycle: record task statuses, expire tasks of agents gone longer than the grace period,
read a snapshot, ``plan_cycle`` it (pure), commit the plan in fenced multi-transactions, then send the
launches. Nothing is sent to an agent before ZooKeeper holds the ``/state/running`` znode of the task.

Runs on its own thread; the public methods are thread-safe and never block (they only enqueue and wake).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import KazooException

from elasticjob import cron, placement
from elasticjob.model import Job, TaskState
from elasticjob.model.execution import ExecutionEvent
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate, spec_to_proto
from elasticjob.registry import Fence, JsonStore, Layout, StoreError, Transaction
from elasticjob.scheduler.cycle import CyclePlan, TaskLaunch, plan_cycle
from elasticjob.scheduler.failover import FailoverCause, FailoverEntry, after_end
from elasticjob.scheduler.ports import AgentPort, EventSink, NoMetrics, SchedulerMetrics
from elasticjob.scheduler.queue import ReadyQueue, iso, parse_iso
from elasticjob.scheduler.reader import read_running, read_snapshot
from elasticjob.scheduler.snapshot import RunningTask, Snapshot
from elasticjob.scheduler.statuses import Context, Recorded, plan_statuses

log = logging.getLogger(__name__)

MAX_OPS_PER_TRANSACTION = 500
TOMBSTONE_TTL = dt.timedelta(days=1)
TOMBSTONE_SWEEP_EVERY = 500  # cycles

Op = Callable[[Transaction], object]


def _context(snapshot: Snapshot) -> Context:
    return Context(
        jobs=snapshot.jobs,
        apps=snapshot.apps,
        failover=snapshot.failover,
        lost=snapshot.lost,
        running_items=frozenset(
            (t.job_name, t.sharding_item) for ts in snapshot.running.values() for t in ts
        ),
    )


def _check_job(layout: Layout, job_name: str, version: int) -> Op:
    return lambda txn: txn.check(layout.job(job_name), version)


def _write_queue(layout: Layout, job_name: str, queue: ReadyQueue, version: int | None) -> Op:
    if version is None:
        return lambda txn: txn.create(layout.ready(job_name), queue.to_json())
    return lambda txn: txn.set(layout.ready(job_name), queue.to_json(), version=version)


def _create_running(layout: Layout, task: RunningTask) -> Op:
    return lambda txn: txn.create(layout.running_task(task.job_name, task.task_id), task.to_json())


def _set_running(layout: Layout, task: RunningTask, version: int) -> Op:
    return lambda txn: txn.set(
        layout.running_task(task.job_name, task.task_id), task.to_json(), version=version
    )


def _delete_running(layout: Layout, task: RunningTask, version: int) -> Op:
    return lambda txn: txn.delete(layout.running_task(task.job_name, task.task_id), version=version)


def _set_failover(layout: Layout, entry: FailoverEntry, version: int) -> Op:
    path = layout.failover_item(entry.job_name, entry.sharding_item)
    return lambda txn: txn.set(path, entry.to_json(), version=version)


def _delete_failover(layout: Layout, job_name: str, item: int, version: int) -> Op:
    return lambda txn: txn.delete(layout.failover_item(job_name, item), version=version)


def _create_tombstone(layout: Layout, task_id: str, now: dt.datetime) -> Op:
    return lambda txn: txn.create(layout.lost(task_id), {"lostAt": iso(now)})


def _delete_tombstone(layout: Layout, task_id: str) -> Op:
    return lambda txn: txn.delete(layout.lost(task_id))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    def __init__(
        self,
        store: JsonStore,
        layout: Layout,
        agents: AgentPort,
        events: EventSink,
        fence: Callable[[], Fence | None],
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        tick: float = 5.0,
        agent_grace: float = 15.0,
        scorer: placement.Scorer = placement.SPREAD,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self.store = store
        self.layout = layout
        self.agents = agents
        self.events = events
        self.fence = fence
        self.clock = clock
        self.tick = tick
        self.agent_grace = agent_grace
        self.scorer = scorer
        self.metrics = metrics or NoMetrics()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._reports: queue.Queue[tuple[str, StatusUpdate]] = queue.Queue()
        self._registrations: queue.Queue[tuple[str, float, set[str]]] = queue.Queue()
        self._gone_since: dict[str, float] = {}
        self._leader_since: float | None = None
        self._schedules: dict[tuple[str, str], cron.Schedule] = {}
        self._parents: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self.cycles = 0

    # ---- events (any thread, never block) --------------------------------------------------------
    def wake(self, *_: Any) -> None:
        self._wake.set()

    def leadership(self, leader: bool) -> None:
        self._leader_since = time.monotonic() if leader else None
        self._wake.set()

    def task_status(self, agent_id: str, status: StatusUpdate) -> None:
        self._reports.put((agent_id, status))
        self._wake.set()

    def agent_registered(self, agent_id: str, tasks: list[StatusUpdate]) -> None:
        self._gone_since.pop(agent_id, None)
        for status in tasks:
            self._reports.put((agent_id, status))
        self._registrations.put((agent_id, time.time(), {s.task_id for s in tasks}))
        self._wake.set()

    def agent_disconnected(self, agent_id: str) -> None:
        self._gone_since[agent_id] = time.monotonic()
        self._wake.set()

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.store.client.DataWatch(self.layout.changes, lambda *_: self._wake.set())
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
        self.cycles += 1
        now = self.clock()
        snapshot = read_snapshot(self.store, self.layout, self.agents.agents())
        changed = self._apply_statuses(fence, snapshot, now)
        if changed:
            snapshot = read_snapshot(self.store, self.layout, self.agents.agents())
        if self._expire_lost(fence, snapshot, now):
            snapshot = read_snapshot(self.store, self.layout, self.agents.agents())
        plan = plan_cycle(snapshot, now, self._schedule, self.scorer)
        complete = self._commit(fence, plan)
        self._record_missed(plan)
        for kill in plan.kills:
            self.agents.send(
                kill.agent_id, pb.MasterMessage(kill=pb.Kill(task_id=kill.task_id, reason=kill.reason))
            )
        if self.cycles % TOMBSTONE_SWEEP_EVERY == 0:
            self._sweep_tombstones(fence, now)
        if not complete or plan.catching_up:
            return 0.0  # something changed under us, or cron catch-up continues: plan again at once
        wait = self.tick
        if plan.next_wake is not None:
            wait = min(wait, (plan.next_wake - self.clock()).total_seconds())
        gone = list(self._gone_since.values())  # copied: gRPC threads change it
        if gone:  # wake when an absent agent's grace period runs out
            wait = min(wait, max(min(gone) + self.agent_grace - time.monotonic(), 0.05))
        return wait

    def _schedule(self, job: Job) -> cron.Schedule:
        key = (job.cron, job.timeZone)
        if key not in self._schedules:
            self._schedules[key] = cron.parse(job.cron, cron.Dialect.QUARTZ, job.timeZone)
        return self._schedules[key]

    # ---- statuses --------------------------------------------------------------------------------
    def _apply_statuses(self, fence: Fence, snapshot: Snapshot, now: dt.datetime) -> bool:
        """Apply queued status reports; True if ZooKeeper changed."""
        reports: list[tuple[str, StatusUpdate]] = []
        while True:
            try:
                reports.append(self._reports.get_nowait())
            except queue.Empty:
                break
        if not reports:
            return False
        running = read_running(self.store, self.layout, [s.task_id for _, s in reports])
        plan = plan_statuses(reports, running, now, _context(snapshot))
        groups: list[list[Op]] = []
        for task, version in plan.updates:
            groups.append([_set_running(self.layout, task, version)])
        ends = {entry.original_task_id: entry for entry in plan.failover_creates}
        for task, version in plan.deletes:
            # The end of a run and its failover entry commit together: the shard is never forgotten.
            group = [_delete_running(self.layout, task, version)]
            if task.task_id in ends:
                group.append(self._create_failover(ends[task.task_id]))
            groups.append(group)
        for task in plan.creates:
            self._ensure_parent(self.layout.running(task.job_name))
            groups.append([_create_running(self.layout, task)])
        for job_name, item, version in plan.failover_deletes:
            groups.append([_delete_failover(self.layout, job_name, item, version)])
        for task_id in plan.tombstone_deletes:
            groups.append([_delete_tombstone(self.layout, task_id)])
        try:
            self._commit_groups(fence, groups)
        except StoreError:
            for report in reports:  # the znodes changed under us: decide again next cycle
                self._reports.put(report)
            raise
        self._record(plan.events)
        self._count_failovers(plan.failover_creates)
        if plan.creates:
            self.metrics.count("reconciliations", len(plan.creates), action="adopt")
            for task in plan.creates:
                log.warning(
                    "adopted task %s of job %s shard %d reported by agent %s",
                    task.task_id,
                    task.job_name,
                    task.sharding_item,
                    task.agent_id,
                )
        for agent_id, task_ids in plan.acks.items():
            self.agents.send(agent_id, pb.MasterMessage(ack=pb.Acknowledge(task_ids=task_ids)))
        for agent_id, task_id, reason in plan.kills:
            log.warning("killing task %s on agent %s: %s", task_id, agent_id, reason)
            self.metrics.count("reconciliations", 1, action="kill")
            self.agents.send(agent_id, pb.MasterMessage(kill=pb.Kill(task_id=task_id, reason=reason)))
        return bool(groups)

    def _commit_groups(self, fence: Fence, groups: list[list[Op]]) -> None:
        """Commit operation groups in fenced multi-transactions; a group is never split."""
        txn = self._fenced(fence)
        for group in groups:
            if len(txn) > 1 and len(txn) + len(group) > MAX_OPS_PER_TRANSACTION:
                txn.commit()
                txn = self._fenced(fence)
            for op in group:
                op(txn)
        if len(txn) > 1:
            txn.commit()

    def _create_failover(self, entry: FailoverEntry) -> Op:
        self._ensure_parent(self.layout.failover(entry.job_name))
        path = self.layout.failover_item(entry.job_name, entry.sharding_item)
        return lambda txn: txn.create(path, entry.to_json())

    def _ensure_parent(self, path: str) -> None:
        if path not in self._parents:
            self.store.client.ensure_path(path)
            self._parents.add(path)

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
    def _expire_lost(self, fence: Fence, snapshot: Snapshot, now: dt.datetime) -> bool:
        """Tasks whose agent is gone past the grace period, or that a re-registered agent did not report,
        become LOST: recorded, tombstoned (a stale copy that turns up is killed) and, per the job's
        policy, queued for failover — all in one transaction per task. True if any was."""
        connected = set(snapshot.agents)
        lost: dict[str, tuple[RunningTask, str]] = {}
        while True:
            try:
                agent_id, registered_at, reported = self._registrations.get_nowait()
            except queue.Empty:
                break
            for task in snapshot.tasks_on(agent_id):
                if task.task_id not in reported and task.launched_at.timestamp() < registered_at:
                    lost[task.task_id] = (task, f"agent {agent_id} reconnected without this task")
        now_mono = time.monotonic()
        reference = self._leader_since or now_mono
        for tasks in snapshot.running.values():
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
        groups: list[list[Op]] = []
        events: list[Recorded] = []
        entries: list[FailoverEntry] = []
        for task, reason in lost.values():
            group = [
                _delete_running(self.layout, task, -1),
                _create_tombstone(self.layout, task.task_id, now),
            ]
            entry = after_end(snapshot.jobs.get(task.job_name), task, TaskState.LOST, "", now)
            if entry is not None and not any(
                e.sharding_item == entry.sharding_item for e, _ in snapshot.failover.get(task.job_name, ())
            ):
                group.append(self._create_failover(entry))
                entries.append(entry)
            groups.append(group)
            events.append(Recorded(task, TaskState.LOST, None, reason, now, task.started_at, now))
            log.warning(
                "task %s of job %s shard %d is LOST: %s",
                task.task_id,
                task.job_name,
                task.sharding_item,
                reason,
            )
        self._commit_groups(fence, groups)
        self._record(events)
        self.metrics.count("lost_tasks", len(events))
        self._count_failovers(entries)
        return True

    def _sweep_tombstones(self, fence: Fence, now: dt.datetime) -> None:
        """Forget tombstones after a day: a stale copy that reports later than that is adopted or killed
        by the other rules (its job gone, its shard running elsewhere)."""
        old = [
            name
            for name, stored in self.store.get_all(self.layout.lost_root).items()
            if not isinstance(stored.value, dict)
            or parse_iso(stored.value.get("lostAt", "1970-01-01T00:00:00+00:00")) < now - TOMBSTONE_TTL
        ]
        self._commit_groups(fence, [[_delete_tombstone(self.layout, name)] for name in old])

    # ---- applying a plan -------------------------------------------------------------------------
    def _fenced(self, fence: Fence) -> Transaction:
        return self.store.transaction().check(fence.path, fence.version)

    def _commit(self, fence: Fence, plan: CyclePlan) -> bool:
        """Commit the plan job by job (a job's writes never split across transactions), then send the
        launches of each committed transaction.

        Returns False if a transaction failed (a concurrent change): what committed before is launched.
        """
        ops: dict[str, list[Op]] = defaultdict(list)
        launches_by_job: dict[str, list[TaskLaunch]] = defaultdict(list)
        for write in plan.queue_writes:
            ops[write.job_name].append(_write_queue(self.layout, write.job_name, write.queue, write.version))
        for job_name, item, version in plan.failover_deletes:
            ops[job_name].append(_delete_failover(self.layout, job_name, item, version))
        for entry, version in plan.failover_writes:
            ops[entry.job_name].append(_set_failover(self.layout, entry, version))
        for launch in plan.launches:
            self._ensure_parent(self.layout.running(launch.task.job_name))
            ops[launch.task.job_name].append(_create_running(self.layout, launch.task))
            launches_by_job[launch.task.job_name].append(launch)
        txn = self._fenced(fence)
        pending: list[TaskLaunch] = []
        for job_name in sorted(ops):
            group = ops[job_name]
            job_version = plan.job_versions.get(job_name)
            if job_version is not None:
                # Decided on this configuration: a job removed or changed meanwhile voids the writes.
                group.insert(0, _check_job(self.layout, job_name, job_version))
            if len(txn) > 1 and len(txn) + len(group) > MAX_OPS_PER_TRANSACTION:
                if not self._try_commit(txn, pending):
                    return False
                txn, pending = self._fenced(fence), []
            for op in group:
                op(txn)
            pending.extend(launches_by_job.get(job_name, ()))
        return len(txn) <= 1 or self._try_commit(txn, pending)

    def _record_missed(self, plan: CyclePlan) -> None:
        if not plan.missed:
            return
        now = self.clock()
        self.metrics.count("missed_firings", len(plan.missed))
        for job_name, firing, reason in plan.missed:
            log.info(
                "job %s firing %s (scheduled %s) MISSED: %s",
                job_name,
                firing.firing_id,
                firing.scheduled_at.isoformat(),
                reason,
            )
        try:
            self.events.record(
                [
                    ExecutionEvent.missed(job_name, firing.firing_id, at=now, message=reason)
                    for job_name, firing, reason in plan.missed
                ]
            )
        except Exception:  # noqa: BLE001 - history is best effort; ZooKeeper state is the truth
            log.exception("could not record %d missed firing(s)", len(plan.missed))

    def _try_commit(self, txn: Transaction, launches: list[TaskLaunch]) -> bool:
        try:
            txn.commit()
        except StoreError as exc:
            log.info("plan not applied (%s); re-planning", exc)
            return False
        self._launch(launches)
        return True

    def _launch(self, launches: list[TaskLaunch]) -> None:
        by_agent: dict[str, list[TaskLaunch]] = defaultdict(list)
        for launch in launches:
            by_agent[launch.task.agent_id].append(launch)
        for agent_id, batch in by_agent.items():
            message = pb.MasterMessage(launch=pb.Launch(tasks=[spec_to_proto(b.spec) for b in batch]))
            if not self.agents.send(agent_id, message):
                log.warning(
                    "agent %s disconnected before its launch was sent; its tasks will be LOST "
                    "after the grace period",
                    agent_id,
                )
        if launches:
            first = launches[0]
            log.info(
                "launched %d task(s), e.g. %s shard %d on %s",
                len(launches),
                first.task.job_name,
                first.task.sharding_item,
                first.task.agent_id,
            )
            self._record(
                [
                    Recorded(
                        launch.task, TaskState.STAGING, None, "launched", launch.task.launched_at, None, None
                    )
                    for launch in launches
                ]
            )

    def _record(self, records: list[Recorded]) -> None:
        if not records:
            return
        try:
            self.events.record(
                [
                    ExecutionEvent(
                        r.task.task_id,
                        r.task.job_name,
                        r.task.sharding_item,
                        r.task.firing_id,
                        r.state.value,
                        agent_id=r.task.agent_id,
                        hostname=r.task.hostname,
                        exit_code=r.exit_code,
                        message=r.message,
                        started_at=r.started_at,
                        finished_at=r.finished_at,
                        at=r.at,
                    )
                    for r in records
                ]
            )
        except Exception:  # noqa: BLE001 - history is best effort; ZooKeeper state is the truth
            log.exception("could not record %d execution event(s)", len(records))
