"""ShortageBits: bitsets of agents short of CPUs or memory must say what ResourceFitFilter says, agent by agent,
through any series of balance changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.placement import Offer, ResourceFitFilter, Resources, TaskRequest
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.shortage_bits import ShortageBits, bits_of, positions

FIT = ResourceFitFilter()


def ledger(i: int, cpus: float, mem: float, running: bool) -> AgentLedger:
    apps = frozenset({"app"}) if running else frozenset()
    return AgentLedger(Offer(f"a{i:02d}", "h", Resources(cpus, mem), apps_running=apps))


def request(cpus: float, mem: float, executor: Resources, key: str = "t") -> TaskRequest:
    return TaskRequest(key, "job", 0, "app", Resources(cpus, mem), executor)


def expected(agents: list[AgentLedger], task: TaskRequest, members: int) -> tuple[int, int]:
    """The bitsets computed the slow way, from ResourceFitFilter.exclude."""
    lacks_cpus, lacks_mem = [], []
    for i, agent in enumerate(agents):
        exclusion = FIT.exclude(task, agent) if members >> i & 1 else None
        lacks_cpus.append(exclusion is not None and "cpus" in exclusion.lacks)
        lacks_mem.append(exclusion is not None and "mem" in exclusion.lacks)
    return bits_of(lacks_cpus), bits_of(lacks_mem)


def test_bits_of_and_positions_round_trip() -> None:
    assert bits_of([]) == 0
    assert bits_of([True, False, True]) == 0b101
    assert list(positions(0b101)) == [0, 2]
    assert list(positions(0)) == []
    flags = [i % 7 == 3 for i in range(300)]
    assert list(positions(bits_of(flags))) == [i for i, flag in enumerate(flags) if flag]


def test_an_agent_running_the_app_needs_no_executor() -> None:
    agents = [ledger(0, 1, 512, running=False), ledger(1, 1, 512, running=True)]
    bits = ShortageBits(agents)
    lacks_cpus, lacks_mem = bits.lacking(0b11, request(1, 512, Resources(0.5, 256)))
    assert (lacks_cpus, lacks_mem) == (0b01, 0b01)
    assert bits.running("app") == 0b10


def test_only_members_are_reported() -> None:
    agents = [ledger(0, 0, 0, running=False), ledger(1, 0, 0, running=False)]
    assert ShortageBits(agents).lacking(0b10, request(1, 1, Resources(0, 0))) == (0b10, 0b10)


amounts = st.sampled_from([0, 0.1, 0.5, 0.6, 1, 1.5, 2])
mems = st.sampled_from([0, 64, 256, 320, 512, 1024])
executors = st.sampled_from([Resources(0, 0), Resources(0.1, 64), Resources(0.5, 0)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(amounts, mems, st.booleans()), min_size=1, max_size=10),
    st.lists(st.tuples(amounts, mems, executors, st.integers(0, 9), st.booleans()), max_size=12),
    st.integers(0, 1023),
)
def test_agrees_with_the_resource_filter_through_takes_and_give_backs(
    shapes: list[tuple[float, float, bool]],
    steps: list[tuple[float, float, Resources, int, bool]],
    member_bits: int,
) -> None:
    agents = [ledger(i, c, m, running) for i, (c, m, running) in enumerate(shapes)]
    members = member_bits & ((1 << len(agents)) - 1)
    bits = ShortageBits(agents)
    undo_log: list[tuple[AgentLedger, int, TaskRequest, tuple[int, int, bool]]] = []
    for n, (c, m, executor, which, give_back) in enumerate(steps):
        task = request(c, m, executor, key=f"t{n}")
        # Ask (which builds the levels and app set lazily), then change a balance, then ask again.
        assert bits.lacking(members, task) == expected(agents, task, members)
        position = which % len(agents)
        agent = agents[position]
        if give_back and undo_log:
            agent, position, taken, undo = undo_log.pop()
            old = agent.free_mcpus, agent.free_mmem
            agent.give_back(taken, undo)
        elif FIT.exclude(task, agent) is None:
            old = agent.free_mcpus, agent.free_mmem
            undo = agent.take(task)
            undo_log.append((agent, position, task, undo))
            taken = task
        else:
            continue
        bits.moved(position, *old)
        if undo[2]:
            bits.app_toggled(position, taken.app_name)
        assert bits.lacking(members, task) == expected(agents, task, members)
        assert bits.running("app") == bits_of(["app" in a.apps for a in agents])
