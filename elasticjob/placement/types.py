"""Value objects going into and coming out of :func:`elasticjob.placement.plan`.

Every type here is a frozen dataclass; collections are normalised on construction (mappings to
:class:`FrozenMap`, sequences to tuples, sets to frozensets), so a value can be shared between threads and
used as a dict key.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from elasticjob.placement.frozen_map import EMPTY, FrozenMap

MILLI = 1000


def _to_milli(name: str, value: float) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    milli = round(value * MILLI)
    if milli < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return milli


def format_amount(milli: int) -> str:
    """Render an amount kept in thousandths without float noise: ``2500 -> "2.5"``, ``4096000 -> "4096"``."""
    whole, frac = divmod(milli, MILLI)
    return str(whole) if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class Resources:
    """An amount of CPUs and memory.

    Contract: both values are rounded to the nearest thousandth on construction (``Resources(0.1 + 0.2, 0)
    == Resources(0.3, 0)``) and must then be finite and >= 0 (``ValueError``; ``TypeError`` for a
    non-number). All arithmetic and comparisons use the exact integer thousandths (``milli_cpus``,
    ``milli_mem``), so sums never drift.
    """

    cpus: float
    mem_mb: float
    milli_cpus: int = field(init=False, repr=False, compare=False)
    milli_mem: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        milli_cpus = _to_milli("cpus", self.cpus)
        milli_mem = _to_milli("mem_mb", self.mem_mb)
        object.__setattr__(self, "milli_cpus", milli_cpus)
        object.__setattr__(self, "milli_mem", milli_mem)
        object.__setattr__(self, "cpus", milli_cpus / MILLI)
        object.__setattr__(self, "mem_mb", milli_mem / MILLI)

    @classmethod
    def from_milli(cls, milli_cpus: int, milli_mem: int) -> Resources:
        """Build from thousandths of a CPU and thousandths of a MB."""
        return cls(milli_cpus / MILLI, milli_mem / MILLI)

    def fits(self, capacity: Resources) -> bool:
        """True when this amount fits within ``capacity`` (both CPUs and memory)."""
        return self.milli_cpus <= capacity.milli_cpus and self.milli_mem <= capacity.milli_mem

    def plus(self, other: Resources) -> Resources:
        """The sum of both amounts."""
        return Resources.from_milli(self.milli_cpus + other.milli_cpus, self.milli_mem + other.milli_mem)

    def minus(self, other: Resources) -> Resources:
        """This amount less ``other``; ``ValueError`` if ``other`` does not fit (no negative resources)."""
        if not other.fits(self):
            raise ValueError(f"cannot take {other} from {self}")
        return Resources.from_milli(self.milli_cpus - other.milli_cpus, self.milli_mem - other.milli_mem)

    def is_zero(self) -> bool:
        """True when both amounts are zero."""
        return self.milli_cpus == 0 and self.milli_mem == 0

    def describe(self) -> str:
        """``"2.5 CPUs, 4096 MB"``."""
        return f"{format_cpus(self.milli_cpus)}, {format_amount(self.milli_mem)} MB"


def format_cpus(milli_cpus: int) -> str:
    """``"1 CPU"``, ``"2.5 CPUs"``, ``"0 CPUs"``."""
    return f"{format_amount(milli_cpus)} {'CPU' if milli_cpus == MILLI else 'CPUs'}"


NO_RESOURCES = Resources(0, 0)


@dataclass(frozen=True, slots=True)
class Offer:
    """What one agent can take right now: its free resources, attributes and the apps it already runs.

    ``attributes`` is stored as a :class:`FrozenMap` and ``apps_running`` as a frozenset, so an Offer is
    immutable and hashable. ``agent_id`` must be non-empty (``ValueError``).
    """

    agent_id: str
    hostname: str
    free: Resources
    attributes: Mapping[str, str] = EMPTY
    apps_running: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise ValueError("Offer.agent_id must not be empty")
        object.__setattr__(self, "attributes", FrozenMap(self.attributes))
        object.__setattr__(self, "apps_running", frozenset(self.apps_running))


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """One shard to place.

    ``resources`` is the shard's own cost. ``app_resources`` is the cost of the app's executor, charged
    once per agent where the app has no executor yet: neither in ``Offer.apps_running`` nor charged by an
    earlier placement of the same plan. ``task_key`` is opaque and must be unique within one plan() call.
    """

    task_key: str
    job_name: str
    sharding_item: int
    app_name: str
    resources: Resources
    app_resources: Resources = NO_RESOURCES

    def __post_init__(self) -> None:
        if not self.task_key:
            raise ValueError("TaskRequest.task_key must not be empty")
        if self.sharding_item < 0:
            raise ValueError(f"TaskRequest.sharding_item must be >= 0, got {self.sharding_item}")


class PatternOperator(enum.StrEnum):
    """How a :class:`PatternConstraint` compares an agent's attribute with its regular expression."""

    LIKE = "LIKE"  # the attribute exists and the expression matches all of its value
    UNLIKE = "UNLIKE"  # the attribute is missing, or the expression does not match all of its value


@dataclass(frozen=True, slots=True)
class PatternConstraint:
    """Agent attribute ``attribute`` must (LIKE) or must not (UNLIKE) fully match ``pattern``, a Python
    regular expression (Metronome's and Marathon's operators of the same names). An agent without the
    attribute does not match LIKE and does match UNLIKE. ``ValueError`` for an expression that does not
    compile; equal constraints compare and hash equal (the compiled form is not compared).
    """

    attribute: str
    operator: PatternOperator
    pattern: str
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operator", PatternOperator(self.operator))
        try:
            object.__setattr__(self, "regex", re.compile(self.pattern))
        except re.error as exc:
            raise ValueError(f"{self.pattern!r} is not a regular expression: {exc}") from None

    def holds(self, attributes: Mapping[str, str]) -> bool:
        """True when an agent with ``attributes`` satisfies this constraint."""
        value = attributes.get(self.attribute)
        matches = value is not None and self.regex.fullmatch(value) is not None
        return matches if self.operator is PatternOperator.LIKE else not matches

    def describe(self) -> str:
        """``"rack LIKE a|b"``, as an operator would type it."""
        return f"{self.attribute} {self.operator.value} {self.pattern}"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.attribute, self.operator.value, self.pattern


def pattern_constraints(patterns: Sequence[PatternConstraint]) -> tuple[PatternConstraint, ...]:
    """``patterns`` in a canonical order (attribute, operator, pattern), duplicates removed: equal sets of
    constraints give equal tuples."""
    return tuple(sorted(set(patterns), key=lambda p: p.key))


@dataclass(frozen=True, slots=True)
class TaskGroup:
    """Tasks placed together.

    - ``all_or_nothing=True`` (a normal firing): every task is placed, or none is.
    - ``all_or_nothing=False`` (failover shards): each task is placed on its own.
    - ``constraints``: agent attribute ``k`` must equal ``v`` for every pair; empty means any agent.
    - ``patterns``: every :class:`PatternConstraint` must hold too (LIKE / UNLIKE); empty: no more checks.
    - ``priority``: groups are planned highest priority first, then in the order given.
    """

    group_key: str
    tasks: tuple[TaskRequest, ...]
    all_or_nothing: bool
    constraints: Mapping[str, str] = EMPTY
    priority: int = 0
    patterns: tuple[PatternConstraint, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "constraints", FrozenMap(self.constraints))
        object.__setattr__(self, "patterns", pattern_constraints(self.patterns))


@dataclass(frozen=True, slots=True)
class Placement:
    """Launch ``task`` on agent ``agent_id`` (at ``hostname``)."""

    task: TaskRequest
    agent_id: str
    hostname: str


@dataclass(frozen=True, slots=True)
class Unplaced:
    """``task`` could not be placed; ``reason`` says why, for an operator (formats: see ``reasons.py``)."""

    task: TaskRequest
    reason: str


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """The outcome of one planning round.

    ``placements`` and ``unplaced`` are in planning order: groups by (-priority, given order), tasks in
    their group's order. Every task given to plan() is in exactly one of them.
    """

    placements: tuple[Placement, ...]
    unplaced: tuple[Unplaced, ...]

    def by_agent(self) -> dict[str, list[Placement]]:
        """Placements grouped per agent: keys in agent_id order, each list in planning order."""
        grouped: dict[str, list[Placement]] = {}
        for placement in self.placements:
            grouped.setdefault(placement.agent_id, []).append(placement)
        return {agent_id: grouped[agent_id] for agent_id in sorted(grouped)}
