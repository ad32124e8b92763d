"""The feasibility-filter port: a filter either lets an agent through or says why it excluded it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.types import TaskRequest

LACKS_CPUS = "cpus"
LACKS_MEM = "mem"


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Why one filter excluded one agent for one task.

    ``filter_name`` names the filter (``"constraint"``, ``"resources"``); ``lacks`` lists the resource
    dimensions in short supply (``LACKS_CPUS``, ``LACKS_MEM``), empty for non-resource filters. Filters
    return subclasses carrying the specifics; ``detail`` words them for a human, only when asked (the
    planner creates many exclusions and reads few).
    """

    filter_name: str
    agent_id: str
    lacks: frozenset[str]

    @property
    def detail(self) -> str:
        """One sentence about this agent, e.g. ``agent a1 has rack=b, wanted rack=a``."""
        return f"agent {self.agent_id} was excluded by the {self.filter_name} filter"


class Filter(Protocol):
    """A feasibility check. Pure: reads the task and the agent, changes nothing, never raises."""

    def exclude(self, task: TaskRequest, agent: AgentLedger) -> Exclusion | None:
        """``None`` when ``agent`` can take ``task``; otherwise the reason it cannot."""
        ...
