"""The scheduler's ports: what it needs from the agent connections and the execution history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from elasticjob.protocol import agent_pb2 as pb
from elasticjob.scheduler.snapshot import AgentView


class AgentPort(Protocol):
    def agents(self) -> dict[str, AgentView]: ...
    def send(self, agent_id: str, message: pb.MasterMessage) -> bool: ...


@dataclass(frozen=True)
class TaskEvent:
    task_id: str
    job_name: str
    sharding_item: int | None
    firing_id: str
    state: str
    agent_id: str
    hostname: str
    exit_code: int | None
    message: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    at: dt.datetime


class EventSink(Protocol):
    def record(self, events: Sequence[TaskEvent]) -> None: ...


class SchedulerMetrics(Protocol):
    """Counters of what the scheduler did (failovers, lost tasks, missed firings, reconciliations)."""

    def count(self, event: str, amount: int = 1, **labels: str) -> None: ...


class NoMetrics:
    def count(self, event: str, amount: int = 1, **labels: str) -> None:
        pass
