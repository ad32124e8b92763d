"""BinPack: shards go where the least is left (best fit)."""

from __future__ import annotations

from elasticjob.placement import BinPack, Offer, Resources, TaskGroup, TaskRequest, plan


def shards(n: int, cpus: float = 1, mem: float = 512, key: str = "job") -> tuple[TaskRequest, ...]:
    return tuple(TaskRequest(f"{key}@{i}", key, i, "app", Resources(cpus, mem)) for i in range(n))


def test_weights_are_negative() -> None:
    w_cpu, w_mem = BinPack().weights(Resources(8, 8192))
    assert w_cpu < 0 and w_mem < 0


def test_packs_shards_onto_one_agent() -> None:
    offers = [Offer(f"a{i}", f"h{i}", Resources(4, 4096)) for i in range(3)]
    result = plan([TaskGroup("job", shards(3), True)], offers, BinPack())
    assert [p.agent_id for p in result.placements] == ["a0", "a0", "a0"]


def test_best_fit_keeps_the_big_agent_free_for_a_big_shard() -> None:
    offers = [Offer("small", "h", Resources(2, 2048)), Offer("big", "h", Resources(8, 8192))]
    groups = [
        TaskGroup("little", shards(1, key="little"), True),
        TaskGroup("large", shards(1, 8, 8192, "large"), True),
    ]
    result = plan(groups, offers, BinPack())
    assert [(p.task.job_name, p.agent_id) for p in result.placements] == [
        ("little", "small"),
        ("large", "big"),
    ]
    # Spread would have put the little shard on the big agent and left no room for the large one.
    assert len(plan(groups, offers).unplaced) == 1
