"""Score plugin: pack shards onto as few agents as possible."""

from __future__ import annotations

from dataclasses import dataclass

from elasticjob.placement.scorer import balanced_weights
from elasticjob.placement.types import Resources


@dataclass(frozen=True, slots=True)
class BinPack:
    """Prefer the agent left with the least free resources after the placement (best fit).

    Same balanced measure as :class:`Spread` with the opposite sign; keeps whole agents free for large
    shards. An executor charge counts as used resources like any other, so between two otherwise equal
    agents the one that must start the app's executor is left with less and wins.
    """

    def weights(self, scale: Resources) -> tuple[int, int]:
        """Negative balanced weights: less left over scores higher."""
        w_cpu, w_mem = balanced_weights(scale)
        return -w_cpu, -w_mem
