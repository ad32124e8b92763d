"""Bitsets over a plan's agents: which agents of a set lack what a task needs, in a few C-level operations.

Bit ``i`` of every bitset stands for the ``i``-th agent of the plan (agent_id order). A bitset is a Python
``int``, so intersecting two sets of 5,000 agents is one ``&`` over ~170 machine digits and counting them
is ``int.bit_count()``: no Python loop over the agents. Kept:

- per *level* ``v`` of milli-CPUs (and, separately, of milli-MB): the agents with less than ``v`` free.
  The levels are the demands asked about (a shard's own need, and its need with the executor charge);
- per app: the agents that run it or were charged its executor earlier in the plan.

Each level and app set is built on first use, in one O(A) pass. Afterwards a balance change flips the
agent's bit in exactly the levels its balance crossed, found by bisection over the sorted levels
(O(log V + crossed) for V levels), and an app added to or removed from an agent flips one bit. An ``int`` is
immutable, so every flip allocates a new one of A/30 digits: a fraction of a microsecond at 5,000 agents.

The predicate is :class:`ResourceFitFilter`'s (the executor counts where the app is not running yet); the
property tests hold :meth:`ShortageBits.lacking` to ``ResourceFitFilter.exclude`` agent by agent.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter

from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.types import TaskRequest

_FREE_CPUS = attrgetter("free_mcpus")
_FREE_MEM = attrgetter("free_mmem")


def bits_of(flags: Iterable[bool]) -> int:
    """The bitset whose bit ``i`` is ``flags[i]`` (one O(n) pass through a string, no quadratic shifting)."""
    digits = "".join(map("01".__getitem__, flags))
    return int(digits[::-1], 2) if digits else 0


def positions(bits: int) -> Iterator[int]:
    """The set bits of ``bits`` (>= 0), lowest first."""
    digits = format(bits, "b")[::-1]
    found = digits.find("1")
    while found >= 0:
        yield found
        found = digits.find("1", found + 1)


class _Levels:
    """For one resource: per level ``v``, the bitset of agents with less than ``v`` free."""

    __slots__ = ("sorted", "short")

    def __init__(self) -> None:
        self.sorted: list[int] = []
        self.short: dict[int, int] = {}

    def get(self, level: int, free: Iterable[int]) -> int:
        found = self.short.get(level)
        if found is None:
            found = self.short[level] = bits_of([amount < level for amount in free])
            insort(self.sorted, level)
        return found

    def crossed(self, old: int, new: int, bit: int) -> None:
        """An agent's balance went from ``old`` to ``new``: flip its bit in each level between them."""
        low, high = (new, old) if new < old else (old, new)
        levels = self.sorted
        short = self.short
        for level in levels[bisect_right(levels, low) : bisect_right(levels, high)]:
            short[level] ^= bit


class ShortageBits:
    """Which agents lack CPUs or memory for a task, as bitsets over the plan's agents.

    ``agents`` must be the plan's agents in agent_id order; bit ``i`` is ``agents[i]``. After changing an
    agent's balance the caller must call :meth:`moved`; after adding an app to or removing one from an
    agent's ``apps``, :meth:`app_toggled`. Not thread-safe; lives for one plan() call.
    """

    __slots__ = ("_agents", "_cpu_levels", "_mem_levels", "_running")

    def __init__(self, agents: Sequence[AgentLedger]) -> None:
        self._agents = tuple(agents)
        self._cpu_levels = _Levels()
        self._mem_levels = _Levels()
        self._running: dict[str, int] = {}

    def moved(self, position: int, old_cpus: int, old_mem: int) -> None:
        """``agents[position]``'s balance was ``old_cpus``, ``old_mem`` (O(log V + levels crossed))."""
        agent = self._agents[position]
        if self._cpu_levels.sorted and agent.free_mcpus != old_cpus:
            self._cpu_levels.crossed(old_cpus, agent.free_mcpus, 1 << position)
        if self._mem_levels.sorted and agent.free_mmem != old_mem:
            self._mem_levels.crossed(old_mem, agent.free_mmem, 1 << position)

    def app_toggled(self, position: int, app: str) -> None:
        """``app`` was added to or removed from ``agents[position].apps``."""
        if app in self._running:
            self._running[app] ^= 1 << position

    def running(self, app: str) -> int:
        """The agents whose ``apps`` include ``app``."""
        found = self._running.get(app)
        if found is None:
            found = self._running[app] = bits_of([app in agent.apps for agent in self._agents])
        return found

    def lacking(self, members: int, task: TaskRequest) -> tuple[int, int]:
        """The agents of ``members`` short of CPUs, and those short of memory, for ``task``.

        An agent is short of a resource when its free amount is below the task's own need plus, where
        ``task.app_name`` is not in its ``apps``, the app's executor cost: ``ResourceFitFilter.exclude``'s
        rule. The agents of ``members`` in neither set are exactly those the task fits on.
        """
        own, app = task.resources, task.app_resources
        if app.is_zero():
            cpus = members & self._cpu_levels.get(own.milli_cpus, map(_FREE_CPUS, self._agents))
            mem = members & self._mem_levels.get(own.milli_mem, map(_FREE_MEM, self._agents))
            return cpus, mem
        running = members & self.running(task.app_name)
        charged = members ^ running
        cpus = (running & self._cpu_levels.get(own.milli_cpus, map(_FREE_CPUS, self._agents))) | (
            charged & self._cpu_levels.get(own.milli_cpus + app.milli_cpus, map(_FREE_CPUS, self._agents))
        )
        mem = (running & self._mem_levels.get(own.milli_mem, map(_FREE_MEM, self._agents))) | (
            charged & self._mem_levels.get(own.milli_mem + app.milli_mem, map(_FREE_MEM, self._agents))
        )
        return cpus, mem
