"""The scheduler's ZooKeeper writes, as ``Write``s (where each record lives: ``Layout``).

Each ``Write`` names the record of the master's state it changes, so that once its transaction committed
the leader applies it to its own state instead of reading it back (see ``ClusterState.wrote``).

The parent znodes ``/state/running/{job}`` and ``/state/failover/{job}`` exist only while they have
children: the first child's transaction creates its parent, and ``empty_parents`` lists those to remove.
Whether a parent exists is read from the in-memory state; a stale answer makes the transaction fail on
that job alone, which is then decided again on fresher state.
"""

from __future__ import annotations

import datetime as dt

from elasticjob.model.failover import FailoverEntry
from elasticjob.model.queue import ReadyQueue, iso
from elasticjob.model.running import RunningTask
from elasticjob.registry import Layout
from elasticjob.registry.state import FAILOVER, LOST, READY, RUNNING, STOPS, ClusterState
from elasticjob.registry.store import Write


class Writes:
    """Builds writes; ``new_round()`` before each set of transactions decided together."""

    def __init__(self, layout: Layout, state: ClusterState) -> None:
        self.layout = layout
        self.state = state
        self._creating: set[str] = set()  # parents already created by a write of this round

    def new_round(self) -> None:
        self._creating.clear()

    def check_job(self, job: str, version: int) -> Write:
        return Write("check", self.layout.job(job), version=version)

    def write_queue(self, job: str, queue: ReadyQueue, version: int | None) -> Write:
        path, value = self.layout.ready(job), queue.to_json()
        if version is None:
            return Write("create", path, value, collection=READY, key=job, obj=queue)
        return Write("set", path, value, version, collection=READY, key=job, obj=queue)

    def create_running(self, task: RunningTask) -> list[Write]:
        path = self.layout.running_task(task.job_name, task.task_id)
        created = Write("create", path, task.to_json(), collection=RUNNING, key=(task.job_name, task.task_id),
                        obj=task)
        return [*self._parent(RUNNING, task.job_name), created]

    def set_running(self, task: RunningTask, version: int) -> Write:
        path = self.layout.running_task(task.job_name, task.task_id)
        key = (task.job_name, task.task_id)
        return Write("set", path, task.to_json(), version, collection=RUNNING, key=key, obj=task)

    def delete_running(self, task: RunningTask, version: int) -> Write:
        path = self.layout.running_task(task.job_name, task.task_id)
        return Write("delete", path, version=version, collection=RUNNING, key=(task.job_name, task.task_id))

    def create_failover(self, entry: FailoverEntry) -> list[Write]:
        path = self.layout.failover_item(entry.job_name, entry.key)
        created = Write("create", path, entry.to_json(), collection=FAILOVER,
                        key=(entry.job_name, entry.key), obj=entry)
        return [*self._parent(FAILOVER, entry.job_name), created]

    def set_failover(self, entry: FailoverEntry, version: int) -> Write:
        path = self.layout.failover_item(entry.job_name, entry.key)
        return Write("set", path, entry.to_json(), version, collection=FAILOVER,
                     key=(entry.job_name, entry.key), obj=entry)

    def delete_failover(self, job: str, key: str, version: int) -> Write:
        """Delete the failover entry ``key`` (``FailoverEntry.key``) of ``job``."""
        return Write("delete", self.layout.failover_item(job, key), version=version, collection=FAILOVER,
                     key=(job, key))

    def create_tombstone(self, task_id: str, now: dt.datetime) -> Write:
        return Write("create", self.layout.lost(task_id), {"lostAt": iso(now)}, collection=LOST, key=task_id,
                     obj=now)

    def delete_tombstone(self, task_id: str) -> Write:
        return Write("delete", self.layout.lost(task_id), collection=LOST, key=task_id)

    def delete_stop(self, job: str, firing_id: str, version: int) -> Write:
        return Write("delete", self.layout.stop(job, firing_id), version=version, collection=STOPS,
                     key=(job, firing_id))

    def empty_parents(self) -> list[Write]:
        """Deletions of the running, failover and stop parents that have no children (left by ended runs
        and done stops)."""
        writes: list[Write] = []
        parents = (
            (RUNNING, self.layout.running), (FAILOVER, self.layout.failover), (STOPS, self.layout.stops)
        )
        for collection, parent_of in parents:
            for job in self.state.mirror.parents(collection, empty=True):
                writes.append(Write("delete", parent_of(job), collection=collection, key=job, parent=True))
        return writes

    def _parent(self, collection: str, job: str) -> list[Write]:
        path = self.layout.running(job) if collection == RUNNING else self.layout.failover(job)
        if path in self._creating or self.state.mirror.has_parent(collection, job):
            return []
        self._creating.add(path)
        return [Write("create", path, collection=collection, key=job, parent=True)]
