"""Sorted index of agents that finds the best feasible agent for a task without scanning them all.

How it works (the planner's hot path):

- The agents that pass a constraint set form a *bucket*, built on first use by running the
  :class:`ConstraintFilter` over every agent; the filter depends only on the offer, so its verdict never
  changes during a plan. A bucket keeps its agents' sort keys in one ascending list of ints,
  ``key * n + position`` (``n`` agents, ``position`` = rank in agent_id order, so equal keys order by
  agent_id), where ``key = -(w_cpu * free_mcpus + w_mem * free_mmem)`` for the scorer's weights
  (``scorer.py``): the agent with the highest current score first.
- A task's score on an agent is ``current_score - task_score - (app_score if the executor is charged)``.
  So the best agent is near the head of the list, and the search is in two steps:

  1. feasibility: an agent that fits has ``free >= task demand`` in both dimensions, hence
     ``current_score >= task_score`` when the weights are >= 0 (``<=`` when <= 0); a bisection skips the
     part of the list where no agent can fit. The first agent of the rest that the task fits on is the
     best of its *charge class* (agents running the app, or agents to be charged its executor): a later
     agent of the same class scores less, or as much with a larger agent_id.
  2. optimality: only an agent of the other class can still beat it, and only while
     ``current_score - task_score + max(0, -app_score)`` (an upper bound of its score) is not below the
     best; the first agent of that class in this *band* that the task fits on is the only other
     candidate.

  Candidates are checked with :class:`ResourceFitFilter`'s rule (free >= the shard's need, plus the
  executor's where the app is not running yet), inlined on integers; the bounds only decide what need
  not be looked at.
- A long run of candidates that do not fit in step 1 (typical of a cluster short of one resource: agents
  rich in memory but out of CPUs keep a high score) is cut short: after ``SCAN_BUDGET`` of them, then
  after twice as many, and so on, :class:`ShortageBits` computes the exact set of agents of the bucket
  the task fits on, in a few big-integer operations. Empty: the task fits nowhere, at no further cost.
  Small next to what is left to scan: its agents are scored directly. Otherwise the scan goes on.
- Agents with less free than the smallest shard of the plan (``floor``, per resource) can take no task
  at all; they are left out of the lists (until a rollback gives them resources back). Without this,
  agents exhausted in one resource but rich in the other would be scanned again for every task.
- After a placement only that agent's balance changes: it is removed from and re-inserted into each list
  that holds it (bisection plus a ``list`` memmove), and its bits and "most free" entries follow.
- Why a task fits nowhere (:meth:`CandidateIndex.summarize`) is answered from the same bitsets and from
  :class:`MostFree` heaps, not by a pass over the bucket.

Complexity: building is O(A log A) per distinct constraint set (A agents). Finding an agent is
O(log A + k): k candidates scanned, misfits of step 1 (their runs are cut short as above, each check
costing O(A / 30) C operations) plus the band of step 2. The band holds the agents whose score is within
one executor charge of the best; when many agents score alike, as ``Spread`` makes them, it grows with A,
and it is what dominates the search at 5,000 agents. Re-keying is O(m log A) comparisons plus an O(A)
memmove of machine words in C, m being the number of buckets that hold the agent.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from itertools import islice

from elasticjob.placement.constraint_filter import ConstraintFilter, ConstraintKey
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.most_free import MostFree
from elasticjob.placement.resource_fit_filter import FitSummary
from elasticjob.placement.shortage_bits import ShortageBits, bits_of, positions
from elasticjob.placement.types import TaskRequest

# Misfits scanned in a row, with no fitting agent yet, before asking the bitsets where the task fits
# (then again after twice as many, and so on).
SCAN_BUDGET = 32
# Scoring one agent picked from a bitset costs about this many scanned candidates.
_BIT_COST = 4


class _Bucket:
    """The agents that pass one constraint set."""

    __slots__ = ("agents", "positions", "members", "entries", "most")

    def __init__(self, agents: tuple[AgentLedger, ...], positions: tuple[int, ...], members: int) -> None:
        self.agents = agents  # every matching agent, in agent_id order
        self.positions = positions  # their positions
        self.members = members  # their positions, as a bitset
        self.entries: list[int] = []  # ``key * n + position`` of those above the floor, ascending
        self.most: MostFree | None = None  # built when a task first fits on none of them


class CandidateIndex:
    """Finds, for a task, the feasible agent with the highest score (ties: smallest agent_id).

    ``agents`` must be in agent_id order; ``weights`` must already be validated (two ints of one sign);
    ``floor`` is (milli-CPUs, milli-MB) below which an agent cannot take any task of the plan. Balances
    must change only through :meth:`take` and :meth:`give_back`. Not thread-safe; lives for one plan()
    call.
    """

    __slots__ = (
        "_agents", "_n", "_position", "_w_cpu", "_w_mem", "_floor", "_ascending", "_keys", "_buckets",
        "_member_of", "_shortages", "_last",
    )

    def __init__(
        self, agents: Sequence[AgentLedger], weights: tuple[int, int], floor: tuple[int, int]
    ) -> None:
        self._agents = tuple(agents)
        self._n = max(len(self._agents), 1)
        self._position = {agent.agent_id: i for i, agent in enumerate(self._agents)}
        self._w_cpu, self._w_mem = weights
        self._floor = floor
        # Weights >= 0 (Spread-like): agents that can fit sit at the head; weights <= 0: at the tail.
        self._ascending = self._w_cpu >= 0 and self._w_mem >= 0
        # Current sort entry of each agent, None while it is left out of the lists (below the floor).
        self._keys: list[int | None] = [self._entry(i, agent) for i, agent in enumerate(self._agents)]
        self._buckets: dict[ConstraintKey, _Bucket] = {}
        self._member_of: list[list[_Bucket]] = [[] for _ in self._agents]
        self._shortages = ShortageBits(self._agents)
        self._last: tuple[ConstraintFilter | None, _Bucket] = (None, _Bucket((), (), 0))

    def _entry(self, position: int, agent: AgentLedger) -> int | None:
        if agent.free_mcpus < self._floor[0] or agent.free_mmem < self._floor[1]:
            return None
        return -(self._w_cpu * agent.free_mcpus + self._w_mem * agent.free_mmem) * self._n + position

    def _bucket(self, constraint: ConstraintFilter) -> _Bucket:
        # The planner asks with one ConstraintFilter per group, once per task.
        if constraint is self._last[0]:
            return self._last[1]
        found = self._buckets.get(constraint.key)
        if found is None:
            admitted = constraint.admitted(self._agents)
            where = [i for i, yes in enumerate(admitted) if yes]
            found = _Bucket(tuple(self._agents[i] for i in where), tuple(where), bits_of(admitted))
            keys = self._keys
            found.entries = sorted(key for i in where if (key := keys[i]) is not None)
            for i in where:
                self._member_of[i].append(found)
            self._buckets[constraint.key] = found
        self._last = (constraint, found)
        return found

    def matching(self, constraint: ConstraintFilter) -> tuple[AgentLedger, ...]:
        """Every agent that passes ``constraint`` (whatever its balance), in agent_id order."""
        return self._bucket(constraint).agents

    def best(self, task: TaskRequest, constraint: ConstraintFilter) -> AgentLedger | None:
        """The best agent that passes ``constraint`` and fits ``task``, or ``None`` if none does."""
        bucket = self._bucket(constraint)
        entries, n, agents = bucket.entries, self._n, self._agents
        own, app = task.resources, task.app_resources
        own_cpus, own_mem = own.milli_cpus, own.milli_mem
        charged_cpus, charged_mem = own_cpus + app.milli_cpus, own_mem + app.milli_mem
        task_score = self._w_cpu * own_cpus + self._w_mem * own_mem
        app_score = self._w_cpu * app.milli_cpus + self._w_mem * app.milli_mem
        # The executor charge lowers a score by app_score; with negative weights that is a raise.
        bound_offset = -task_score + max(0, -app_score)
        if self._ascending:
            start, stop = 0, bisect_left(entries, (1 - task_score) * n)
        else:
            start, stop = bisect_left(entries, -task_score * n), len(entries)
        app_name = task.app_name
        # 1. The first agent in the list the task fits on: the best of its charge class (running the app,
        #    or to be charged its executor), since a later agent of that class scores less or has a larger id.
        check_at = start + SCAN_BUDGET
        for i in range(start, stop):
            entry = entries[i]
            agent = agents[entry % n]
            runs = app_name in agent.apps
            if runs:
                if own_cpus <= agent.free_mcpus and own_mem <= agent.free_mmem:
                    break
            elif charged_cpus <= agent.free_mcpus and charged_mem <= agent.free_mmem:
                break
            if i == check_at:  # a long run of misfits: ask the bitsets where the task fits at all
                check_at += check_at - start
                where = self._fitting(bucket, task)
                if where.bit_count() * _BIT_COST < stop - i - 1:
                    return self._best_of(where, task)
        else:
            return None
        # 2. Only an agent of the other class can beat it, if it scores within the executor charge: the first
        #    such agent that fits, up to the optimality bound, is the only other candidate.
        key, position = divmod(entry, n)
        best_score = -key - task_score - (0 if runs else app_score)
        cut = (bound_offset - best_score) * n + position  # entries above the cut cannot beat the best
        need_cpus, need_mem = (charged_cpus, charged_mem) if runs else (own_cpus, own_mem)
        for other in islice(entries, i + 1, bisect_right(entries, cut, i + 1, stop)):
            rival = agents[other % n]
            if (app_name in rival.apps) != runs and (
                need_cpus <= rival.free_mcpus and need_mem <= rival.free_mmem
            ):
                other_key, other_position = divmod(other, n)
                score = -other_key - task_score - (app_score if runs else 0)
                if score > best_score or (score == best_score and other_position < position):
                    return rival
                break
        return agent

    def _fitting(self, bucket: _Bucket, task: TaskRequest) -> int:
        """The positions of the bucket's agents that ``task`` fits on, as a bitset."""
        lacks_cpus, lacks_mem = self._shortages.lacking(bucket.members, task)
        return bucket.members ^ (lacks_cpus | lacks_mem)

    def _best_of(self, where: int, task: TaskRequest) -> AgentLedger | None:
        """The best agent at the positions in ``where``, all of which ``task`` fits on."""
        best: AgentLedger | None = None
        best_score = 0
        w_cpu, w_mem = self._w_cpu, self._w_mem
        for position in positions(where):  # ascending: on equal scores the first, smallest id, stays
            agent = self._agents[position]
            cpus, mem = agent.demand(task)
            score = w_cpu * (agent.free_mcpus - cpus) + w_mem * (agent.free_mmem - mem)
            if best is None or score > best_score:
                best, best_score = agent, score
        return best

    def summarize(self, task: TaskRequest, constraint: ConstraintFilter) -> FitSummary:
        """``ResourceFitFilter().summarize(task, self.matching(constraint))``, from bitsets and heaps.

        O(A / 30) C operations plus amortised O(log A) heap work, instead of a Python pass over the agents.
        """
        bucket = self._bucket(constraint)
        if bucket.most is None:
            bucket.most = MostFree(self._agents, bucket.positions)
        members = bucket.members
        lacks_cpus, lacks_mem = self._shortages.lacking(members, task)
        charged = members ^ (members & self._shortages.running(task.app_name))
        return FitSummary(
            agents=len(bucket.agents),
            fitting=len(bucket.agents) - (lacks_cpus | lacks_mem).bit_count(),
            lacking_cpus=lacks_cpus.bit_count(),
            lacking_mem=lacks_mem.bit_count(),
            most_cpus=bucket.most.most_cpus(),
            most_mem=bucket.most.most_mem(),
            charged=charged.bit_count(),
        )

    def take(self, agent: AgentLedger, task: TaskRequest) -> tuple[int, int, bool]:
        """``agent.take(task)``, kept in the index; returns the undo record for :meth:`give_back`."""
        undo = agent.take(task)
        self._moved(agent, undo[0], undo[1], task.app_name if undo[2] else None)
        return undo

    def give_back(self, agent: AgentLedger, task: TaskRequest, undo: tuple[int, int, bool]) -> None:
        """``agent.give_back(task, undo)``, kept in the index (undo records newest first)."""
        old_cpus, old_mem = agent.free_mcpus, agent.free_mmem
        agent.give_back(task, undo)
        self._moved(agent, old_cpus, old_mem, task.app_name if undo[2] else None)

    def _moved(self, agent: AgentLedger, old_cpus: int, old_mem: int, toggled_app: str | None) -> None:
        """Follow a balance change of ``agent`` (and ``toggled_app`` added to or removed from its apps):
        re-sort it in each list holding it (O(log A) + memmove per list), flip its bits, update heaps."""
        position = self._position[agent.agent_id]
        shortages = self._shortages
        shortages.moved(position, old_cpus, old_mem)
        if toggled_app is not None:
            shortages.app_toggled(position, toggled_app)
        buckets = self._member_of[position]
        for bucket in buckets:
            if bucket.most is not None:
                bucket.most.moved(position)
        old = self._keys[position]
        new = self._entry(position, agent)
        if new == old:
            return
        self._keys[position] = new
        for bucket in buckets:
            entries = bucket.entries
            if old is not None:
                del entries[bisect_left(entries, old)]
            if new is not None:
                insort(entries, new)
