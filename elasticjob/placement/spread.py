"""Score plugin: spread shards over agents (the default)."""

from __future__ import annotations

from dataclasses import dataclass

from elasticjob.placement.scorer import balanced_weights
from elasticjob.placement.types import Resources


@dataclass(frozen=True, slots=True)
class Spread:
    """Prefer the agent with the most free resources after the placement.

    CPUs and memory count by their share of the largest offer (``cpus/max_cpus + mem/max_mem``), so
    neither dimension dominates because of its unit. Successive shards land on different agents while
    agents are comparably loaded, which limits the blast radius of losing one agent.
    """

    def weights(self, scale: Resources) -> tuple[int, int]:
        """Positive balanced weights: more left over scores higher."""
        return balanced_weights(scale)
