"""The scoring port: how to rank the agents that passed every filter.

A scorer is *linear* in what an agent would have left after the placement::

    score = w_cpu * milli_cpus_left + w_mem * milli_mem_left        (higher wins; ties: smallest agent_id)

with integer weights of one sign (both >= 0: prefer agents left with more; both <= 0: prefer agents left
with less). Linearity is what makes planning fast: the order of agents by score-after-placement is their
order by current score, shifted by the task's own (constant) score and by the app charge, so the planner
keeps each agent's current score in a sorted index and scans only the head of it (``candidate_index``).
"""

from __future__ import annotations

from typing import Protocol

from elasticjob.placement.types import Resources


class Scorer(Protocol):
    """Ranks feasible agents for a task by the resources they would have left."""

    def weights(self, scale: Resources) -> tuple[int, int]:
        """Integer ``(w_cpu, w_mem)``, both >= 0 or both <= 0.

        ``scale`` is the largest free amount of each resource over the plan's offers (at least one
        thousandth each), for scorers that weigh CPUs and memory by their share of the cluster.
        """
        ...


def check_weights(weights: tuple[int, int]) -> tuple[int, int]:
    """Return ``weights`` if they are two ints of one sign, else raise ``ValueError``."""
    w_cpu, w_mem = weights
    if not (isinstance(w_cpu, int) and isinstance(w_mem, int)):
        raise ValueError(f"scorer weights must be ints, got {weights!r}")
    if (w_cpu > 0 and w_mem < 0) or (w_cpu < 0 and w_mem > 0):
        raise ValueError(f"scorer weights must have one sign, got {weights!r}")
    return w_cpu, w_mem


def score_left(weights: tuple[int, int], left: Resources) -> int:
    """The score of an agent that would have ``left`` free after the placement."""
    return weights[0] * left.milli_cpus + weights[1] * left.milli_mem


def balanced_weights(scale: Resources) -> tuple[int, int]:
    """Weights that count CPUs and memory by their share of ``scale``: ``cpus/scale.cpus + mem/scale.mem``.

    Cross-multiplied by both scales to stay in integers: ``w_cpu = scale.milli_mem``,
    ``w_mem = scale.milli_cpus``.
    """
    return max(scale.milli_mem, 1), max(scale.milli_cpus, 1)
