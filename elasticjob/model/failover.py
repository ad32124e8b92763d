"""A shard queued to run again, as recorded in ``/state/failover/{job}/{key}`` (see scheduler.failover).

The key is the sharding item; for a job whose runs may overlap (``concurrencyPolicy`` ALLOW) it is
``{item}@{firingId}``, as two runs may each have that shard waiting. The entry says which (``concurrent``),
so its znode is found from the entry alone, whatever the job's configuration is now.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from elasticjob.model.queue import NO_OVERRIDES, Overrides, iso, parse_iso


def item_of_key(key: str) -> int:
    """The sharding item of a failover entry's key (``FailoverEntry.key``)."""
    return int(key.partition("@")[0])


class FailoverCause(enum.StrEnum):
    LOST = "LOST"  # the run was lost or crashed outside the job's code: failover
    RETRY = "RETRY"  # the job's own code failed: per-shard retry


@dataclass(frozen=True)
class FailoverEntry:
    """The value of ``/state/failover/{job}/{key}``."""

    job_name: str
    sharding_item: int
    firing_id: str
    original_task_id: str
    attempt: int  # the attempt the next run will be (the first run was attempt 0)
    cause: FailoverCause
    not_before: dt.datetime
    reason: str = ""  # why it is waiting to be placed, shown by GET /job/tasks/failover
    overrides: Overrides = NO_OVERRIDES  # its run's own environment and job parameter
    concurrent: bool = False  # its job's runs may overlap: keyed by item and firing

    @property
    def key(self) -> str:
        """Its znode's name under its job's failover node."""
        return f"{self.sharding_item}@{self.firing_id}" if self.concurrent else str(self.sharding_item)

    def to_json(self) -> dict[str, Any]:
        value = {
            "jobName": self.job_name,
            "shardingItem": self.sharding_item,
            "firingId": self.firing_id,
            "originalTaskId": self.original_task_id,
            "attempt": self.attempt,
            "cause": self.cause.value,
            "notBefore": iso(self.not_before),
            "reason": self.reason,
        }
        if self.overrides:
            value["overrides"] = self.overrides.to_json()
        if self.concurrent:
            value["concurrent"] = True
        return value

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
            overrides=Overrides.from_json(value.get("overrides")),
            concurrent=bool(value.get("concurrent", False)),
        )

    def native_view(self) -> dict[str, Any]:
        """Elastic-Job-Cloud's FailoverTaskInfo shape."""
        return {
            "taskInfo": {"jobName": self.job_name, "shardingItems": [self.sharding_item]},
            "originalTaskId": self.original_task_id,
        }
