"""``plan()``: decide where ready tasks run, purely, from one immutable view of the agents' offers.

The leader applies the returned :class:`LaunchPlan` separately (ZooKeeper transaction, then launch
messages); nothing here does I/O, reads a clock or draws a random number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from elasticjob.placement.candidate_index import CandidateIndex
from elasticjob.placement.constraint_filter import ConstraintFilter
from elasticjob.placement.frozen_map import FrozenMap
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.reasons import NO_AGENTS, all_or_nothing_reason, explain
from elasticjob.placement.resource_fit_filter import ResourceFitFilter
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
_Shape = tuple[FrozenMap, Resources, str, Resources]


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
    candidate lists, then per task O(log A + k) where k is the agents scanned (usually a few, see
    ``candidate_index``), plus per placement an O(log A) re-sort whose list insert is an O(A) memmove in C.
    A task that does not fit costs one O(A) pass of the resource filter over the agents matching its
    constraints, to explain why; identical tasks reuse it while no balance has changed. No Python loop
    runs over tasks × agents.

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
        seen: set[str] = set()
        for task in tasks:
            if task.task_key in seen:
                raise ValueError(f"task_key {task.task_key} appears twice")
            seen.add(task.task_key)
        # Scorers weigh each resource by its share of the largest offer.
        scale = Resources.from_milli(
            max((agent.free_mcpus for agent in agents), default=1) or 1,
            max((agent.free_mmem for agent in agents), default=1) or 1,
        )
        # An agent with less free than the smallest shard of this plan can take no task at all.
        floor = (
            min((task.resources.milli_cpus for task in tasks), default=0),
            min((task.resources.milli_mem for task in tasks), default=0),
        )
        self._groups = groups
        self._agents = agents
        self._index = CandidateIndex(agents, check_weights(scorer.weights(scale)), floor)
        self._fit = ResourceFitFilter()
        self._placements: list[Placement] = []
        self._unplaced: list[Unplaced] = []
        # Every distinct state of the balances gets a fresh id; a rollback returns to the earlier id.
        # A failed search is remembered with its state id and reused only in that exact state.
        self._state = 0
        self._last_state = 0
        self._failures: dict[_Shape, tuple[int, str]] = {}

    def run(self) -> LaunchPlan:
        groups = self._groups
        for _, group in sorted(enumerate(groups), key=lambda pair: (-pair[1].priority, pair[0])):
            if not self._agents:
                self._unplaced.extend(Unplaced(task, NO_AGENTS) for task in group.tasks)
            elif group.all_or_nothing:
                self._place_all_or_nothing(group)
            else:
                self._place_each(group)
        return LaunchPlan(tuple(self._placements), tuple(self._unplaced))

    def _place_each(self, group: TaskGroup) -> None:
        constraint = ConstraintFilter(group.constraints)
        for task in group.tasks:
            found = self._find(task, constraint)
            if isinstance(found, str):
                self._unplaced.append(Unplaced(task, found))
            else:
                self._take(task, found)
                self._placements.append(Placement(task, found.agent_id, found.offer.hostname))

    def _place_all_or_nothing(self, group: TaskGroup) -> None:
        constraint = ConstraintFilter(group.constraints)
        start_state = self._state
        taken: list[tuple[TaskRequest, AgentLedger, tuple[int, int, bool]]] = []
        first_failure: tuple[TaskRequest, str] | None = None
        # Keep trying after the first failure so the reason can say how many shards would have fit.
        for task in group.tasks:
            found = self._find(task, constraint)
            if isinstance(found, str):
                if first_failure is None:
                    first_failure = (task, found)
            else:
                taken.append((task, found, self._take(task, found)))
        if first_failure is None:
            self._placements.extend(
                Placement(task, agent.agent_id, agent.offer.hostname) for task, agent, _ in taken
            )
            return
        for task, agent, undo in reversed(taken):
            agent.give_back(task, undo)
            self._index.rekey(agent)
        self._state = start_state
        failed, why = first_failure
        reason = all_or_nothing_reason(len(taken), len(group.tasks), failed, why)
        self._unplaced.extend(Unplaced(task, reason) for task in group.tasks)

    def _find(self, task: TaskRequest, constraint: ConstraintFilter) -> AgentLedger | str:
        """The agent chosen for ``task``, or the reason none can take it."""
        shape = (constraint.constraints, task.resources, task.app_name, task.app_resources)
        failure = self._failures.get(shape)
        if failure is not None and failure[0] == self._state:
            return failure[1]
        agent = self._index.best(task, constraint, self._fit)
        if agent is not None:
            return agent
        matching = self._index.matching(constraint, task)
        reason = explain(task, len(self._agents), constraint.constraints, self._fit.summarize(task, matching))
        self._failures[shape] = (self._state, reason)
        return reason

    def _take(self, task: TaskRequest, agent: AgentLedger) -> tuple[int, int, bool]:
        undo = agent.take(task)
        self._index.rekey(agent)
        self._last_state += 1
        self._state = self._last_state
        return undo
