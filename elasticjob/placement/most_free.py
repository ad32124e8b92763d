"""The agent of a set with the most free CPUs, and the one with the most free memory, as balances change.

Used to word why a task fits nowhere ("largest free: 1 CPU on agent a2") without a pass over the set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heapify, heappop, heappush
from operator import attrgetter

from elasticjob.placement.ledger import AgentLedger


class MostFree:
    """Answers :meth:`most_cpus` / :meth:`most_mem` for the agents at ``members`` (positions in ``agents``).

    Ties go to the smallest position, that is the smallest agent_id when ``agents`` is in agent_id order,
    as in ``ResourceFitFilter.summarize``. Two lazy-deletion heaps of ``-free * n + position`` (one per
    resource): :meth:`moved` pushes an agent's new balances (O(log m)); a query drops the entries that no
    longer match their agent's balance (amortised O(log m) each). The caller must call :meth:`moved` after
    every balance change of a member. Not thread-safe; lives for one plan() call.
    """

    __slots__ = ("_agents", "_n", "_members", "_cpus", "_mem")

    def __init__(self, agents: Sequence[AgentLedger], members: Sequence[int]) -> None:
        self._agents = agents
        self._n = max(len(agents), 1)
        self._members = tuple(members)
        self._cpus: list[int] = []
        self._mem: list[int] = []
        self._rebuild()

    def _rebuild(self) -> None:
        n, agents = self._n, self._agents
        self._cpus = [-agents[p].free_mcpus * n + p for p in self._members]
        self._mem = [-agents[p].free_mmem * n + p for p in self._members]
        heapify(self._cpus)
        heapify(self._mem)

    def moved(self, position: int) -> None:
        """The balance of the member at ``position`` changed."""
        if len(self._cpus) > 4 * len(self._members) + 64:  # mostly stale entries: start afresh, O(m)
            self._rebuild()
            return
        agent, n = self._agents[position], self._n
        heappush(self._cpus, -agent.free_mcpus * n + position)
        heappush(self._mem, -agent.free_mmem * n + position)

    def most_cpus(self) -> AgentLedger | None:
        """The member with the most free CPUs (ties: smallest position); ``None`` for no members."""
        return _top(self._cpus, self._agents, self._n, _FREE_CPUS)

    def most_mem(self) -> AgentLedger | None:
        """The member with the most free memory (ties: smallest position); ``None`` for no members."""
        return _top(self._mem, self._agents, self._n, _FREE_MEM)


_FREE_CPUS = attrgetter("free_mcpus")
_FREE_MEM = attrgetter("free_mmem")


def _top(
    heap: list[int], agents: Sequence[AgentLedger], n: int, free: Callable[[AgentLedger], int]
) -> AgentLedger | None:
    """The agent of the heap's top entry that still matches its balance, dropping the stale ones above it."""
    while heap:
        amount, position = divmod(heap[0], n)
        if free(agents[position]) == -amount:
            return agents[position]
        heappop(heap)
    return None
