"""The leader's offer sources behind one ``AgentPort``: our own agents (gRPC) and, optionally, Mesos.

``OfferSources`` merges their agents and routes each message to the source that owns its agent id (the
first that does, in the order given; our agents come last and take any id). With our agents alone it is a
pass-through: nothing changes for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from elasticjob.master.hub import AgentHub
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.scheduler.ports import OfferSource
from elasticjob.scheduler.snapshot import AgentView


class GrpcAgents:
    """Our agents as an ``OfferSource``: the hub holds their streams; the gateway (which runs for the whole
    process and accepts streams only while leading) reports their events to the scheduler. On losing
    leadership every stream is closed: agents reconnect to whoever leads."""

    def __init__(self, hub: AgentHub) -> None:
        self.hub = hub

    def owns(self, agent_id: str) -> bool:
        return True

    def agents(self) -> dict[str, AgentView]:
        return self.hub.agents()

    def send(self, agent_id: str, message: pb.MasterMessage) -> bool:
        return self.hub.send(agent_id, message)

    def leading(self, leader: bool) -> None:
        if not leader:
            self.hub.close_all()

    def close(self) -> None:
        self.hub.close_all()


class OfferSources:
    """Several ``OfferSource``s as one (see the module docstring). ``add`` before the scheduler starts."""

    def __init__(self, sources: Sequence[OfferSource]) -> None:
        self.sources: list[OfferSource] = list(sources)

    def add(self, source: OfferSource, first: bool = True) -> None:
        if first:
            self.sources.insert(0, source)
        else:
            self.sources.append(source)

    def agents(self) -> dict[str, AgentView]:
        if len(self.sources) == 1:
            return self.sources[0].agents()
        merged: dict[str, AgentView] = {}
        for source in reversed(self.sources):  # the first source's view wins a clash
            merged.update(source.agents())
        return merged

    def send(self, agent_id: str, message: pb.MasterMessage) -> bool:
        for source in self.sources:
            if source.owns(agent_id):
                return source.send(agent_id, message)
        return False

    def leading(self, leader: bool) -> None:
        for source in self.sources:
            source.leading(leader)

    def close(self) -> None:
        for source in self.sources:
            source.close()
