"""Reasons given to unplaced tasks: one sentence an operator can act on (formats in reasons.py)."""

from __future__ import annotations

import pytest

from elasticjob.placement import (
    NO_AGENTS,
    FrozenMap,
    Offer,
    PatternConstraint,
    PatternOperator,
    ResourceFitFilter,
    Resources,
    TaskGroup,
    TaskRequest,
    plan,
)
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.reasons import all_or_nothing_reason, explain

NO_EXECUTOR = Resources(0, 0)


def task(cpus: float, mem: float, executor: Resources = NO_EXECUTOR, item: int = 0) -> TaskRequest:
    return TaskRequest(f"job@{item}", "job", item, "billing", Resources(cpus, mem), executor)


def offer(agent_id: str, cpus: float, mem: float, running: bool = False, **attrs: str) -> Offer:
    apps = frozenset({"billing"}) if running else frozenset()
    return Offer(agent_id, agent_id + ".host", Resources(cpus, mem), attrs, apps)


def reason_for(request: TaskRequest, offers: list[Offer], constraints: dict[str, str] | None = None) -> str:
    result = plan([TaskGroup("g", (request,), False, constraints or {})], offers)
    assert not result.placements
    return result.unplaced[0].reason


def test_no_agents() -> None:
    assert reason_for(task(1, 1), []) == NO_AGENTS == "no agents registered"


def test_memory_short_everywhere() -> None:
    offers = [offer("a1", 8, 2048), offer("a2", 8, 1024)]
    assert (
        reason_for(task(1, 4096), offers) == "no agent with 4096 MB free (largest free: 2048 MB on agent a1)"
    )


def test_cpus_short_everywhere() -> None:
    offers = [offer("a1", 1, 8192), offer("a2", 2, 8192)]
    assert (
        reason_for(task(2.5, 512), offers) == "no agent with 2.5 CPUs free (largest free: 2 CPUs on agent a2)"
    )


def test_both_short_everywhere() -> None:
    offers = [offer("a1", 1, 2048), offer("a2", 2, 1024)]
    assert reason_for(task(4, 4096), offers) == (
        "no agent with 4 CPUs and 4096 MB free (largest free: 2 CPUs on agent a2, 2048 MB on agent a1)"
    )


def test_each_agent_short_of_something_else() -> None:
    offers = [offer("a1", 8, 1024), offer("a2", 1, 8192), offer("a3", 0.5, 8192)]
    assert reason_for(task(2, 4096), offers) == (
        "no agent with both 2 CPUs and 4096 MB free (2 agents lack CPUs, 1 lack memory)"
    )


def test_one_constraint_matching_no_agent() -> None:
    offers = [offer("a1", 8, 8192, rack="b"), offer("a2", 8, 8192)]
    assert reason_for(task(1, 1), offers, {"rack": "a"}) == "constraint rack=a matched no agent"


def test_several_constraints_matching_no_agent() -> None:
    offers = [offer("a1", 8, 8192, rack="a", zone="z2"), offer("a2", 8, 8192, rack="b", zone="z1")]
    reason = reason_for(task(1, 1), offers, {"zone": "z1", "rack": "a"})
    assert reason == "constraints rack=a, zone=z1 matched no agent"


def test_resources_among_the_agents_matching_the_constraints() -> None:
    offers = [offer("a1", 8, 8192, rack="b"), offer("a2", 8, 1024, rack="a")]
    assert reason_for(task(1, 2048), offers, {"rack": "a"}) == (
        "no agent matching rack=a with 2048 MB free (largest free: 1024 MB on agent a2)"
    )


def test_executor_note_when_the_app_would_need_a_new_executor() -> None:
    offers = [offer("a1", 8, 2048), offer("a2", 8, 1500, running=True)]
    assert reason_for(task(1, 1800, Resources(0.25, 512)), offers) == (
        "no agent with 1800 MB free "
        "(+0.25 CPUs, 512 MB for app billing's executor where it is not running yet; "
        "largest free: 2048 MB on agent a1)"
    )


def test_no_executor_note_when_the_app_runs_everywhere() -> None:
    offers = [offer("a1", 8, 1024, running=True)]
    assert reason_for(task(1, 2048, Resources(0.25, 512)), offers) == (
        "no agent with 2048 MB free (largest free: 1024 MB on agent a1)"
    )


def test_largest_free_reflects_earlier_placements_of_the_same_plan() -> None:
    offers = [offer("a1", 8, 4096)]
    first = TaskGroup("g1", (task(1, 3072, item=0),), False)
    second = TaskGroup("g2", (task(1, 2048, item=1),), False)
    result = plan([first, second], offers)
    assert result.unplaced[0].reason == "no agent with 2048 MB free (largest free: 1024 MB on agent a1)"


def test_rolled_back_firing() -> None:
    offers = [offer("a1", 3, 8192)]
    tasks = tuple(task(1, 512, item=i) for i in range(5))
    result = plan([TaskGroup("job", tasks, True)], offers)
    reasons = {u.reason for u in result.unplaced}
    assert reasons == {
        "only 3 of 5 shards fit; a firing starts all its shards or none; "
        "shard 3: no agent with 1 CPU free (largest free: 0 CPUs on agent a1)"
    }


def test_all_or_nothing_reason_format() -> None:
    assert all_or_nothing_reason(0, 2, task(1, 1, item=7), "why") == (
        "only 0 of 2 shards fit; a firing starts all its shards or none; shard 7: why"
    )


def test_explain_refuses_a_task_that_fits() -> None:
    agents = [AgentLedger(offer("a1", 8, 8192))]
    summary = ResourceFitFilter().summarize(task(1, 1), agents)
    with pytest.raises(ValueError, match="nothing to explain"):
        explain(task(1, 1), 1, FrozenMap(), summary)


def test_singular_cpu_and_one_agent_lacking() -> None:
    offers = [offer("a1", 0.5, 8192), offer("a2", 8, 256)]
    assert reason_for(task(1, 512), offers) == (
        "no agent with both 1 CPU and 512 MB free (1 agent lacks CPUs, 1 lack memory)"
    )


def test_a_pattern_constraint_that_matches_no_agent_is_named() -> None:
    rule = PatternConstraint("rack", PatternOperator.LIKE, "c|d")
    result = plan([TaskGroup("g", (task(1, 1),), False, {}, patterns=(rule,))], [offer("a1", 4, 4, rack="a")])
    assert result.unplaced[0].reason == "constraint rack LIKE c|d matched no agent"


def test_with_several_constraints_the_one_no_agent_satisfies_alone_is_named() -> None:
    rule = PatternConstraint("zone", PatternOperator.UNLIKE, "z.*")
    offers = [offer("a1", 4, 4, rack="a", zone="z1"), offer("a2", 4, 4, rack="b", zone="z2")]
    result = plan([TaskGroup("g", (task(1, 1),), False, {"rack": "a"}, patterns=(rule,))], offers)
    assert result.unplaced[0].reason == (
        "constraints rack=a, zone UNLIKE z.* matched no agent (none on its own: zone UNLIKE z.*)")


def test_resource_reasons_say_which_pattern_the_agents_matched() -> None:
    rule = PatternConstraint("rack", PatternOperator.LIKE, "a.*")
    result = plan([TaskGroup("g", (task(8, 1),), False, {}, patterns=(rule,))], [offer("a1", 2, 4, rack="a1")])
    assert result.unplaced[0].reason == "no agent matching rack LIKE a.* with 8 CPUs free (largest free: 2 CPUs on agent a1)"


def test_pattern_constraints_choose_the_agent() -> None:
    offers = [offer("a1", 4, 4, rack="a"), offer("a2", 4, 4, rack="b")]
    for op, chosen in ((PatternOperator.LIKE, "a2"), (PatternOperator.UNLIKE, "a1")):
        group = TaskGroup("g", (task(1, 1),), False, {}, patterns=(PatternConstraint("rack", op, "b"),))
        assert [p.agent_id for p in plan([group], offers).placements] == [chosen]
