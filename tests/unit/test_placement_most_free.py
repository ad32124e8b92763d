"""MostFree: the member with the most free CPUs / memory (ties: smallest position), through balance changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.placement import Offer, Resources
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.most_free import MostFree


def ledger(i: int, cpus: float, mem: float) -> AgentLedger:
    return AgentLedger(Offer(f"a{i:02d}", "h", Resources(cpus, mem)))


def slow_most(agents: list[AgentLedger], members: list[int], attribute: str) -> AgentLedger | None:
    best = None
    for p in members:  # ascending positions: strict > keeps the smallest on ties
        if best is None or getattr(agents[p], attribute) > getattr(best, attribute):
            best = agents[p]
    return best


def test_no_members() -> None:
    most = MostFree([ledger(0, 1, 1)], [])
    assert most.most_cpus() is None and most.most_mem() is None


def test_ties_go_to_the_smallest_position() -> None:
    agents = [ledger(0, 1, 512), ledger(1, 2, 512), ledger(2, 2, 256)]
    most = MostFree(agents, [0, 1, 2])
    assert most.most_cpus() is agents[1]
    assert most.most_mem() is agents[0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 7), st.integers(0, 8), st.integers(0, 8)), max_size=120),
    st.integers(1, 255),
)
def test_follows_any_series_of_balance_changes(
    shapes: list[tuple[int, int]], changes: list[tuple[int, int, int]], member_bits: int
) -> None:
    agents = [ledger(i, c, m) for i, (c, m) in enumerate(shapes)]
    members = [i for i in range(len(agents)) if member_bits >> i & 1]
    most = MostFree(agents, members)
    for which, cpus, mem in changes:  # up as well as down, as a rollback gives resources back
        position = which % len(agents)
        agents[position].free_mcpus, agents[position].free_mmem = cpus * 1000, mem * 1000
        if position in members:
            most.moved(position)
        assert most.most_cpus() is slow_most(agents, members, "free_mcpus")
        assert most.most_mem() is slow_most(agents, members, "free_mmem")
