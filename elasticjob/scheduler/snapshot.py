"""What the leader knows at the start of a scheduling cycle: an immutable view, read once per cycle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticjob.model import App, Job, TaskKind, TaskState
from elasticjob.scheduler.failover import FailoverEntry
from elasticjob.scheduler.queue import ReadyQueue, iso, parse_iso


@dataclass(frozen=True)
class AgentView:
    """A connected agent as the leader sees it."""

    agent_id: str
    hostname: str
    cpus: float
    mem_mb: float
    attributes: Mapping[str, str] = field(default_factory=dict)


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

    def to_json(self) -> dict[str, Any]:
        return {
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
        }

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


@dataclass(frozen=True)
class Snapshot:
    jobs: Mapping[str, Job]
    apps: Mapping[str, App]
    disabled_jobs: frozenset[str]
    disabled_apps: frozenset[str]
    queues: Mapping[str, tuple[ReadyQueue, int]]  # job -> (queue, znode version)
    running: Mapping[str, tuple[RunningTask, ...]]  # job -> its launched, unfinished tasks
    agents: Mapping[str, AgentView]  # connected agents
    job_versions: Mapping[str, int] = field(default_factory=dict)  # job -> config znode version
    failover: Mapping[str, tuple[tuple[FailoverEntry, int], ...]] = field(
        default_factory=dict
    )  # with versions
    lost: frozenset[str] = frozenset()  # tombstones: task ids declared LOST (kill their stale copies)

    def job_enabled(self, job: Job) -> bool:
        return job.jobName not in self.disabled_jobs and job.effective_app_name not in self.disabled_apps

    def tasks_on(self, agent_id: str) -> list[RunningTask]:
        return [t for tasks in self.running.values() for t in tasks if t.agent_id == agent_id]
