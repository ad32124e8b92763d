"""Conversions between protobuf messages and plain Python values used by master and agent."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from elasticjob.model import TaskState
from elasticjob.protocol import agent_pb2 as pb

_STATE_TO_PB = {
    TaskState.STAGING: pb.STAGING,
    TaskState.RUNNING: pb.RUNNING,
    TaskState.FINISHED: pb.FINISHED,
    TaskState.FAILED: pb.FAILED,
    TaskState.KILLED: pb.KILLED,
    TaskState.LOST: pb.LOST,
}
_PB_TO_STATE = {v: k for k, v in _STATE_TO_PB.items()}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class StatusUpdate:
    """A task status as plain values (what the agent reports, what the master records)."""

    task_id: str
    state: TaskState
    exit_code: int | None = None
    message: str = ""
    reason: str = ""
    timestamp_ms: int = 0
    started_ms: int = 0
    run: int = 0  # > 0: one finished run of a DAEMON task, which keeps running
    firing_id: str = ""

    @property
    def daemon_run(self) -> bool:
        return self.run > 0

    def to_proto(self) -> pb.TaskStatus:
        return pb.TaskStatus(
            task_id=self.task_id,
            state=_STATE_TO_PB[self.state],
            exit_code=self.exit_code or 0,
            has_exit_code=self.exit_code is not None,
            message=self.message,
            reason=self.reason,
            timestamp_ms=self.timestamp_ms or now_ms(),
            started_ms=self.started_ms,
            run=self.run,
            firing_id=self.firing_id,
        )

    @classmethod
    def from_proto(cls, message: pb.TaskStatus) -> StatusUpdate:
        if message.state not in _PB_TO_STATE:
            raise ValueError(f"task {message.task_id}: unknown state {message.state}")
        return cls(
            task_id=message.task_id,
            state=_PB_TO_STATE[message.state],
            exit_code=message.exit_code if message.has_exit_code else None,
            message=message.message,
            reason=message.reason,
            timestamp_ms=message.timestamp_ms,
            started_ms=message.started_ms,
            run=message.run,
            firing_id=message.firing_id,
        )


def statuses_of(message: pb.AgentMessage) -> list[pb.TaskStatus]:
    """The task statuses an agent's message carries: one, a batch, or none."""
    kind = message.WhichOneof("body")
    if kind == "status":
        return [message.status]
    if kind == "statuses":
        return list(message.statuses.statuses)
    return []


def status_message(statuses: list[pb.TaskStatus]) -> pb.AgentMessage:
    """One agent message for ``statuses``: a single status, or a batch of several."""
    if len(statuses) == 1:
        return pb.AgentMessage(status=statuses[0])
    return pb.AgentMessage(statuses=pb.StatusBatch(statuses=statuses))


def spec_to_proto(spec: dict[str, Any]) -> pb.TaskSpec:
    return pb.TaskSpec(
        task_id=spec["task_id"],
        job_name=spec["job_name"],
        firing_id=spec["firing_id"],
        sharding_item=spec["sharding_item"],
        sharding_total_count=spec["sharding_total_count"],
        sharding_parameter=spec["sharding_parameter"],
        job_parameter=spec["job_parameter"],
        app_name=spec["app_name"],
        app_url=spec["app_url"],
        app_cache_enable=spec["app_cache_enable"],
        job_type=spec["job_type"],
        command=spec["command"],
        job_class=spec["job_class"],
        streaming_process=spec["streaming_process"],
        environment=spec["environment"],
        resources=pb.Resources(cpus=spec["cpus"], mem_mb=spec["mem_mb"]),
        execution_type=spec["execution_type"],
        cron=spec.get("cron", ""),
        time_zone=spec.get("time_zone", "UTC"),
        app_version=spec.get("app_version", ""),
        start_at_ms=spec.get("start_at_ms", 0),
        kill_grace_seconds=spec.get("kill_grace_seconds"),
        artifacts=[pb.Artifact(**a) for a in spec.get("artifacts", ())],
    )


def spec_from_proto(message: pb.TaskSpec) -> dict[str, Any]:
    return {
        "task_id": message.task_id,
        "job_name": message.job_name,
        "firing_id": message.firing_id,
        "sharding_item": message.sharding_item,
        "sharding_total_count": message.sharding_total_count,
        "sharding_parameter": message.sharding_parameter,
        "job_parameter": message.job_parameter,
        "app_name": message.app_name,
        "app_url": message.app_url,
        "app_cache_enable": message.app_cache_enable,
        "job_type": message.job_type,
        "command": message.command,
        "job_class": message.job_class,
        "streaming_process": message.streaming_process,
        "environment": dict(message.environment),
        "cpus": message.resources.cpus,
        "mem_mb": message.resources.mem_mb,
        "execution_type": message.execution_type,
        "cron": message.cron,
        "time_zone": message.time_zone or "UTC",
        "app_version": message.app_version,
        "start_at_ms": message.start_at_ms,
        "kill_grace_seconds": message.kill_grace_seconds if message.HasField("kill_grace_seconds") else None,
        "artifacts": [
            {"uri": a.uri, "extract": a.extract, "executable": a.executable, "cache": a.cache}
            for a in message.artifacts
        ],
    }


def kill_message(task_id: str, reason: str, grace_seconds: float | None = None) -> pb.MasterMessage:
    """Tell an agent to kill a task: SIGTERM, then SIGKILL ``grace_seconds`` later (None: the grace its
    launch carried, else the agent's own)."""
    return pb.MasterMessage(kill=pb.Kill(task_id=task_id, reason=reason, grace_seconds=grace_seconds))


def kill_grace(message: pb.Kill) -> float | None:
    """The grace a kill carries (None: none; a master that predates the field sends none)."""
    return message.grace_seconds if message.HasField("grace_seconds") else None
