"""Spread (the default scorer): shards go where the most is left."""

from __future__ import annotations

from elasticjob.placement import Offer, Resources, Spread, TaskGroup, TaskRequest, plan


def shards(n: int, cpus: float = 1, mem: float = 512, app: str = "app") -> tuple[TaskRequest, ...]:
    return tuple(TaskRequest(f"job@{i}", "job", i, app, Resources(cpus, mem)) for i in range(n))


def test_weights_are_positive() -> None:
    w_cpu, w_mem = Spread().weights(Resources(8, 8192))
    assert w_cpu > 0 and w_mem > 0


def test_spreads_shards_over_equal_agents() -> None:
    offers = [Offer(f"a{i}", f"h{i}", Resources(4, 4096)) for i in range(3)]
    result = plan([TaskGroup("job", shards(3), True)], offers)
    assert sorted(p.agent_id for p in result.placements) == ["a0", "a1", "a2"]


def test_fills_the_biggest_agent_until_it_is_no_longer_the_biggest() -> None:
    offers = [Offer("small", "h", Resources(2, 2048)), Offer("big", "h", Resources(6, 6144))]
    result = plan([TaskGroup("job", shards(6, mem=1024), True)], offers, Spread())
    # The 5th shard leaves 1 CPU either way: the tie goes to the smaller agent_id, "big".
    assert [p.agent_id for p in result.placements] == ["big"] * 5 + ["small"]


def test_is_the_default() -> None:
    offers = [Offer("a1", "h", Resources(2, 2048)), Offer("a2", "h", Resources(8, 8192))]
    group = TaskGroup("job", shards(1), True)
    assert plan([group], offers) == plan([group], offers, Spread())
    assert plan([group], offers).placements[0].agent_id == "a2"
