"""Property tests of plan(): invariants that must hold for any offers and task groups.

Besides the safety invariants (no over-commit, all-or-nothing, each task accounted for once, constraints,
determinism), plan() is compared with a brute-force reference planner that scores every agent for every
task: the sorted candidate index, its scan bounds and the retirement of exhausted agents must never
change a decision, only its cost.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.placement import (
    BinPack,
    LaunchPlan,
    Offer,
    Resources,
    Scorer,
    Spread,
    TaskGroup,
    TaskRequest,
    candidate_index,
    plan,
)
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.resource_fit_filter import ResourceFitFilter

APPS = ("app-x", "app-y", "app-z")
SCORERS: tuple[Scorer, ...] = (Spread(), BinPack())

cpu_amounts = st.sampled_from([0, 0.1, 0.2, 0.25, 0.3, 0.5, 1, 1.5, 2, 3.7])
mem_amounts = st.sampled_from([0, 64, 100.5, 128, 256, 512, 1000, 1024, 2048])
resources = st.builds(Resources, cpu_amounts, mem_amounts)
small_resources = st.builds(
    Resources, st.sampled_from([0, 0.1, 0.25, 0.5, 1]), st.sampled_from([0, 32, 64, 128, 512])
)


@st.composite
def offer_lists(draw: st.DrawFn) -> list[Offer]:
    ids = draw(st.lists(st.sampled_from([f"a{i}" for i in range(12)]), max_size=8, unique=True))
    offers = []
    for agent_id in ids:
        # Amounts an executor apart (0.1 CPUs, 64 MB) make exact score ties and near-ties common.
        cpus = draw(st.sampled_from([0, 0.3, 0.5, 1, 1.1, 1.5, 2, 2.1, 4, 8]))
        mem = draw(st.sampled_from([0, 128, 300, 512, 576, 1024, 1088, 2048, 4096]))
        attributes = {}
        rack = draw(st.sampled_from([None, "r1", "r2"]))
        if rack is not None:
            attributes["rack"] = rack
        if draw(st.booleans()):
            attributes["zone"] = draw(st.sampled_from(["z1", "z2"]))
        running = draw(st.frozensets(st.sampled_from(APPS), max_size=2))
        offers.append(Offer(agent_id, f"{agent_id}.host", Resources(cpus, mem), attributes, running))
    return offers


@st.composite
def group_lists(draw: st.DrawFn) -> list[TaskGroup]:
    # One executor cost per app, as in the real system (it is the app's configuration).
    executor = {app: draw(small_resources) for app in APPS}
    groups = []
    for g in range(draw(st.integers(0, 7))):
        size = draw(st.integers(0, 4))
        app = draw(st.sampled_from(APPS))
        shard = draw(resources)
        uniform = draw(st.booleans())  # shards of a firing usually all have the job's size
        tasks = [
            TaskRequest(
                task_key=f"g{g}-t{i}",
                job_name=f"job{g}",
                sharding_item=i,
                app_name=app,
                resources=shard if uniform else draw(resources),
                app_resources=executor[app],
            )
            for i in range(size)
        ]
        constraints = draw(
            st.sampled_from(
                [{}, {}, {"rack": "r1"}, {"rack": "r2"}, {"rack": "r3"}, {"rack": "r1", "zone": "z1"}]
            )
        )
        groups.append(
            TaskGroup(
                group_key=f"g{g}",
                tasks=tuple(tasks),
                all_or_nothing=draw(st.booleans()),
                constraints=constraints,
                priority=draw(st.integers(0, 2)),
            )
        )
    return groups


def reference_plan(
    groups: Sequence[TaskGroup], offers: Sequence[Offer], scorer: Scorer
) -> list[tuple[str, str]]:
    """(task_key, agent_id) decisions of a naive planner that looks at every agent for every task."""
    agents = sorted(offers, key=lambda offer: offer.agent_id)
    scale = Resources.from_milli(
        max((o.free.milli_cpus for o in agents), default=1) or 1,
        max((o.free.milli_mem for o in agents), default=1) or 1,
    )
    w_cpu, w_mem = scorer.weights(scale)
    free = {o.agent_id: [o.free.milli_cpus, o.free.milli_mem] for o in agents}
    apps = {o.agent_id: set(o.apps_running) for o in agents}
    decisions: list[tuple[str, str]] = []
    for _, group in sorted(enumerate(groups), key=lambda pair: (-pair[1].priority, pair[0])):
        saved = ({k: list(v) for k, v in free.items()}, {k: set(v) for k, v in apps.items()})
        chosen: list[tuple[str, str]] = []
        failed = False
        for task in group.tasks:
            best: tuple[int, str] | None = None
            for offer in agents:
                if any(offer.attributes.get(k) != v for k, v in group.constraints.items()):
                    continue
                charged = task.app_name not in apps[offer.agent_id]
                cpus = task.resources.milli_cpus + (task.app_resources.milli_cpus if charged else 0)
                mem = task.resources.milli_mem + (task.app_resources.milli_mem if charged else 0)
                left_cpus, left_mem = free[offer.agent_id][0] - cpus, free[offer.agent_id][1] - mem
                if left_cpus < 0 or left_mem < 0:
                    continue
                rank = (-(w_cpu * left_cpus + w_mem * left_mem), offer.agent_id)
                if best is None or rank < best:
                    best = rank
            if best is None:
                failed = True
                continue
            agent_id = best[1]
            charged = task.app_name not in apps[agent_id]
            free[agent_id][0] -= task.resources.milli_cpus + (task.app_resources.milli_cpus if charged else 0)
            free[agent_id][1] -= task.resources.milli_mem + (task.app_resources.milli_mem if charged else 0)
            apps[agent_id].add(task.app_name)
            chosen.append((task.task_key, agent_id))
        if failed and group.all_or_nothing:
            free, apps = saved
        else:
            decisions.extend(chosen)
    return decisions


def usage(result: LaunchPlan, offers: Sequence[Offer]) -> dict[str, list[int]]:
    """Milli-CPUs and milli-MB taken on each agent, executor charges included."""
    running = {o.agent_id: set(o.apps_running) for o in offers}
    used: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for placement in result.placements:
        task = placement.task
        used[placement.agent_id][0] += task.resources.milli_cpus
        used[placement.agent_id][1] += task.resources.milli_mem
        if task.app_name not in running[placement.agent_id]:
            running[placement.agent_id].add(task.app_name)
            used[placement.agent_id][0] += task.app_resources.milli_cpus
            used[placement.agent_id][1] += task.app_resources.milli_mem
    return used


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS))
def test_never_over_commits_an_agent(offers: list[Offer], groups: list[TaskGroup], scorer: Scorer) -> None:
    result = plan(groups, offers, scorer)
    by_id = {o.agent_id: o for o in offers}
    for agent_id, (cpus, mem) in usage(result, offers).items():
        assert cpus <= by_id[agent_id].free.milli_cpus
        assert mem <= by_id[agent_id].free.milli_mem


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS))
def test_every_task_is_placed_or_unplaced_exactly_once(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer
) -> None:
    result = plan(groups, offers, scorer)
    given_keys = sorted(task.task_key for group in groups for task in group.tasks)
    out_keys = sorted(
        [p.task.task_key for p in result.placements] + [u.task.task_key for u in result.unplaced]
    )
    assert out_keys == given_keys
    assert all(u.reason for u in result.unplaced)


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS))
def test_all_or_nothing_groups_are_whole(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer
) -> None:
    result = plan(groups, offers, scorer)
    placed = {p.task.task_key for p in result.placements}
    reasons = {u.task.task_key: u.reason for u in result.unplaced}
    for group in groups:
        if not group.all_or_nothing:
            continue
        keys = {task.task_key for task in group.tasks}
        assert keys <= placed or not (keys & placed)
        if keys and not keys & placed and offers:
            assert len({reasons[key] for key in keys}) == 1
            assert reasons[next(iter(keys))].startswith("only ")


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS))
def test_constraints_are_respected(offers: list[Offer], groups: list[TaskGroup], scorer: Scorer) -> None:
    result = plan(groups, offers, scorer)
    by_id = {o.agent_id: o for o in offers}
    constraints = {task.task_key: group.constraints for group in groups for task in group.tasks}
    for placement in result.placements:
        wanted = constraints[placement.task.task_key]
        assert all(by_id[placement.agent_id].attributes.get(k) == v for k, v in wanted.items())
        assert placement.hostname == by_id[placement.agent_id].hostname


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_offer_order(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer, rnd: random.Random
) -> None:
    result = plan(groups, offers, scorer)
    assert plan(groups, offers, scorer) == result
    shuffled = list(offers)
    rnd.shuffle(shuffled)
    assert plan(groups, shuffled, scorer) == result


@settings(max_examples=200, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS), st.randoms(use_true_random=False))
def test_only_the_order_within_a_priority_matters(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer, rnd: random.Random
) -> None:
    # Interleave the groups differently, keeping the relative order of groups of equal priority.
    by_priority: dict[int, list[TaskGroup]] = defaultdict(list)
    for group in groups:
        by_priority[group.priority].append(group)
    queues = [list(q) for q in by_priority.values()]
    interleaved: list[TaskGroup] = []
    while queues:
        queue = rnd.choice(queues)
        interleaved.append(queue.pop(0))
        queues = [q for q in queues if q]
    assert plan(interleaved, offers, scorer) == plan(groups, offers, scorer)


@settings(max_examples=400, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS))
def test_same_decisions_as_a_brute_force_planner(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer
) -> None:
    result = plan(groups, offers, scorer)
    assert [(p.task.task_key, p.agent_id) for p in result.placements] == reference_plan(
        groups, offers, scorer
    )


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS), st.sampled_from([(1, 0), (2, 4)]))
def test_same_plan_when_searches_go_through_the_bitsets(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer, budget: tuple[int, int]
) -> None:
    # The index's shortcut for long runs of misfits (candidate_index.SCAN_BUDGET) must not change a plan,
    # reasons included: force it after one or two misfits.
    expected = plan(groups, offers, scorer)
    with patch.object(candidate_index, "SCAN_BUDGET", budget[0]), patch.object(
        candidate_index, "_BIT_COST", budget[1]
    ):
        assert plan(groups, offers, scorer) == expected


@settings(max_examples=300, deadline=None)
@given(offer_lists(), group_lists(), st.sampled_from(SCORERS))
def test_an_unplaced_failover_task_fits_nowhere_in_the_end(
    offers: list[Offer], groups: list[TaskGroup], scorer: Scorer
) -> None:
    # Balances only shrink after a failover task is found not to fit, so it must still not fit at the end.
    result = plan(groups, offers, scorer)
    used = usage(result, offers)
    ledgers = []
    for offer in offers:
        ledger = AgentLedger(offer)
        ledger.free_mcpus -= used[offer.agent_id][0]
        ledger.free_mmem -= used[offer.agent_id][1]
        ledger.apps |= {p.task.app_name for p in result.placements if p.agent_id == offer.agent_id}
        ledgers.append(ledger)
    constraints = {task.task_key: group.constraints for group in groups for task in group.tasks}
    failover = {task.task_key for group in groups if not group.all_or_nothing for task in group.tasks}
    fit = ResourceFitFilter()
    for unplaced in result.unplaced:
        if unplaced.task.task_key not in failover:
            continue
        wanted = constraints[unplaced.task.task_key]
        for ledger in ledgers:
            if all(ledger.attributes.get(k) == v for k, v in wanted.items()):
                assert fit.exclude(unplaced.task, ledger) is not None


@settings(max_examples=300, deadline=None)
@given(offer_lists(), st.sampled_from(APPS), resources, small_resources)
def test_fit_summary_agrees_with_exclude(
    offers: list[Offer], app: str, shard: Resources, executor: Resources
) -> None:
    task = TaskRequest("t", "job", 0, app, shard, executor)
    ledgers = [AgentLedger(offer) for offer in sorted(offers, key=lambda o: o.agent_id)]
    fit = ResourceFitFilter()
    exclusions = [fit.exclude(task, ledger) for ledger in ledgers]
    summary = fit.summarize(task, ledgers)
    assert summary.agents == len(ledgers)
    assert summary.fitting == sum(e is None for e in exclusions)
    assert summary.lacking_cpus == sum(e is not None and "cpus" in e.lacks for e in exclusions)
    assert summary.lacking_mem == sum(e is not None and "mem" in e.lacks for e in exclusions)


@settings(max_examples=300, deadline=None)
@given(resources, resources)
def test_resources_arithmetic_is_exact(a: Resources, b: Resources) -> None:
    total = a.plus(b)
    assert total.minus(b) == a
    assert a.fits(total) and b.fits(total)
    assert a.fits(b) == (a.cpus <= b.cpus and a.mem_mb <= b.mem_mb)
