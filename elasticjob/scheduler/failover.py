"""What happens to a shard whose run ended without finishing: fail over, retry, or give up. Pure.

- LOST (its agent died or forgot it) or FAILED for a reason outside the job's own code (fetch, sandbox,
  start): with ``failover=true`` the shard is queued in ``/state/failover/{job}/{key}`` and re-placed on
  any agent, keeping its sharding item and firing; without failover it is recorded and the next firing
  runs normally.
- Ended before its command ran (reason ``NOT_STARTED``: given up by its agent while staging or held at
  its start gate, or launched to an agent that never received it): queued like a failover whatever the
  job's ``failover`` flag — nothing of it ran, so running it now is its first run, not a second one.
- FAILED by the job's own code (non-zero exit, memory limit): retried per shard, up to the job's
  ``shardRetryLimit``, after ``shardRetryBackoffSeconds`` doubling with each attempt, and not once
  ``shardRetryDeadlineSeconds`` have passed since its run's instant. One bad shard uses only its own
  budget.
"""

from __future__ import annotations

import datetime as dt

from elasticjob.model import NOT_STARTED, Job, TaskState
from elasticjob.model.failover import FailoverCause, FailoverEntry
from elasticjob.model.run import firing_instant
from elasticjob.model.running import RunningTask

# A shard whose runs keep getting lost (it may be what kills its agents) is failed over this many times.
MAX_FAILOVERS_PER_SHARD = 10
MAX_BACKOFF = dt.timedelta(minutes=10)
# Failures outside the job's code; "agent": the agent gave the task up (e.g. its ZooKeeper session expired).
INFRASTRUCTURE_REASONS = frozenset({"fetch", "sandbox", "start", "agent", NOT_STARTED})


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
        never_ran = reason == NOT_STARTED
        if not (job.failover or never_ran) or attempt >= MAX_FAILOVERS_PER_SHARD:
            return None
        return FailoverEntry(
            job.jobName, item, firing, task.task_id, attempt + 1, FailoverCause.LOST, now,
            overrides=task.overrides, concurrent=job.runs_overlap,
        )
    if attempt >= job.shardRetryLimit:
        return None
    if job.shardRetryDeadlineSeconds is not None:
        instant = firing_instant(firing)
        if instant is not None and now - instant >= dt.timedelta(seconds=job.shardRetryDeadlineSeconds):
            return None  # its run has been trying for long enough
    backoff = min(dt.timedelta(seconds=job.shardRetryBackoffSeconds * 2**attempt), MAX_BACKOFF)
    return FailoverEntry(
        job.jobName, item, firing, task.task_id, attempt + 1, FailoverCause.RETRY, now + backoff,
        overrides=task.overrides, concurrent=job.runs_overlap,
    )
