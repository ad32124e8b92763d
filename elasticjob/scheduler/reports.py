"""What agents tell the leader, decided and applied: task statuses (with reconciliation) and agents gone
past their grace period (their tasks become LOST). The decisions are the pure ``statuses.plan_statuses``
and ``failover.after_end``; this applies them through the ``Applier``.

Used by the scheduler's thread alone, but for the queues and ``gone_since``, which gRPC threads feed.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable

from elasticjob.model import NOT_STARTED, TaskId, TaskState
from elasticjob.model.failover import FailoverCause, FailoverEntry, item_of_key
from elasticjob.model.queue import cron_lateness
from elasticjob.model.running import RunningTask
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.registry import Fence
from elasticjob.registry.state import ClusterState, CorruptConfig
from elasticjob.scheduler.apply import Applier, Group
from elasticjob.scheduler.failover import after_end
from elasticjob.scheduler.ports import AgentPort, SchedulerMetrics
from elasticjob.scheduler.statuses import Context, Recorded, plan_statuses
from elasticjob.scheduler.writes import Writes

log = logging.getLogger(__name__)


class Reports:
    """``queue``: (agent, status) reports to decide; ``registrations``: (agent, when, task ids it reported,
    its incarnation) of agents that (re)connected; ``gone_since``: agent -> when its stream ended.
    ``wake`` asks the loop for another cycle (some reports must be decided again)."""

    def __init__(
        self,
        state: ClusterState,
        writes: Writes,
        applier: Applier,
        agents: AgentPort,
        metrics: SchedulerMetrics,
        agent_grace: float,
        wake: Callable[[], None],
    ) -> None:
        self.state = state
        self.writes = writes
        self.applier = applier
        self.agents = agents
        self.metrics = metrics
        self.agent_grace = agent_grace
        self.wake = wake
        self.queue: queue.Queue[tuple[str, StatusUpdate]] = queue.Queue()
        self.registrations: queue.Queue[tuple[str, float, set[str], str]] = queue.Queue()
        self.gone_since: dict[str, float] = {}

    def apply_statuses(self, fence: Fence, now: dt.datetime) -> bool:
        """Apply queued status reports; True if ZooKeeper changed."""
        reports: list[tuple[str, StatusUpdate]] = []
        while True:
            try:
                reports.append(self.queue.get_nowait())
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
        # A pending entry an adoption cancels goes in the adopted task's transaction.
        adopting = {(t.job_name, t.sharding_item): t.task_id for t in plan.creates}
        for job_name, key, version in plan.failover_deletes:
            owner = adopting.get((job_name, item_of_key(key)), f"{job_name}#{key}")
            group(owner).ops.append(self.writes.delete_failover(job_name, key, version))
        for task_id in plan.tombstone_deletes:
            group(task_id).ops.append(self.writes.delete_tombstone(task_id))
        # An agent forgets a status once acknowledged, so the acknowledgement waits until the status is
        # both committed and in the history: a leader that dies in between leaves it to the next one.
        gate = _AckGate(self.agents, plan.acks)
        self.applier.record(plan.events, then=gate.recorded)
        outcome = self.applier.commit(fence, list(groups.values()))
        failed = set(outcome.failed)
        gate.committed(failed)
        for task, _ in plan.updates:
            before = running.get(task.task_id)
            if (task.attempt == 0 and task.started_at is not None and task.task_id not in failed
                    and before is not None and before[0].started_at is None):
                late = cron_lateness(task.firing_id, task.started_at)
                if late is not None:
                    self.metrics.observe("start_lateness_seconds", late)
        if failed:
            # Those records changed under us: decide their reports again next cycle, on fresher state.
            for agent_id, status in reports:
                if status.task_id in failed:
                    self.queue.put((agent_id, status))
            self.wake()
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
        running = self.state.running()
        return Context(
            jobs=jobs,
            apps=apps,
            failover=failover,
            lost=frozenset(self.state.lost()),
            running_items=frozenset((t.job_name, t.sharding_item) for t in running),
            running_firing_items=frozenset((t.job_name, t.sharding_item, t.firing_id) for t in running),
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

    def expire_lost(self, fence: Fence, now: dt.datetime, leader_since: float | None) -> bool:
        """Tasks whose agent is gone past the grace period, or that a re-registered agent did not report,
        become LOST: recorded, tombstoned (a stale copy that turns up is killed) and, per the job's
        policy, queued for failover — all in one transaction per task. True if any was.

        A task that the very agent process it was launched to (same incarnation) does not report when it
        reconnects never reached it (an agent keeps every task until its end is acknowledged): its launch
        was lost with the stream. Nothing of it ran, so its shard is queued again whatever the job's
        failover policy (reason ``NOT_STARTED``); if it turns up after all, the pending entry makes the
        reconciliation adopt it instead of running it twice."""
        registrations = []
        while True:
            try:
                registrations.append(self.registrations.get_nowait())
            except queue.Empty:
                break
        connected = set(self.agents.agents())
        tasks = self.state.running()
        lost: dict[str, tuple[RunningTask, str, str]] = {}  # task id -> task, message, reason
        for agent_id, registered_at, reported, incarnation in registrations:
            for task in tasks:
                if (
                    task.agent_id == agent_id
                    and task.task_id not in reported
                    and task.launched_at.timestamp() < registered_at
                ):
                    if incarnation and task.agent_incarnation == incarnation:
                        message = f"agent {agent_id} reconnected without this task: it never received it"
                        lost[task.task_id] = (task, message, NOT_STARTED)
                    else:
                        lost[task.task_id] = (task, f"agent {agent_id} reconnected without this task", "")
        now_mono = time.monotonic()
        reference = leader_since or now_mono
        for task in tasks:
            if task.agent_id in connected or task.task_id in lost:
                continue
            gone_for = now_mono - self.gone_since.get(task.agent_id, reference)
            if gone_for >= self.agent_grace:
                lost[task.task_id] = (task, f"agent {task.agent_id} gone for {gone_for:.0f}s", "")
        # Absent agents past their grace period have been dealt with: stop waking up for them.
        for agent_id, since in list(self.gone_since.items()):
            if agent_id in connected or now_mono - since >= self.agent_grace:
                self.gone_since.pop(agent_id, None)
        if not lost:
            return False
        groups: list[Group] = []
        records: dict[str, Recorded] = {}
        entries: dict[str, FailoverEntry] = {}
        for task, message, reason in lost.values():
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
            entry = after_end(stored.model if stored else None, task, TaskState.LOST, reason, now)
            if entry is not None and not any(
                e.key == entry.key for e, _ in self.state.failover_of(task.job_name)
            ):
                group.ops.extend(self.writes.create_failover(entry))
                entries[task.task_id] = entry
            groups.append(group)
            records[task.task_id] = Recorded(task, TaskState.LOST, None, message, now, task.started_at, now)
            log.warning(
                "task %s of job %s shard %d is LOST: %s",
                task.task_id,
                task.job_name,
                task.sharding_item,
                message,
            )
        outcome = self.applier.commit(fence, groups)
        committed = set(outcome.committed)
        self.applier.record([records[t] for t in committed])
        self.metrics.count("lost_tasks", len(committed))
        self._count_failovers([entries[t] for t in committed if t in entries])
        return bool(committed)


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
