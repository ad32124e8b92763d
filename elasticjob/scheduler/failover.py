"""What happens to a shard whose run ended without finishing: fail over, retry, or give up. Pure.

- LOST (its agent died or forgot it) or FAILED for a reason outside the job's own code (fetch, sandbox,
  start): with ``failover=true`` the shard is queued in ``/state/failover/{job}/{item}`` and re-placed on
  any agent, keeping its sharding item and firing; without failover it is recorded and the next firing
  runs normally.
- FAILED by the job's own code (non-zero exit, memory limit): retried per shard, up to the job's
  ``shardRetryLimit``, after ``shardRetryBackoffSeconds`` doubling with each attempt. One bad shard uses
  only its own budget.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from elasticjob.model import Job, TaskState
from elasticjob.scheduler.queue import iso, parse_iso

if TYPE_CHECKING:  # snapshot imports this module
    from elasticjob.scheduler.snapshot import RunningTask

# A shard whose runs keep getting lost (it may be what kills its agents) is failed over this many times.
MAX_FAILOVERS_PER_SHARD = 10
MAX_BACKOFF = dt.timedelta(minutes=10)
# Failures outside the job's code; "agent": the agent gave the task up (e.g. its ZooKeeper session expired).
INFRASTRUCTURE_REASONS = frozenset({"fetch", "sandbox", "start", "agent"})


class FailoverCause(enum.StrEnum):
    LOST = "LOST"  # the run was lost or crashed outside the job's code: failover
    RETRY = "RETRY"  # the job's own code failed: per-shard retry


@dataclass(frozen=True)
class FailoverEntry:
    """The value of ``/state/failover/{job}/{item}``."""

    job_name: str
    sharding_item: int
    firing_id: str
    original_task_id: str
    attempt: int  # the attempt the next run will be (the first run was attempt 0)
    cause: FailoverCause
    not_before: dt.datetime
    reason: str = ""  # why it is waiting to be placed, shown by GET /job/tasks/failover

    def to_json(self) -> dict[str, Any]:
        return {
            "jobName": self.job_name,
            "shardingItem": self.sharding_item,
            "firingId": self.firing_id,
            "originalTaskId": self.original_task_id,
            "attempt": self.attempt,
            "cause": self.cause.value,
            "notBefore": iso(self.not_before),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FailoverEntry:
        return cls(
            job_name=value["jobName"],
            sharding_item=int(value["shardingItem"]),
            firing_id=value["firingId"],
            original_task_id=value.get("originalTaskId", ""),
            attempt=int(value.get("attempt", 1)),
            cause=FailoverCause(value.get("cause", "LOST")),
            not_before=parse_iso(value["notBefore"]),
            reason=value.get("reason", ""),
        )

    def native_view(self) -> dict[str, Any]:
        """Elastic-Job-Cloud's FailoverTaskInfo shape."""
        return {
            "taskInfo": {"jobName": self.job_name, "shardingItems": [self.sharding_item]},
            "originalTaskId": self.original_task_id,
        }


def after_end(
    job: Job | None, task: RunningTask, state: TaskState, reason: str, now: dt.datetime
) -> FailoverEntry | None:
    """What to queue after ``task``'s run ended in ``state`` (with the agent's ``reason``), or None."""
    if job is None or task.sharding_item >= job.shardingTotalCount:
        return None
    if state in (TaskState.FINISHED, TaskState.KILLED):
        return None
    item, firing, attempt = task.sharding_item, task.firing_id, task.attempt
    lost = state is TaskState.LOST or (state is TaskState.FAILED and reason in INFRASTRUCTURE_REASONS)
    if lost:
        if not job.failover or attempt >= MAX_FAILOVERS_PER_SHARD:
            return None
        return FailoverEntry(job.jobName, item, firing, task.task_id, attempt + 1, FailoverCause.LOST, now)
    if attempt >= job.shardRetryLimit:
        return None
    backoff = min(dt.timedelta(seconds=job.shardRetryBackoffSeconds * 2**attempt), MAX_BACKOFF)
    return FailoverEntry(
        job.jobName, item, firing, task.task_id, attempt + 1, FailoverCause.RETRY, now + backoff
    )
