"""CandidateIndex: the sorted index must find exactly the agent a full scan would find."""

from __future__ import annotations

from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.placement import BinPack, Offer, Resources, Scorer, Spread, TaskRequest, candidate_index
from elasticjob.placement.candidate_index import CandidateIndex
from elasticjob.placement.constraint_filter import ConstraintFilter
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.resource_fit_filter import ResourceFitFilter

EXECUTOR = Resources(0.1, 64)
ANY = ConstraintFilter({})
FIT = ResourceFitFilter()


def ledger(
    agent_id: str, cpus: float, mem: float, apps: frozenset[str] = frozenset(), **attrs: str
) -> AgentLedger:
    return AgentLedger(Offer(agent_id, agent_id + ".host", Resources(cpus, mem), attrs, apps))


def task(
    cpus: float, mem: float, app: str = "app", executor: Resources = EXECUTOR, key: str = "t"
) -> TaskRequest:
    return TaskRequest(key, "job", 0, app, Resources(cpus, mem), executor)


def weights(agents: list[AgentLedger], scorer: Scorer) -> tuple[int, int]:
    return scorer.weights(
        Resources.from_milli(max(a.free_mcpus for a in agents) or 1, max(a.free_mmem for a in agents) or 1)
    )


def index(agents: list[AgentLedger], scorer: Scorer, floor: tuple[int, int] = (0, 0)) -> CandidateIndex:
    return CandidateIndex(agents, weights(agents, scorer), floor)


def brute_force(agents: list[AgentLedger], w: tuple[int, int], request: TaskRequest) -> str | None:
    """The agent a scan of every agent would choose: best score left, then smallest agent_id."""
    ranked = []
    for agent in agents:
        cpus, mem = agent.demand(request)
        if cpus <= agent.free_mcpus and mem <= agent.free_mmem:
            ranked.append(
                (-(w[0] * (agent.free_mcpus - cpus) + w[1] * (agent.free_mmem - mem)), agent.agent_id)
            )
    return min(ranked)[1] if ranked else None


def test_spread_picks_the_agent_left_with_most() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 8, 8192), ledger("a3", 4, 4096)]
    assert index(agents, Spread()).best(task(1, 512), ANY) is agents[1]


def test_binpack_picks_the_agent_left_with_least() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 8, 8192), ledger("a3", 1, 256)]
    assert index(agents, BinPack()).best(task(1, 512), ANY) is agents[0]


def test_none_when_nothing_fits() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 0.5, 8192)]
    assert index(agents, Spread()).best(task(1, 2048), ANY) is None


def test_ties_go_to_the_smallest_agent_id() -> None:
    agents = [ledger("b", 4, 4096), ledger("a", 4, 4096), ledger("c", 4, 4096)]
    agents.sort(key=lambda a: a.agent_id)
    assert index(agents, Spread()).best(task(1, 512), ANY).agent_id == "a"  # type: ignore[union-attr]
    assert index(agents, BinPack()).best(task(1, 512), ANY).agent_id == "a"  # type: ignore[union-attr]


def test_tie_with_a_later_agent_that_skips_the_executor_charge() -> None:
    # a2 is ahead in the index (more free), but it must start the executor: both end with 1 CPU, 512 MB,
    # so the tie goes to a1, which comes later in the scan.
    agents = [ledger("a1", 2, 1024, frozenset({"app"})), ledger("a2", 2.1, 1088)]
    assert index(agents, Spread()).best(task(1, 512), ANY) is agents[0]


def test_binpack_counts_the_executor_charge_as_used() -> None:
    # a1 has less free, but a2 ends with less once its executor is charged: best fit is a2.
    agents = [ledger("a1", 2, 1024, frozenset({"app"})), ledger("a2", 2.05, 1070)]
    assert index(agents, BinPack()).best(task(1, 512), ANY) is agents[1]


def test_spread_prefers_an_agent_that_already_runs_the_app() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 1.95, 1000, frozenset({"app"}))]
    assert index(agents, Spread()).best(task(1, 512), ANY) is agents[1]


def test_constraint_lists_hold_only_matching_agents() -> None:
    agents = [ledger("a1", 8, 8192, rack="r1"), ledger("a2", 2, 1024, rack="r2"), ledger("a3", 4, 4096)]
    idx = index(agents, Spread())
    r2 = ConstraintFilter({"rack": "r2"})
    assert idx.best(task(1, 512), r2) is agents[1]
    assert idx.matching(r2) == (agents[1],)
    assert idx.best(task(1, 512), ConstraintFilter({"rack": "r9"})) is None


def test_take_and_give_back_re_sort_and_revive_agents_given_back_resources() -> None:
    agents = [ledger("a1", 4, 4096), ledger("a2", 3, 3072)]
    idx = index(agents, Spread(), floor=(1000, 1000 * 1000))
    request = task(1, 1000, executor=Resources(0, 0))
    big = task(3.5, 3500, executor=Resources(0, 0), key="big")
    undo = idx.take(agents[0], big)  # a1 falls below the floor: it leaves the lists
    assert idx.best(request, ANY) is agents[1]
    idx.give_back(agents[0], big, undo)
    assert idx.best(request, ANY) is agents[0]


cpus = st.sampled_from([0, 0.5, 0.9, 1, 1.05, 1.1, 1.2, 2, 2.1])
mems = st.sampled_from([0, 448, 512, 576, 640, 1024, 1088])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(cpus, mems, st.booleans()), min_size=1, max_size=8),
    st.sampled_from([Spread(), BinPack()]),
    st.lists(
        st.tuples(st.sampled_from([0.5, 1, 0.4]), st.sampled_from([256, 512, 448])), min_size=1, max_size=6
    ),
)
def test_matches_a_full_scan_through_a_series_of_placements(
    shapes: list[tuple[float, float, bool]], scorer: Scorer, requests: list[tuple[float, float]]
) -> None:
    agents = [
        ledger(f"a{i}", c, m, frozenset({"app"}) if running else frozenset())
        for i, (c, m, running) in enumerate(shapes)
    ]
    w = weights(agents, scorer)  # fixed when the index is built, as in plan()
    idx = CandidateIndex(agents, w, (0, 0))
    for n, (c, m) in enumerate(requests):
        request = task(c, m, key=f"t{n}")
        found = idx.best(request, ANY)
        assert (found.agent_id if found else None) == brute_force(agents, w, request)
        if found is not None:
            idx.take(found, request)


def test_a_long_run_of_misfits_is_cut_short_by_the_bitsets() -> None:
    # 100 agents with much memory but too few CPUs for the task rank ahead of the one that fits.
    agents = [ledger(f"a{i:03d}", 0.5, 65536) for i in range(100)] + [ledger("b", 2, 1024)]
    idx = index(agents, Spread())
    assert idx.best(task(1, 512), ANY) is agents[-1]
    assert idx.best(task(4, 512), ANY) is None
    summary = idx.summarize(task(4, 512), ANY)
    assert (summary.agents, summary.fitting, summary.lacking_cpus, summary.lacking_mem) == (101, 0, 101, 0)
    assert summary.most_cpus is agents[-1] and summary.most_mem is agents[0]


requests = st.lists(
    st.tuples(
        st.sampled_from([0.5, 1, 0.4]),
        st.sampled_from([256, 512, 448]),
        st.sampled_from(["app", "other"]),
        st.sampled_from([{}, {"rack": "r1"}]),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(cpus, mems, st.booleans(), st.booleans()), min_size=1, max_size=10),
    st.sampled_from([Spread(), BinPack()]),
    requests,
    st.sampled_from([(1, 0), (1, 4), (2, 1), (32, 4)]),
)
def test_every_search_path_and_summary_match_a_full_scan(
    shapes: list[tuple[float, float, bool, bool]],
    scorer: Scorer,
    steps: list[tuple[float, float, str, dict[str, str], bool]],
    budget: tuple[int, int],
) -> None:
    # A tiny scan budget sends searches through the bitsets (ties, charges and rollbacks included), and
    # summaries after takes and give-backs must say what ResourceFitFilter.summarize says.
    agents = [
        ledger(f"a{i}", c, m, frozenset({"app"}) if running else frozenset(), **({"rack": "r1"} if r1 else {}))
        for i, (c, m, running, r1) in enumerate(shapes)
    ]
    w = weights(agents, scorer)
    idx = CandidateIndex(agents, w, (0, 0))
    taken: list[tuple[AgentLedger, TaskRequest, tuple[int, int, bool]]] = []
    with patch.object(candidate_index, "SCAN_BUDGET", budget[0]), patch.object(
        candidate_index, "_BIT_COST", budget[1]
    ):
        for n, (c, m, app, constraints, give_back) in enumerate(steps):
            request = TaskRequest(f"t{n}", "job", 0, app, Resources(c, m), EXECUTOR)
            constraint = ConstraintFilter(constraints)
            matching = [a for a in agents if constraint.exclude(request, a) is None]
            found = idx.best(request, constraint)
            assert (found.agent_id if found else None) == brute_force(matching, w, request)
            if found is None:
                assert idx.summarize(request, constraint) == FIT.summarize(request, matching)
            else:
                taken.append((found, request, idx.take(found, request)))
            if give_back and taken:
                agent, old, undo = taken.pop()
                idx.give_back(agent, old, undo)
