"""Pure placement of ready tasks onto agents' resource offers.

``plan(groups, offers, scorer)`` returns a :class:`LaunchPlan` and does nothing else: no I/O, no clock,
no randomness, no imports from the rest of ``elasticjob``. The leader applies the plan separately.

The decision is a chain of small plugins, one per module: feasibility filters (``ConstraintFilter``,
``ResourceFitFilter``) that say why an agent was excluded, then a linear scorer (``Spread`` by default,
``BinPack``) that ranks the agents left. Unplaced tasks carry a reason built from the exclusions
(formats in ``reasons``).
"""

from elasticjob.placement.binpack import BinPack
from elasticjob.placement.constraint_filter import AttributeMismatch, ConstraintFilter, PatternMismatch
from elasticjob.placement.filter import Exclusion, Filter
from elasticjob.placement.frozen_map import FrozenMap
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.planner import SPREAD, plan
from elasticjob.placement.reasons import NO_AGENTS
from elasticjob.placement.resource_fit_filter import FitSummary, ResourceFitFilter, ShortOfResources
from elasticjob.placement.scorer import Scorer
from elasticjob.placement.spread import Spread
from elasticjob.placement.types import (
    LaunchPlan,
    Offer,
    PatternConstraint,
    PatternOperator,
    Placement,
    Resources,
    TaskGroup,
    TaskRequest,
    Unplaced,
)

__all__ = [
    "NO_AGENTS",
    "SPREAD",
    "AgentLedger",
    "AttributeMismatch",
    "BinPack",
    "ConstraintFilter",
    "Exclusion",
    "Filter",
    "FitSummary",
    "FrozenMap",
    "LaunchPlan",
    "Offer",
    "PatternConstraint",
    "PatternMismatch",
    "PatternOperator",
    "Placement",
    "ResourceFitFilter",
    "Resources",
    "Scorer",
    "ShortOfResources",
    "Spread",
    "TaskGroup",
    "TaskRequest",
    "Unplaced",
    "plan",
]
