"""plan(): group ordering, all-or-nothing firings, failover shards, executor charges, constraints."""

from __future__ import annotations

import pytest

from elasticjob.placement import BinPack, LaunchPlan, Offer, Resources, TaskGroup, TaskRequest, plan

EXECUTOR = Resources(0.5, 256)


def shards(job: str, n: int, cpus: float = 1, mem: float = 512, app: str = "app") -> tuple[TaskRequest, ...]:
    return tuple(TaskRequest(f"{job}@{i}", job, i, app, Resources(cpus, mem), EXECUTOR) for i in range(n))


def firing(
    job: str, n: int, cpus: float = 1, mem: float = 512, priority: int = 0, **constraints: str
) -> TaskGroup:
    return TaskGroup(job, shards(job, n, cpus, mem), True, constraints, priority)


def failover(job: str, n: int, cpus: float = 1, mem: float = 512, priority: int = 1) -> TaskGroup:
    return TaskGroup(job + "/failover", shards(job, n, cpus, mem), False, {}, priority)


def offer(agent_id: str, cpus: float, mem: float, apps: tuple[str, ...] = (), **attrs: str) -> Offer:
    return Offer(agent_id, agent_id + ".host", Resources(cpus, mem), attrs, frozenset(apps))


def placed(result: LaunchPlan) -> list[tuple[str, str]]:
    return [(p.task.task_key, p.agent_id) for p in result.placements]


def unplaced_keys(result: LaunchPlan) -> list[str]:
    return [u.task.task_key for u in result.unplaced]


def test_places_a_firing_and_fills_in_the_hostname() -> None:
    result = plan([firing("job", 2)], [offer("a1", 4, 4096)])
    assert placed(result) == [("job@0", "a1"), ("job@1", "a1")]
    assert result.placements[0].hostname == "a1.host"
    assert result.unplaced == ()


def test_empty_inputs() -> None:
    assert plan([], []) == LaunchPlan((), ())
    assert plan([], [offer("a1", 1, 1)]) == LaunchPlan((), ())
    assert plan([firing("empty", 0)], [offer("a1", 1, 1)]) == LaunchPlan((), ())


def test_no_offers_leaves_every_task_unplaced() -> None:
    result = plan([firing("job", 2), failover("old", 1)], [])
    assert result.placements == ()
    assert {u.reason for u in result.unplaced} == {"no agents registered"}
    assert len(result.unplaced) == 3


def test_all_or_nothing_rolls_back_the_whole_firing() -> None:
    # 3.5 CPUs: the executor (0.5) and 3 shards fit, the 4th and 5th do not.
    offers = [offer("a1", 3.5, 8192)]
    result = plan([firing("big", 5)], offers)
    assert result.placements == ()
    assert unplaced_keys(result) == [f"big@{i}" for i in range(5)]
    assert result.unplaced[0].reason.startswith(
        "only 3 of 5 shards fit; a firing starts all its shards or none"
    )


def test_a_later_smaller_firing_still_fits_after_a_rollback() -> None:
    offers = [offer("a1", 3.5, 8192)]
    result = plan([firing("big", 5), firing("small", 2)], offers)
    assert placed(result) == [("small@0", "a1"), ("small@1", "a1")]
    assert unplaced_keys(result) == [f"big@{i}" for i in range(5)]


def test_rollback_also_undoes_the_executor_charge() -> None:
    # The rolled-back firing charged app's executor on a1; the next firing must be charged again.
    offers = [offer("a1", 2, 8192)]
    result = plan([firing("big", 3), firing("fits", 1, cpus=1.5)], offers)
    assert placed(result) == [("fits@0", "a1")]
    plan_without_rollback = plan([firing("fits", 1, cpus=1.5)], offers)
    assert placed(plan_without_rollback) == placed(result)


def test_failover_shards_are_placed_one_by_one() -> None:
    offers = [offer("a1", 2.5, 8192)]
    result = plan([failover("job", 3)], offers)
    assert placed(result) == [("job@0", "a1"), ("job@1", "a1")]
    assert unplaced_keys(result) == ["job@2"]
    assert result.unplaced[0].reason == "no agent with 1 CPU free (largest free: 0 CPUs on agent a1)"


def test_higher_priority_groups_go_first() -> None:
    offers = [offer("a1", 1.5, 8192)]
    result = plan([firing("normal", 1), failover("lost", 1, priority=5)], offers)
    assert placed(result) == [("lost@0", "a1")]
    assert unplaced_keys(result) == ["normal@0"]


def test_equal_priorities_keep_the_given_order() -> None:
    offers = [offer("a1", 1.5, 8192)]
    result = plan([firing("first", 1), firing("second", 1)], offers)
    assert placed(result) == [("first@0", "a1")]
    assert unplaced_keys(result) == ["second@0"]
    swapped = plan([firing("second", 1), firing("first", 1)], offers)
    assert placed(swapped) == [("second@0", "a1")]


def test_results_are_in_planning_order() -> None:
    offers = [offer("a1", 64, 65536)]
    groups = [firing("low", 1, priority=0), firing("high", 1, priority=2), firing("mid", 1, priority=1)]
    assert [p.task.job_name for p in plan(groups, offers).placements] == ["high", "mid", "low"]


def test_the_executor_is_charged_once_per_agent() -> None:
    # 0.5 for the executor + 3 x 1 CPU = exactly 3.5
    result = plan([firing("job", 3)], [offer("a1", 3.5, 8192)])
    assert len(result.placements) == 3


def test_no_executor_charge_where_the_app_already_runs() -> None:
    result = plan([firing("job", 3)], [offer("a1", 3, 1536, apps=("app",))])
    assert len(result.placements) == 3


def test_executor_charged_separately_for_each_app_and_each_agent() -> None:
    other = TaskGroup("other", shards("other", 1, app="other-app"), True)
    # 1.5 (app) + 1.5 (other-app) = 3 CPUs on a1; no room for a third executor.
    result = plan([firing("job", 1), other, firing("third", 1)], [offer("a1", 3, 8192)])
    assert [p.task.job_name for p in result.placements] == ["job", "other"]
    result = plan([firing("job", 1), firing("third", 1)], [offer("a1", 3, 8192)])
    assert len(result.placements) == 2  # same app: executor charged once


def test_constraints_restrict_agents() -> None:
    offers = [offer("a1", 32, 32768, rack="b"), offer("a2", 2, 2048, rack="a"), offer("a3", 64, 65536)]
    result = plan([firing("job", 1, rack="a")], offers)
    assert placed(result) == [("job@0", "a2")]


def test_constraint_matching_no_agent() -> None:
    result = plan([firing("job", 2, rack="z")], [offer("a1", 32, 32768, rack="b")])
    assert result.placements == ()
    assert result.unplaced[0].reason == (
        "only 0 of 2 shards fit; a firing starts all its shards or none; "
        "shard 0: constraint rack=z matched no agent"
    )


def test_spread_and_binpack_place_differently() -> None:
    offers = [offer("a1", 4, 4096), offer("a2", 4, 4096)]
    assert [p.agent_id for p in plan([firing("job", 2)], offers).placements] == ["a1", "a2"]
    assert [p.agent_id for p in plan([firing("job", 2)], offers, BinPack()).placements] == ["a1", "a1"]


def test_never_over_commits_with_fractional_amounts() -> None:
    tasks = tuple(TaskRequest(f"t{i}", "job", i, "app", Resources(0.1, 0.1)) for i in range(11))
    result = plan([TaskGroup("g", tasks, False)], [offer("a1", 1.0, 1.0)])
    assert len(result.placements) == 10
    assert len(result.unplaced) == 1


def test_input_order_of_offers_does_not_matter() -> None:
    offers = [offer(f"a{i}", 4, 4096) for i in range(5)]
    groups = [firing("job", 7), failover("lost", 3)]
    assert plan(groups, offers) == plan(groups, list(reversed(offers)))


def test_identical_failed_tasks_share_the_explanation() -> None:
    # Many failover shards that cannot fit: all get the same reason (computed once per state).
    result = plan([failover("lost", 50, cpus=64)], [offer("a1", 4, 4096)])
    assert len({u.reason for u in result.unplaced}) == 1
    assert len(result.unplaced) == 50


def test_duplicate_agents_are_rejected() -> None:
    with pytest.raises(ValueError, match="two offers for agent a1"):
        plan([], [offer("a1", 1, 1), offer("a1", 2, 2)])


def test_duplicate_task_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="job@0 appears twice"):
        plan([firing("job", 1), firing("job", 1)], [offer("a1", 1, 1)])


def test_inputs_are_not_modified() -> None:
    offers = [offer("a1", 4, 4096)]
    groups = [firing("job", 2)]
    plan(groups, offers)
    assert offers == [offer("a1", 4, 4096)]
    assert groups == [firing("job", 2)]
