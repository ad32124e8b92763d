"""Filter plugin: the agent's attributes must match the group's constraints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from elasticjob.placement.filter import Exclusion
from elasticjob.placement.frozen_map import FrozenMap
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.types import TaskRequest


@dataclass(frozen=True, slots=True)
class AttributeMismatch(Exclusion):
    """The agent's attribute ``key`` is ``actual`` (``None``: missing) where the group wants ``wanted``."""

    key: str
    wanted: str
    actual: str | None

    @property
    def detail(self) -> str:
        has = f"no attribute {self.key}" if self.actual is None else f"{self.key}={self.actual}"
        return f"agent {self.agent_id} has {has}, wanted {self.key}={self.wanted}"


class ConstraintFilter:
    """Excludes agents whose attribute ``k`` is missing or differs from ``v``, for any pair ``k=v``.

    Built once per task group with the group's constraints; empty constraints let every agent through.
    The outcome depends only on the agent's offer, never on what the plan has placed, so the planner
    evaluates it once per agent and constraint set (see ``candidate_index``).
    """

    name = "constraint"

    __slots__ = ("constraints", "pairs")

    def __init__(self, constraints: Mapping[str, str]) -> None:
        self.constraints = constraints if isinstance(constraints, FrozenMap) else FrozenMap(constraints)
        # The constraints as a tuple, in key order: equal for equal constraints, and cheap to hash.
        self.pairs: tuple[tuple[str, str], ...] = tuple(self.constraints.items())

    def admitted(self, agents: Sequence[AgentLedger]) -> list[bool]:
        """For each of ``agents``: ``exclude(task, agent) is None`` (for any task), without building
        exclusions; one pass per constraint (the candidate index asks this of every agent)."""
        flags = [True] * len(agents)
        for key, wanted in self.pairs:
            pairs = zip(flags, agents, strict=True)
            flags = [flag and agent.attributes.get(key) == wanted for flag, agent in pairs]
        return flags

    def exclude(self, task: TaskRequest, agent: AgentLedger) -> Exclusion | None:
        """``None`` when every constraint holds; otherwise names the first one that does not (key order)."""
        attributes = agent.attributes
        for key, wanted in self.constraints.items():
            actual = attributes.get(key)
            if actual != wanted:
                return AttributeMismatch(self.name, agent.agent_id, frozenset(), key, wanted, actual)
        return None
