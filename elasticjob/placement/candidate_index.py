"""Sorted index of agents that finds the best feasible agent for a task without scanning them all.

How it works (the planner's hot path):

- Agents that pass a constraint set are kept in one list per distinct constraint set, sorted by
  ``(-current_score, agent_id)``, where ``current_score = w_cpu * free_mcpus + w_mem * free_mmem`` for the
  scorer's weights (``scorer.py``). A list is built on first use by running the :class:`ConstraintFilter`
  over every agent; the filter depends only on the offer, so its verdict never changes during a plan.
- A task's score on an agent is ``current_score - task_score - (app_score if the executor is charged)``.
  So the best agent is near the head of the list, and two bounds cut the scan short:

  * feasibility: an agent that fits has ``free >= task demand`` in both dimensions, hence
    ``current_score >= task_score`` when the weights are >= 0 (``<=`` when <= 0); a bisection skips the
    part of the list where no agent can fit;
  * optimality: no agent further down can beat the best found so far once
    ``current_score - task_score + max(0, -app_score)`` (an upper bound of its score) is below it, or
    equal to it with a larger agent_id.

  Candidates in the scanned range are confirmed with the resource filter, so the filters stay the single
  source of truth for feasibility; the bounds only decide what need not be looked at.
- Agents with less free than the smallest shard of the plan (``floor``, per resource) can take no task
  at all; they are left out of the lists (until a rollback gives them resources back). Without this,
  agents exhausted in one resource but rich in the other would be scanned again for every task.
- After a placement only that agent's score changes: it is removed from and re-inserted into each list
  that holds it (bisection plus a ``list`` memmove).

Complexity: building is O(A log A) per distinct constraint set (A agents). Finding an agent is
O(log A + k), k being the agents scanned: typically a handful; at worst O(A), when many agents score well
but lack one resource for this task (yet not for the smallest one). Re-keying is O(m log A) comparisons
plus an O(A) memmove of pointers in C, m being the number of lists that hold the agent.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence

from elasticjob.placement.constraint_filter import ConstraintFilter
from elasticjob.placement.filter import Filter
from elasticjob.placement.frozen_map import FrozenMap
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.types import TaskRequest

Entry = tuple[int, str, AgentLedger]
Bucket = tuple[list[Entry], tuple[AgentLedger, ...]]  # (sorted entries of live agents, all matching agents)


class CandidateIndex:
    """Finds, for a task, the feasible agent with the highest score (ties: smallest agent_id).

    ``agents`` must be in agent_id order; ``weights`` must already be validated (two ints of one sign);
    ``floor`` is (milli-CPUs, milli-MB) below which an agent cannot take any task of the plan. The index
    reads the ledgers' balances; after changing an agent's balance the caller must call :meth:`rekey`.
    Not thread-safe; lives for one plan() call.
    """

    __slots__ = ("_agents", "_w_cpu", "_w_mem", "_floor", "_ascending", "_keys", "_lists", "_member_of")

    def __init__(
        self, agents: Sequence[AgentLedger], weights: tuple[int, int], floor: tuple[int, int]
    ) -> None:
        self._agents = tuple(agents)
        self._w_cpu, self._w_mem = weights
        self._floor = floor
        # Weights >= 0 (Spread-like): agents that can fit sit at the head; weights <= 0: at the tail.
        self._ascending = self._w_cpu >= 0 and self._w_mem >= 0
        # Current sort key of each agent, None while it is left out of the lists (below the floor).
        self._keys: dict[str, int | None] = {agent.agent_id: self._key(agent) for agent in self._agents}
        self._lists: dict[FrozenMap, Bucket] = {}
        self._member_of: dict[str, list[list[Entry]]] = {agent.agent_id: [] for agent in self._agents}

    def _key(self, agent: AgentLedger) -> int | None:
        if agent.free_mcpus < self._floor[0] or agent.free_mmem < self._floor[1]:
            return None
        return -(self._w_cpu * agent.free_mcpus + self._w_mem * agent.free_mmem)

    def _list(self, constraint: ConstraintFilter, task: TaskRequest) -> Bucket:
        found = self._lists.get(constraint.constraints)
        if found is None:
            matching = tuple(agent for agent in self._agents if constraint.exclude(task, agent) is None)
            entries: list[Entry] = []
            for agent in matching:
                self._member_of[agent.agent_id].append(entries)
                key = self._keys[agent.agent_id]
                if key is not None:
                    entries.append((key, agent.agent_id, agent))
            entries.sort()
            found = self._lists[constraint.constraints] = (entries, matching)
        return found

    def matching(self, constraint: ConstraintFilter, task: TaskRequest) -> tuple[AgentLedger, ...]:
        """Every agent that passes ``constraint`` (whatever its balance), in agent_id order."""
        return self._list(constraint, task)[1]

    def best(self, task: TaskRequest, constraint: ConstraintFilter, fit: Filter) -> AgentLedger | None:
        """The best agent that passes ``constraint`` and ``fit`` for ``task``, or ``None`` if none does."""
        entries = self._list(constraint, task)[0]
        own, app = task.resources, task.app_resources
        task_score = self._w_cpu * own.milli_cpus + self._w_mem * own.milli_mem
        app_score = self._w_cpu * app.milli_cpus + self._w_mem * app.milli_mem
        # The executor charge lowers a score by app_score; with negative weights that is a raise.
        bound_offset = -task_score + max(0, -app_score)
        if self._ascending:
            start, stop = 0, bisect_left(entries, (1 - task_score,))
        else:
            start, stop = bisect_left(entries, (-task_score,)), len(entries)
        best: AgentLedger | None = None
        best_score = 0
        app_name = task.app_name
        for i in range(start, stop):
            key, agent_id, agent = entries[i]
            if best is not None:
                bound = bound_offset - key
                if bound < best_score or (bound == best_score and agent_id > best.agent_id):
                    break
            if fit.exclude(task, agent) is not None:
                continue
            score = -key - task_score - (app_score if app_name not in agent.apps else 0)
            if best is None or score > best_score or (score == best_score and agent_id < best.agent_id):
                best, best_score = agent, score
        return best

    def rekey(self, agent: AgentLedger) -> None:
        """Re-sort ``agent`` after its balance changed (O(log A) + memmove per list holding it)."""
        agent_id = agent.agent_id
        old = self._keys[agent_id]
        new = self._key(agent)
        if new == old:
            return
        self._keys[agent_id] = new
        for entries in self._member_of[agent_id]:
            if old is not None:
                del entries[bisect_left(entries, (old, agent_id))]
            if new is not None:
                insort(entries, (new, agent_id, agent))
