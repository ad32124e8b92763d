"""The scheduler's ZooKeeper writes as transaction operations (where each record lives: ``Layout``).

The parent znodes ``/state/running/{job}`` and ``/state/failover/{job}`` exist only while they have
children: the first child's transaction creates its parent, and ``empty_parents`` lists those to remove.
Whether a parent exists is read from the in-memory state; a stale answer makes the transaction fail on
that job alone, which is then decided again on fresher state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from elasticjob.model.failover import FailoverEntry
from elasticjob.model.queue import ReadyQueue, iso
from elasticjob.model.running import RunningTask
from elasticjob.registry import Layout, Transaction
from elasticjob.registry.state import FAILOVER, RUNNING, ClusterState

Op = Callable[[Transaction], object]


class Writes:
    """Builds operations; ``new_round()`` before each set of transactions decided together."""

    def __init__(self, layout: Layout, state: ClusterState) -> None:
        self.layout = layout
        self.state = state
        self._creating: set[str] = set()  # parents already created by an operation of this round

    def new_round(self) -> None:
        self._creating.clear()

    def check_job(self, job: str, version: int) -> Op:
        path = self.layout.job(job)
        return lambda txn: txn.check(path, version)

    def write_queue(self, job: str, queue: ReadyQueue, version: int | None) -> Op:
        path, value = self.layout.ready(job), queue.to_json()
        if version is None:
            return lambda txn: txn.create(path, value)
        return lambda txn: txn.set(path, value, version=version)

    def create_running(self, task: RunningTask) -> list[Op]:
        path, value = self.layout.running_task(task.job_name, task.task_id), task.to_json()
        return [*self._parent(RUNNING, task.job_name), lambda txn: txn.create(path, value)]

    def set_running(self, task: RunningTask, version: int) -> Op:
        path, value = self.layout.running_task(task.job_name, task.task_id), task.to_json()
        return lambda txn: txn.set(path, value, version=version)

    def delete_running(self, task: RunningTask, version: int) -> Op:
        path = self.layout.running_task(task.job_name, task.task_id)
        return lambda txn: txn.delete(path, version=version)

    def create_failover(self, entry: FailoverEntry) -> list[Op]:
        path, value = self.layout.failover_item(entry.job_name, entry.sharding_item), entry.to_json()
        return [*self._parent(FAILOVER, entry.job_name), lambda txn: txn.create(path, value)]

    def set_failover(self, entry: FailoverEntry, version: int) -> Op:
        path, value = self.layout.failover_item(entry.job_name, entry.sharding_item), entry.to_json()
        return lambda txn: txn.set(path, value, version=version)

    def delete_failover(self, job: str, item: int, version: int) -> Op:
        path = self.layout.failover_item(job, item)
        return lambda txn: txn.delete(path, version=version)

    def create_tombstone(self, task_id: str, now: dt.datetime) -> Op:
        path, value = self.layout.lost(task_id), {"lostAt": iso(now)}
        return lambda txn: txn.create(path, value)

    def delete_tombstone(self, task_id: str) -> Op:
        path = self.layout.lost(task_id)
        return lambda txn: txn.delete(path)

    def empty_parents(self) -> list[Op]:
        """Deletions of the running and failover parents that have no children (left by ended runs)."""
        ops: list[Op] = []
        for collection, parent_of in ((RUNNING, self.layout.running), (FAILOVER, self.layout.failover)):
            for job in self.state.mirror.parents(collection, empty=True):
                ops.append(_delete(parent_of(job)))
        return ops

    def _parent(self, collection: str, job: str) -> list[Op]:
        path = self.layout.running(job) if collection == RUNNING else self.layout.failover(job)
        if path in self._creating or self.state.mirror.has_parent(collection, job):
            return []
        self._creating.add(path)
        return [lambda txn: txn.create(path)]


def _delete(path: str) -> Op:
    return lambda txn: txn.delete(path)
