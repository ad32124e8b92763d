"""The scorer port: linear integer weights of one sign."""

from __future__ import annotations

import pytest

from elasticjob.placement import Offer, Resources, TaskGroup, TaskRequest, plan
from elasticjob.placement.scorer import balanced_weights, check_weights, score_left


def test_balanced_weights_weigh_each_resource_by_its_share_of_the_scale() -> None:
    scale = Resources(8, 16384)
    w = balanced_weights(scale)
    # Half of the CPUs scores like half of the memory.
    assert score_left(w, Resources(4, 0)) == score_left(w, Resources(0, 8192))


def test_balanced_weights_never_vanish() -> None:
    assert balanced_weights(Resources(0, 0)) == (1, 1)


@pytest.mark.parametrize("weights", [(1, -1), (-3, 2)])
def test_mixed_signs_are_rejected(weights: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="one sign"):
        check_weights(weights)


def test_non_int_weights_are_rejected() -> None:
    with pytest.raises(ValueError, match="ints"):
        check_weights((1.5, 1))  # type: ignore[arg-type]


def test_zero_weights_are_allowed() -> None:
    assert check_weights((0, 5)) == (0, 5)
    assert check_weights((0, 0)) == (0, 0)


class CpuOnly:
    """A custom scorer: only spare CPUs count."""

    def weights(self, scale: Resources) -> tuple[int, int]:
        return 1, 0


class Broken:
    def weights(self, scale: Resources) -> tuple[int, int]:
        return 1, -1


def test_plan_accepts_a_custom_scorer_and_rejects_a_broken_one() -> None:
    offers = [Offer("a1", "h1", Resources(4, 100_000)), Offer("a2", "h2", Resources(8, 1024))]
    group = TaskGroup("g", (TaskRequest("t", "job", 0, "app", Resources(1, 512)),), True)
    assert plan([group], offers, CpuOnly()).placements[0].agent_id == "a2"
    with pytest.raises(ValueError):
        plan([group], offers, Broken())


def test_a_scorer_with_no_preference_picks_the_smallest_agent_id() -> None:
    class Indifferent:
        def weights(self, scale: Resources) -> tuple[int, int]:
            return 0, 0

    offers = [Offer(f"a{i}", "h", Resources(i, 1024)) for i in (3, 1, 2)]
    group = TaskGroup("g", (TaskRequest("t", "job", 0, "app", Resources(1, 512)),), True)
    assert plan([group], offers, Indifferent()).placements[0].agent_id == "a1"
