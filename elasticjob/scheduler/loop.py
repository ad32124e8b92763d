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
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate, spec_to_proto
from elasticjob.registry import Fence, JsonStore, Layout, StoreError, Transaction
from elasticjob.scheduler.cycle import CyclePlan, TaskLaunch, plan_cycle
from elasticjob.scheduler.ports import AgentPort, EventSink, TaskEvent
from elasticjob.scheduler.reader import read_running, read_snapshot
from elasticjob.scheduler.snapshot import RunningTask, Snapshot
from elasticjob.scheduler.statuses import Recorded, StatusPlan, plan_statuses

log = logging.getLogger(__name__)

MAX_OPS_PER_TRANSACTION = 500


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
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._reports: queue.Queue[tuple[str, StatusUpdate]] = queue.Queue()
        self._registrations: queue.Queue[tuple[str, float, set[str]]] = queue.Queue()
        self._gone_since: dict[str, float] = {}
        self._leader_since: float | None = None
        self._schedules: dict[tuple[str, str], cron.Schedule] = {}
        self._running_parents: set[str] = set()
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
        self._apply_statuses(fence, now)
        snapshot = read_snapshot(self.store, self.layout, self.agents.agents())
        self._expire_lost(fence, snapshot, now)
        snapshot = read_snapshot(self.store, self.layout, self.agents.agents()) if self._expired else snapshot
        plan = plan_cycle(snapshot, now, self._schedule, self.scorer)
        for job_name, count in plan.collapsed.items():
            log.info("job %s: %d missed firing(s) collapsed (misfire policy)", job_name, count)
        complete = self._commit(fence, plan, now)
        for kill in plan.kills:
            self.agents.send(
                kill.agent_id, pb.MasterMessage(kill=pb.Kill(task_id=kill.task_id, reason=kill.reason))
            )
        if not complete or plan.catching_up:
            return 0.0  # something changed under us, or cron catch-up continues: plan again at once
        wait = self.tick
        if plan.next_wake is not None:
            wait = min(wait, (plan.next_wake - self.clock()).total_seconds())
        return wait

    def _schedule(self, job: Job) -> cron.Schedule:
        key = (job.cron, job.timeZone)
        if key not in self._schedules:
            self._schedules[key] = cron.parse(job.cron, cron.Dialect.QUARTZ, job.timeZone)
        return self._schedules[key]

    # ---- statuses --------------------------------------------------------------------------------
    def _apply_statuses(self, fence: Fence, now: dt.datetime) -> None:
        reports: list[tuple[str, StatusUpdate]] = []
        while True:
            try:
                reports.append(self._reports.get_nowait())
            except queue.Empty:
                break
        if not reports:
            return
        running = read_running(self.store, self.layout, [s.task_id for _, s in reports])
        plan = plan_statuses(reports, running, now)
        try:
            self._commit_statuses(fence, plan)
        except StoreError:
            for report in reports:  # the znodes changed under us: decide again next cycle
                self._reports.put(report)
            raise
        self._record(plan.events)
        for agent_id, task_ids in plan.acks.items():
            self.agents.send(agent_id, pb.MasterMessage(ack=pb.Acknowledge(task_ids=task_ids)))
        for agent_id, task_id, reason in plan.kills:
            log.warning("agent %s runs unknown task %s: killing it", agent_id, task_id)
            self.agents.send(agent_id, pb.MasterMessage(kill=pb.Kill(task_id=task_id, reason=reason)))

    def _commit_statuses(self, fence: Fence, plan: StatusPlan) -> None:
        txn = self._fenced(fence)
        for task, version in plan.updates:
            txn.set(self.layout.running_task(task.job_name, task.task_id), task.to_json(), version=version)
            if len(txn) >= MAX_OPS_PER_TRANSACTION:
                txn.commit()
                txn = self._fenced(fence)
        for task, version in plan.deletes:
            txn.delete(self.layout.running_task(task.job_name, task.task_id), version=version)
            if len(txn) >= MAX_OPS_PER_TRANSACTION:
                txn.commit()
                txn = self._fenced(fence)
        if len(txn) > 1:
            txn.commit()

    # ---- lost tasks --------------------------------------------------------------------------------
    _expired = False

    def _expire_lost(self, fence: Fence, snapshot: Snapshot, now: dt.datetime) -> None:
        """Tasks whose agent is gone past the grace period, or that a re-registered agent did not report."""
        self._expired = False
        connected = set(snapshot.agents)
        lost: list[tuple[RunningTask, str]] = []
        registrations = []
        while True:
            try:
                registrations.append(self._registrations.get_nowait())
            except queue.Empty:
                break
        for agent_id, registered_at, reported in registrations:
            for task in snapshot.tasks_on(agent_id):
                if task.task_id not in reported and task.launched_at.timestamp() < registered_at:
                    lost.append((task, f"agent {agent_id} reconnected without this task"))
        reference = self._leader_since or time.monotonic()
        for tasks in snapshot.running.values():
            for task in tasks:
                if task.agent_id in connected:
                    continue
                gone_for = time.monotonic() - self._gone_since.get(task.agent_id, reference)
                if gone_for >= self.agent_grace:
                    lost.append((task, f"agent {task.agent_id} gone for {gone_for:.0f}s"))
        if not lost:
            return
        seen: set[str] = set()
        txn = self._fenced(fence)
        events = []
        for task, reason in lost:
            if task.task_id in seen:
                continue
            seen.add(task.task_id)
            txn.delete(self.layout.running_task(task.job_name, task.task_id))
            events.append(Recorded(task, TaskState.LOST, None, reason, now, task.started_at, now))
            log.warning(
                "task %s of job %s shard %d is LOST: %s",
                task.task_id,
                task.job_name,
                task.sharding_item,
                reason,
            )
        txn.commit()
        self._record(events)
        self._expired = True

    # ---- applying a plan -------------------------------------------------------------------------
    def _fenced(self, fence: Fence) -> Transaction:
        return self.store.transaction().check(fence.path, fence.version)

    def _commit(self, fence: Fence, plan: CyclePlan, now: dt.datetime) -> bool:
        """Commit queue writes and running znodes job by job (batched); then send those launches.

        Returns False if a transaction failed (a concurrent change): what committed before is launched.
        """
        launches_by_job: dict[str, list[TaskLaunch]] = defaultdict(list)
        for launch in plan.launches:
            launches_by_job[launch.task.job_name].append(launch)
        for job_name in launches_by_job:
            if job_name not in self._running_parents:
                self.store.client.ensure_path(self.layout.running(job_name))
                self._running_parents.add(job_name)
        writes = {write.job_name: write for write in plan.queue_writes}
        txn = self._fenced(fence)
        pending: list[TaskLaunch] = []
        complete = True
        for job_name in sorted(writes.keys() | launches_by_job.keys()):
            write, launches = writes.get(job_name), launches_by_job.get(job_name, [])
            if len(txn) + 2 + len(launches) > MAX_OPS_PER_TRANSACTION and len(txn) > 1:
                if not self._try_commit(txn, pending):
                    complete = False
                    break
                txn, pending = self._fenced(fence), []
            job_version = plan.job_versions.get(job_name)
            if job_version is not None:
                # Decided on this configuration: a job removed or changed meanwhile voids the writes.
                txn.check(self.layout.job(job_name), job_version)
            if write is not None:
                path = self.layout.ready(job_name)
                if write.version is None:
                    txn.create(path, write.queue.to_json())
                else:
                    txn.set(path, write.queue.to_json(), version=write.version)
            for launch in launches:
                txn.create(self.layout.running_task(job_name, launch.task.task_id), launch.task.to_json())
                pending.append(launch)
        if complete and len(txn) > 1 and not self._try_commit(txn, pending):
            complete = False
        return complete

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
                    TaskEvent(
                        task_id=r.task.task_id,
                        job_name=r.task.job_name,
                        sharding_item=r.task.sharding_item,
                        firing_id=r.task.firing_id,
                        state=r.state.value,
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
