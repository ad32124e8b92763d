"""A launched, unfinished task as recorded in ``/state/running/{job}/{taskId}`` before its launch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elasticjob.model.queue import NO_OVERRIDES, Overrides, iso, parse_iso
from elasticjob.model.task import TaskKind, TaskState


@dataclass(frozen=True)
class RunningTask:
    """The value of ``/state/running/{job}/{taskId}``: written before the launch message is sent."""

    task_id: str
    job_name: str
    sharding_item: int
    firing_id: str
    agent_id: str
    hostname: str
    app_name: str
    cpus: float
    mem_mb: float
    app_cpus: float
    app_mem_mb: float
    kind: TaskKind
    state: TaskState
    launched_at: dt.datetime
    started_at: dt.datetime | None = None
    attempt: int = 0  # 0 for a firing's first run; failover/retry runs count up
    start_at: dt.datetime | None = None  # launched ahead: its agent starts it at this instant
    # The agent process it was launched to (``Register.incarnation``; "" if unknown): if that same process
    # reconnects without the task, it never received it.
    agent_incarnation: str = ""
    overrides: Overrides = NO_OVERRIDES  # its run's own environment and job parameter
    ip: str = ""  # its agent's address as the leader saw it ("" if unknown, e.g. written by an older one)

    def to_json(self) -> dict[str, Any]:
        value = {
            "taskId": self.task_id,
            "jobName": self.job_name,
            "shardingItem": self.sharding_item,
            "firingId": self.firing_id,
            "agentId": self.agent_id,
            "hostname": self.hostname,
            "appName": self.app_name,
            "cpus": self.cpus,
            "memMB": self.mem_mb,
            "appCpus": self.app_cpus,
            "appMemMB": self.app_mem_mb,
            "kind": self.kind.value,
            "state": self.state.value,
            "launchedAt": iso(self.launched_at),
            "startedAt": iso(self.started_at) if self.started_at else None,
            "attempt": self.attempt,
            "startAt": iso(self.start_at) if self.start_at else None,
            "agentIncarnation": self.agent_incarnation,
        }
        if self.ip:
            value["ip"] = self.ip
        if self.overrides:
            value["overrides"] = self.overrides.to_json()
        return value

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunningTask:
        return cls(
            task_id=value["taskId"],
            job_name=value["jobName"],
            sharding_item=int(value["shardingItem"]),
            firing_id=value.get("firingId", ""),
            agent_id=value["agentId"],
            hostname=value.get("hostname", ""),
            app_name=value.get("appName", ""),
            cpus=float(value.get("cpus", 0)),
            mem_mb=float(value.get("memMB", 0)),
            app_cpus=float(value.get("appCpus", 0)),
            app_mem_mb=float(value.get("appMemMB", 0)),
            kind=TaskKind(value.get("kind", "READY")),
            state=TaskState(value.get("state", "STAGING")),
            launched_at=parse_iso(value["launchedAt"]),
            started_at=parse_iso(value["startedAt"]) if value.get("startedAt") else None,
            attempt=int(value.get("attempt", 0)),
            start_at=parse_iso(value["startAt"]) if value.get("startAt") else None,
            agent_incarnation=value.get("agentIncarnation", ""),
            overrides=Overrides.from_json(value.get("overrides")),
            ip=value.get("ip", ""),
        )

    def native_view(self) -> dict[str, Any]:
        """Elastic-Job-Cloud's TaskContext JSON shape for ``GET /job/tasks/running``."""
        return {
            "id": self.task_id,
            "metaInfo": {"jobName": self.job_name, "shardingItems": [self.sharding_item]},
            "type": self.kind.value,
            "slaveId": self.agent_id,
            "idle": False,
        }
