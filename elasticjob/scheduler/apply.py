"""Applying the scheduler's decisions: fenced ZooKeeper multi-transactions, then launches and history events.

Writes come in ``Group``s — the writes that belong together (one job's queue, failover entries and new
running tasks; the end of a run with its failover entry). A group is never split across transactions;
groups are packed into transactions of at most ``MAX_OPS_PER_TRANSACTION`` operations, each fenced by a
version check of the leader's election znode, so a master that lost its session cannot write.

When a transaction fails, ZooKeeper names the operation that failed: its group is dropped (its key goes
back to the caller, to be decided again on fresher state) and the rest is committed — one stale job never
voids the others. A failed fence check stops everything: this master is no longer the leader.

Nothing is sent to an agent before the transaction holding its task's running znode committed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticjob.model import TaskState
from elasticjob.model.execution import MISSED, ExecutionEvent
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import spec_to_proto
from elasticjob.registry import Fence, JsonStore, StoreError
from elasticjob.registry.store import Expect, PendingCommit, Write
from elasticjob.scheduler.cycle import TaskLaunch
from elasticjob.scheduler.ports import AgentPort, EventSink
from elasticjob.scheduler.run_notices import RunNotices
from elasticjob.scheduler.statuses import Recorded

log = logging.getLogger(__name__)

MAX_OPS_PER_TRANSACTION = 500

class FenceLost(StoreError):
    """The leader's election znode changed or vanished: this master must stop writing."""


@dataclass
class Group:
    """Writes that commit together or not at all; ``key`` names what to decide again if they fail."""

    key: str
    ops: list[Write] = field(default_factory=list)
    launches: list[TaskLaunch] = field(default_factory=list)


@dataclass
class Outcome:
    committed: list[str] = field(default_factory=list)  # group keys
    failed: dict[str, str] = field(default_factory=dict)  # group key -> why


class Applier:
    """``wrote(writes, results)`` is told what each committed transaction wrote, with kazoo's result of each
    write (the state applies them); ``stamp`` is set in every transaction for its id (see
    ``Transaction.stamp``); and
    ``refresh(paths)`` what a failed group was decided on (the state reads it again)."""

    def __init__(
        self,
        store: JsonStore,
        agents: AgentPort,
        events: EventSink,
        wrote: Callable[[list[Write], list[Any]], None] = lambda _writes, _results: None,
        refresh: Callable[[list[str]], None] = lambda _paths: None,
        stamp: str | None = None,
        expect: Expect | None = None,
        runs: RunNotices | None = None,
    ) -> None:
        self.store = store
        self.runs = runs  # told what each commit ended and each launch started (webhooks)
        self.agents = agents
        self.events = events
        self.wrote = wrote
        self.refresh = refresh
        self.stamp = stamp
        self.expect = expect

    def commit(self, fence: Fence, groups: Sequence[Group]) -> Outcome:
        """Commit every group that can be (see module doc), then send the launches of the committed ones.

        The transactions are sent one after the other without waiting for answers (ZooKeeper applies them
        in order), and the launches of all of them go out together, one message per agent: a burst of
        thousands of tasks costs one ZooKeeper round trip of waiting and one launch per agent, not one
        per transaction and agent. A transaction that failed is sent again without its failed group."""
        outcome = Outcome()
        launches: list[TaskLaunch] = []
        sent: list[tuple[list[Group], PendingCommit]] = []
        before = self.runs.before(op for g in groups for op in g.ops) if self.runs is not None else {}
        try:
            sent = [(batch, self._send(fence, batch)) for batch in _packed(groups)]
            for batch, pending in sent:
                launches.extend(self._settle(fence, batch, pending, outcome))
        finally:
            for _batch, pending in sent:
                pending.abandon()  # those whose answer was not read (the fence lost part-way)
            # Even when the fence is found lost part-way: what committed was decided by the leader.
            self.launch(launches)
            if before and self.runs is not None:
                self.runs.after(before)
        return outcome

    def _send(self, fence: Fence, batch: list[Group]) -> PendingCommit:
        txn = self.store.transaction().check(fence.path, fence.version)
        for group in batch:
            for op in group.ops:
                op(txn)
        if self.stamp is not None:
            txn.stamp(self.stamp)  # the transaction's id, to apply its creates and deletes in order
        return txn.commit_async(self.expect)

    def _settle(
        self, fence: Fence, batch: list[Group], pending: PendingCommit, outcome: Outcome
    ) -> list[TaskLaunch]:
        """Wait for ``pending`` (the transaction of ``batch``); while it fails on one group, drop that
        group and commit the rest again. Returns the launches of the groups that committed."""
        while batch:
            try:
                results = pending.result()
            except StoreError as exc:
                # The group of each operation, by position in the transaction (the fence check first).
                owner: list[Group | None] = [None] + [g for g in batch for _ in g.ops]
                if self.stamp is not None and exc.index == len(owner):
                    self.store.client.ensure_path(self.stamp)  # removed by hand: put it back
                    pending = self._send(fence, batch)
                    continue
                failed = _failed_group(owner, exc)
                if failed is None:
                    raise FenceLost(f"not the leader any more ({exc})", exc.path) from None
                log.info("writes of %s not applied (%s); deciding again", failed.key, exc)
                outcome.failed[failed.key] = str(exc)
                self.refresh([w.path for w in failed.ops])  # what it was decided on is read again
                batch = [g for g in batch if g is not failed]
                if batch:
                    pending = self._send(fence, batch)
                continue
            outcome.committed.extend(g.key for g in batch)
            self.wrote(pending.txn.writes[1:], results[1:])  # not the fence's
            return [launch for g in batch for launch in g.launches]
        return []

    def launch(self, launches: list[TaskLaunch]) -> None:
        """Send launches, one message per agent, and record them as STAGING."""
        if not launches:
            return
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
        if self.runs is not None:
            self.runs.launched(launch.task for launch in launches)
        first = launches[0]
        log.info(
            "launched %d task(s), e.g. %s shard %d on %s",
            len(launches),
            first.task.job_name,
            first.task.sharding_item,
            first.task.agent_id,
        )
        self.record(
            [
                Recorded(task, TaskState.STAGING, None, "launched", task.launched_at, None, None)
                for task in (launch.task for launch in launches)
            ]
        )

    def record(self, records: list[Recorded], then: Callable[[], None] | None = None) -> None:
        if not records and then is None:
            return
        try:
            self.events.record(
                [
                    ExecutionEvent(
                        r.task.task_id,
                        r.task.job_name,
                        r.task.sharding_item,
                        r.task.firing_id,
                        MISSED if r.missed else r.state.value,
                        agent_id=r.task.agent_id,
                        hostname=r.task.hostname,
                        ip=r.task.ip,
                        exit_code=r.exit_code,
                        message=r.message,
                        started_at=r.started_at,
                        finished_at=r.finished_at,
                        at=r.at,
                        run_overrides=r.task.overrides.to_json() if r.task.overrides else None,
                    )
                    for r in records
                ],
                then,
            )
        except Exception:  # noqa: BLE001 - history is best effort; ZooKeeper state is the truth
            log.exception("could not record %d execution event(s)", len(records))

    def record_events(self, events: list[ExecutionEvent]) -> None:
        if not events:
            return
        try:
            self.events.record(events)
        except Exception:  # noqa: BLE001 - history is best effort; ZooKeeper state is the truth
            log.exception("could not record %d execution event(s)", len(events))


def _packed(groups: Sequence[Group]) -> list[list[Group]]:
    """Groups packed in order into batches of at most ``MAX_OPS_PER_TRANSACTION`` operations (a group is
    never split; one larger than that is a batch of its own)."""
    batches: list[list[Group]] = []
    size = 0
    for group in groups:
        if not batches or (batches[-1] and size + len(group.ops) > MAX_OPS_PER_TRANSACTION):
            batches.append([])
            size = 0
        batches[-1].append(group)
        size += len(group.ops)
    return batches


def _failed_group(owner: list[Group | None], exc: StoreError) -> Group | None:
    """The group whose operation failed (None: the fence check, or a failure ZooKeeper did not place)."""
    if exc.index is None or not 0 <= exc.index < len(owner):
        return None
    return owner[exc.index]
