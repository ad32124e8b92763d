"""The scheduler's ports: what it needs from the agent connections (offer sources) and the history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from elasticjob.model.execution import ExecutionEvent
from elasticjob.model.webhook import RunNotice
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.scheduler.snapshot import AgentView


class AgentPort(Protocol):
    """Where tasks run: the agents offering resources now, and a way to command them.

    ``agents`` answers every agent that counts as present — offering resources, or holding tasks of ours
    (an agent missing from it for longer than the agent grace has its tasks declared LOST). An
    ``AgentView``'s cpus/mem are the agent's *total*: the scheduler subtracts what its running tasks use.
    ``send`` takes ``launch``, ``kill`` and ``ack`` (terminal statuses recorded: forget them) messages, never
    blocks, and answers False if the agent cannot be reached. Both are called from the scheduler's thread
    (``send`` also from the history recorder's)."""

    def agents(self) -> dict[str, AgentView]: ...
    def send(self, agent_id: str, message: pb.MasterMessage) -> bool: ...


class OfferEvents(Protocol):
    """What an offer source tells the scheduler (``loop.Scheduler`` implements it). Thread-safe, never
    blocks: callable from an event loop or a reader thread.

    - ``agent_registered``: an agent (re)connected and reports the tasks it holds; a task launched to it
      earlier that it does not report is LOST (so call it only with the agent's complete list).
    - ``agent_disconnected``: the agent is gone; its tasks become LOST after the grace period.
    - ``task_status``: a status of one task on that agent.
    - ``capacity_changed``: resources appeared (new offers) without any agent (re)registering: jobs
      waiting for room are planned again.
    """

    def agent_registered(self, agent_id: str, tasks: list[StatusUpdate], incarnation: str = "") -> None: ...
    def agent_disconnected(self, agent_id: str) -> None: ...
    def task_status(self, agent_id: str, status: StatusUpdate) -> None: ...
    def capacity_changed(self) -> None: ...


class OfferSource(AgentPort, Protocol):
    """An ``AgentPort`` that reports to ``OfferEvents`` of its own accord, started and stopped with the
    master's leadership. Two implementations: our agents (the gRPC gateway and ``master.hub.AgentHub``;
    the gateway runs for the whole process and refuses streams while not leading) and Apache Mesos
    (``elasticjob.mesos.source.MesosOfferSource``: a framework subscribed only while leading).

    ``leading(True)`` starts delivering events to the ``OfferEvents`` it was made with; ``leading(False)``
    stops and forgets its offers. ``owns(agent_id)`` says whether an agent id is this source's (agent ids
    of different sources never clash: Mesos ones are prefixed). ``close`` ends it for good."""

    def owns(self, agent_id: str) -> bool: ...
    def leading(self, leader: bool) -> None: ...
    def close(self) -> None: ...


class EventSink(Protocol):
    """Where execution events go (the history, through its recorder): ``then`` is called once they are
    stored (or given up on), from another thread."""

    def record(self, events: Sequence[ExecutionEvent], then: Callable[[], None] | None = None) -> None: ...


class SchedulerMetrics(Protocol):
    """Counters of what the scheduler did (failovers, lost tasks, missed firings, reconciliations),
    distributions it observed (``launch_lateness_seconds``, ``start_lateness_seconds``, ``cycle_seconds``)
    and levels it holds (``waiting_jobs``)."""

    def count(self, event: str, amount: int = 1, **labels: str) -> None: ...

    def observe(self, name: str, value: float) -> None: ...

    def level(self, name: str, value: float) -> None: ...


class NoMetrics:
    def count(self, event: str, amount: int = 1, **labels: str) -> None:
        pass

    def observe(self, name: str, value: float) -> None:
        pass

    def level(self, name: str, value: float) -> None:
        pass


class NoticeSink(Protocol):
    """Where webhook notices go (the history, through its recorder, behind the events recorded before)."""

    def notify(self, notices: Sequence[RunNotice]) -> None: ...
