"""Filter plugin: the agent's attributes must match the group's constraints (EQ pairs, LIKE / UNLIKE)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from elasticjob.placement.filter import Exclusion
from elasticjob.placement.frozen_map import FrozenMap
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.types import PatternConstraint, PatternOperator, TaskRequest, pattern_constraints

# One constraint as a hashable key: (attribute, operator, value); EQ for the plain pairs.
ConstraintKey = tuple[tuple[str, str, str], ...]


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


@dataclass(frozen=True, slots=True)
class PatternMismatch(Exclusion):
    """The agent's attribute (``actual``; ``None``: missing) fails the group's ``pattern`` constraint."""

    pattern: PatternConstraint
    actual: str | None

    @property
    def detail(self) -> str:
        key = self.pattern.attribute
        has = f"no attribute {key}" if self.actual is None else f"{key}={self.actual}"
        return f"agent {self.agent_id} has {has}, wanted {self.pattern.describe()}"


class ConstraintFilter:
    """Excludes agents whose attribute ``k`` is missing or differs from ``v``, for any pair ``k=v``, and
    agents that fail any pattern constraint (LIKE: the attribute exists and the expression matches all of
    it; UNLIKE: it does not, or the attribute is missing).

    Built once per task group with the group's constraints; empty constraints let every agent through.
    The outcome depends only on the agent's offer, never on what the plan has placed, so the planner
    evaluates it once per agent and constraint set (see ``candidate_index``).
    """

    name = "constraint"

    __slots__ = ("constraints", "pairs", "patterns", "key")

    def __init__(self, constraints: Mapping[str, str], patterns: Sequence[PatternConstraint] = ()) -> None:
        self.constraints = constraints if isinstance(constraints, FrozenMap) else FrozenMap(constraints)
        # The constraints as a tuple, in key order: equal for equal constraints, and cheap to hash.
        self.pairs: tuple[tuple[str, str], ...] = tuple(self.constraints.items())
        self.patterns = pattern_constraints(patterns)
        # Every constraint, EQ pairs then patterns: what tells two constraint sets apart.
        self.key: ConstraintKey = tuple((k, "EQ", v) for k, v in self.pairs) + tuple(
            p.key for p in self.patterns
        )

    def __len__(self) -> int:
        """How many constraints there are (pairs and patterns)."""
        return len(self.pairs) + len(self.patterns)

    def describe(self) -> str:
        """``"rack=a, zone LIKE eu-.*"``: every constraint as an operator would type it (empty: none)."""
        return ", ".join([f"{k}={v}" for k, v in self.pairs] + [p.describe() for p in self.patterns])

    def admitted(self, agents: Sequence[AgentLedger]) -> list[bool]:
        """For each of ``agents``: ``exclude(task, agent) is None`` (for any task), without building
        exclusions; one pass per constraint (the candidate index asks this of every agent)."""
        flags = [True] * len(agents)
        for key, wanted in self.pairs:
            pairs = zip(flags, agents, strict=True)
            flags = [flag and agent.attributes.get(key) == wanted for flag, agent in pairs]
        for pattern in self.patterns:
            pairs = zip(flags, agents, strict=True)
            flags = [flag and pattern.holds(agent.attributes) for flag, agent in pairs]
        return flags

    def exclude(self, task: TaskRequest, agent: AgentLedger) -> Exclusion | None:
        """``None`` when every constraint holds; otherwise names the first one that does not (pairs in key
        order, then patterns)."""
        attributes = agent.attributes
        for key, wanted in self.constraints.items():
            actual = attributes.get(key)
            if actual != wanted:
                return AttributeMismatch(self.name, agent.agent_id, frozenset(), key, wanted, actual)
        for pattern in self.patterns:
            if not pattern.holds(attributes):
                actual = attributes.get(pattern.attribute)
                return PatternMismatch(self.name, agent.agent_id, frozenset(), pattern, actual)
        return None

    def unmatched(self, agents: Sequence[AgentLedger]) -> list[str]:
        """The constraints (described) that no agent of ``agents`` satisfies on its own, in order."""
        alone = [ConstraintFilter({k: v}) for k, v in self.pairs] + [
            ConstraintFilter({}, (p,)) for p in self.patterns
        ]
        return [c.describe() for c in alone if not any(c.admitted(agents))]


__all__ = ["AttributeMismatch", "ConstraintFilter", "ConstraintKey", "PatternMismatch", "PatternOperator"]
