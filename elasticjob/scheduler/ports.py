"""The scheduler's ports: what it needs from the agent connections and the execution history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.webhook import RunNotice
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.scheduler.snapshot import AgentView


class AgentPort(Protocol):
    def agents(self) -> dict[str, AgentView]: ...
    def send(self, agent_id: str, message: pb.MasterMessage) -> bool: ...


class EventSink(Protocol):
    """Where execution events go (the history, through its recorder): ``then`` is called once they are
    stored (or given up on), from another thread."""

    def record(self, events: Sequence[ExecutionEvent], then: Callable[[], None] | None = None) -> None: ...


class SchedulerMetrics(Protocol):
    """Counters of what the scheduler did (failovers, lost tasks, missed firings, reconciliations)."""

    def count(self, event: str, amount: int = 1, **labels: str) -> None: ...


class NoMetrics:
    def count(self, event: str, amount: int = 1, **labels: str) -> None:
        pass


class NoticeSink(Protocol):
    """Where webhook notices go (the history, through its recorder, behind the events recorded before)."""

    def notify(self, notices: Sequence[RunNotice]) -> None: ...
