"""CandidateIndex: the sorted index must find exactly the agent a full scan would find."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.placement import BinPack, Offer, Resources, Scorer, Spread, TaskRequest
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
    assert index(agents, Spread()).best(task(1, 512), ANY, FIT) is agents[1]


def test_binpack_picks_the_agent_left_with_least() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 8, 8192), ledger("a3", 1, 256)]
    assert index(agents, BinPack()).best(task(1, 512), ANY, FIT) is agents[0]


def test_none_when_nothing_fits() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 0.5, 8192)]
    assert index(agents, Spread()).best(task(1, 2048), ANY, FIT) is None


def test_ties_go_to_the_smallest_agent_id() -> None:
    agents = [ledger("b", 4, 4096), ledger("a", 4, 4096), ledger("c", 4, 4096)]
    agents.sort(key=lambda a: a.agent_id)
    assert index(agents, Spread()).best(task(1, 512), ANY, FIT).agent_id == "a"  # type: ignore[union-attr]
    assert index(agents, BinPack()).best(task(1, 512), ANY, FIT).agent_id == "a"  # type: ignore[union-attr]


def test_tie_with_a_later_agent_that_skips_the_executor_charge() -> None:
    # a2 is ahead in the index (more free), but it must start the executor: both end with 1 CPU, 512 MB,
    # so the tie goes to a1, which comes later in the scan.
    agents = [ledger("a1", 2, 1024, frozenset({"app"})), ledger("a2", 2.1, 1088)]
    assert index(agents, Spread()).best(task(1, 512), ANY, FIT) is agents[0]


def test_binpack_counts_the_executor_charge_as_used() -> None:
    # a1 has less free, but a2 ends with less once its executor is charged: best fit is a2.
    agents = [ledger("a1", 2, 1024, frozenset({"app"})), ledger("a2", 2.05, 1070)]
    assert index(agents, BinPack()).best(task(1, 512), ANY, FIT) is agents[1]


def test_spread_prefers_an_agent_that_already_runs_the_app() -> None:
    agents = [ledger("a1", 2, 1024), ledger("a2", 1.95, 1000, frozenset({"app"}))]
    assert index(agents, Spread()).best(task(1, 512), ANY, FIT) is agents[1]


def test_constraint_lists_hold_only_matching_agents() -> None:
    agents = [ledger("a1", 8, 8192, rack="r1"), ledger("a2", 2, 1024, rack="r2"), ledger("a3", 4, 4096)]
    idx = index(agents, Spread())
    r2 = ConstraintFilter({"rack": "r2"})
    assert idx.best(task(1, 512), r2, FIT) is agents[1]
    assert idx.matching(r2, task(1, 512)) == (agents[1],)
    assert idx.best(task(1, 512), ConstraintFilter({"rack": "r9"}), FIT) is None


def test_rekey_follows_balance_changes_and_revives_agents_given_back_resources() -> None:
    agents = [ledger("a1", 4, 4096), ledger("a2", 3, 3072)]
    idx = index(agents, Spread(), floor=(1000, 1000 * 1000))
    request = task(1, 1000, executor=Resources(0, 0))
    undo = agents[0].take(task(3.5, 3500, executor=Resources(0, 0), key="big"))
    idx.rekey(agents[0])  # a1 falls below the floor: it leaves the lists
    assert idx.best(request, ANY, FIT) is agents[1]
    agents[0].give_back(task(3.5, 3500, key="big"), undo)
    idx.rekey(agents[0])
    assert idx.best(request, ANY, FIT) is agents[0]


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
        found = idx.best(request, ANY, FIT)
        assert (found.agent_id if found else None) == brute_force(agents, w, request)
        if found is not None:
            found.take(request)
            idx.rekey(found)
