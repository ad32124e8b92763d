"""``plan()``: decide where ready tasks run, purely, from one immutable view of the agents' offers.

The leader applies the returned :class:`LaunchPlan` separately (ZooKeeper transaction, then launch
messages); nothing here does I/O, reads a clock or draws a random number.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Final

from elasticjob.placement.candidate_index import CandidateIndex
from elasticjob.placement.constraint_filter import ConstraintFilter, ConstraintKey
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.reasons import NO_AGENTS, all_or_nothing_reason, explain
from elasticjob.placement.scorer import Scorer, check_weights
from elasticjob.placement.spread import Spread
from elasticjob.placement.types import (
    LaunchPlan,
    Offer,
    Placement,
    Resources,
    TaskGroup,
    TaskRequest,
    Unplaced,
)

SPREAD: Final = Spread()

# Key of a task "shape": two tasks with equal keys fit on exactly the same agents in a given state.
_Shape = tuple[ConstraintKey, str, int, int, int, int]


_FREE_CPUS = attrgetter("free_mcpus")
_FREE_MEM = attrgetter("free_mmem")
_OWN_CPUS = attrgetter("resources.milli_cpus")
_OWN_MEM = attrgetter("resources.milli_mem")
_PRIORITY = attrgetter("priority")


def _shape(task: TaskRequest, constraint: ConstraintFilter) -> _Shape:
    own, app = task.resources, task.app_resources
    return constraint.key, task.app_name, own.milli_cpus, own.milli_mem, app.milli_cpus, app.milli_mem


def plan(groups: Sequence[TaskGroup], offers: Sequence[Offer], scorer: Scorer = SPREAD) -> LaunchPlan:
    """Place the tasks of ``groups`` on the agents of ``offers``.

    Semantics:
    - Groups are planned in order of (-priority, position in ``groups``).
    - An ``all_or_nothing`` group is placed on working balances; if any of its tasks does not fit, the
      whole group is rolled back (balances and executor charges) and every one of its tasks is unplaced
      with the same reason (``reasons.all_or_nothing_reason``); later groups are still tried. Other
      groups are placed task by task, and a task that does not fit is unplaced on its own.
    - With no offers at all, every task is unplaced with ``NO_AGENTS``.
    - A task may go to an agent that passes every filter (``ConstraintFilter`` on the group's
      constraints, then ``ResourceFitFilter``); among those, the one with the highest ``scorer`` score,
      ties to the smallest agent_id. An app's executor cost is charged once per agent that neither runs
      the app nor was charged for it earlier in this plan.
    - Never over-commits: what is placed on an agent, executor charges included, fits its offer's
      ``free`` resources.
    - Deterministic: equal inputs give equal plans, whatever the order of ``offers``.

    Errors: ``ValueError`` for two offers with one agent_id, two tasks with one task_key, or a scorer
    whose weights are not two ints of one sign.

    Complexity, for T tasks, A agents and C distinct constraint sets: O(C · A log A) to build the
    candidate lists, then per task O(log A + k) where k is the agents scanned (usually a few; a long run
    of agents the task does not fit is cut short by bitsets, see ``candidate_index``), plus per placement
    an O(log A) re-sort whose list insert is an O(A) memmove in C. A task that fits nowhere is explained
    from bitsets and heaps kept by the index (O(A / 30) C operations, not a Python pass over the agents);
    only the first such shard of a firing is explained. No Python loop runs over tasks × agents.

    Thread safety: no state is shared between calls; the inputs are immutable and never changed.
    """
    return _Planner(groups, offers, scorer).run()


class _Planner:
    """One planning round: the working balances, the candidate index and the results so far."""

    def __init__(self, groups: Sequence[TaskGroup], offers: Sequence[Offer], scorer: Scorer) -> None:
        agents = [AgentLedger(offer) for offer in sorted(offers, key=lambda offer: offer.agent_id)]
        for previous, current in zip(agents, agents[1:], strict=False):
            if previous.agent_id == current.agent_id:
                raise ValueError(f"two offers for agent {current.agent_id}")
        tasks = [task for group in groups for task in group.tasks]
        keys = [task.task_key for task in tasks]
        if len(set(keys)) != len(keys):
            seen: set[str] = set()
            for key in keys:
                if key in seen:
                    raise ValueError(f"task_key {key} appears twice")
                seen.add(key)
        # Scorers weigh each resource by its share of the largest offer.
        scale = Resources.from_milli(
            max(map(_FREE_CPUS, agents), default=1) or 1,
            max(map(_FREE_MEM, agents), default=1) or 1,
        )
        # An agent with less free than the smallest shard of this plan can take no task at all.
        floor = (min(map(_OWN_CPUS, tasks), default=0), min(map(_OWN_MEM, tasks), default=0))
        self._groups = groups
        self._agents = agents
        self._index = CandidateIndex(agents, check_weights(scorer.weights(scale)), floor)
        self._placements: list[Placement] = []
        self._unplaced: list[Unplaced] = []
        # Every distinct state of the balances gets a fresh id; a rollback returns to the earlier id.
        # Failed searches are remembered per state id and reused only in that exact state; a reason is
        # worded only when asked for (a firing explains only its first shard that fits nowhere).
        self._state = 0
        self._last_state = 0
        self._failures: dict[int, dict[_Shape, str | None]] = {}

    def run(self) -> LaunchPlan:
        groups = self._groups
        for group in sorted(groups, key=_PRIORITY, reverse=True):  # stable: given order within a priority
            if not self._agents:
                self._unplaced.extend(Unplaced(task, NO_AGENTS) for task in group.tasks)
            elif group.all_or_nothing:
                self._place_all_or_nothing(group)
            else:
                self._place_each(group)
        return LaunchPlan(tuple(self._placements), tuple(self._unplaced))

    def _place_each(self, group: TaskGroup) -> None:
        constraint = ConstraintFilter(group.constraints, group.patterns)
        for task in group.tasks:
            found = self._find(task, constraint)
            if found is None:
                self._unplaced.append(Unplaced(task, self._why(task, constraint)))
            else:
                self._take(task, found)
                self._placements.append(Placement(task, found.agent_id, found.offer.hostname))

    def _place_all_or_nothing(self, group: TaskGroup) -> None:
        constraint = ConstraintFilter(group.constraints, group.patterns)
        start_state = self._state
        taken: list[tuple[TaskRequest, AgentLedger, tuple[int, int, bool]]] = []
        first_failure: tuple[TaskRequest, str] | None = None
        # Keep trying after the first failure so the reason can say how many shards would have fit.
        for task in group.tasks:
            found = self._find(task, constraint)
            if found is None:
                if first_failure is None:  # only this one is explained, in the state it failed in
                    first_failure = (task, self._why(task, constraint))
            else:
                taken.append((task, found, self._take(task, found)))
        if first_failure is None:
            self._placements.extend(
                Placement(task, agent.agent_id, agent.offer.hostname) for task, agent, _ in taken
            )
            return
        for task, agent, undo in reversed(taken):
            self._index.give_back(agent, task, undo)
        self._state = start_state
        failed, why = first_failure
        reason = all_or_nothing_reason(len(taken), len(group.tasks), failed, why)
        self._unplaced.extend(Unplaced(task, reason) for task in group.tasks)

    def _find(self, task: TaskRequest, constraint: ConstraintFilter) -> AgentLedger | None:
        """The agent chosen for ``task``, or ``None`` if none can take it."""
        failed = self._failures.get(self._state)
        if failed is not None and _shape(task, constraint) in failed:
            return None
        agent = self._index.best(task, constraint)
        if agent is None:
            self._failures.setdefault(self._state, {})[_shape(task, constraint)] = None
        return agent

    def _why(self, task: TaskRequest, constraint: ConstraintFilter) -> str:
        """Why ``task``, just found to fit nowhere, fits nowhere (the same words for its shape and state)."""
        failed = self._failures.setdefault(self._state, {})
        shape = _shape(task, constraint)
        reason = failed.get(shape)
        if reason is None:
            summary = self._index.summarize(task, constraint)
            unmatched = []
            if summary.agents == 0 and len(constraint) > 1:  # which constraint no agent has, if any
                unmatched = constraint.unmatched(self._agents)
            reason = failed[shape] = explain(task, len(self._agents), constraint, summary, unmatched)
        return reason

    def _take(self, task: TaskRequest, agent: AgentLedger) -> tuple[int, int, bool]:
        undo = self._index.take(agent, task)
        self._last_state += 1
        self._state = self._last_state
        return undo
