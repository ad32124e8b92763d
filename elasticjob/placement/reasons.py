"""Turns the filters' verdicts over all agents into one sentence saying why a task was not placed.

Formats (amounts without float noise; ``{where}`` is `` matching rack=a, zone=z1`` when the group has
constraints, empty otherwise; ``{note; }`` is the executor note below, present when the app's executor
has a cost and at least one agent that passed the constraints does not run the app yet):

- ``no agents registered``
- ``constraint rack=a matched no agent`` (``constraints rack=a, zone=z1 matched no agent``); pattern
  constraints read ``rack LIKE a|b``, ``zone UNLIKE eu-.*``; with several constraints, those that no agent
  satisfies even on its own are named: ``constraints rack=a, zone LIKE x.* matched no agent (none on its
  own: zone LIKE x.*)``
- ``no agent{where} with 4096 MB free ({note; }largest free: 2048 MB on agent a1)``
- ``no agent{where} with 2.5 CPUs free ({note; }largest free: 1 CPU on agent a2)``
- ``no agent{where} with 2.5 CPUs and 4096 MB free ({note; }largest free: 1 CPU on agent a2,
  2048 MB on agent a1)`` when every agent lacks both
- ``no agent{where} with both 2.5 CPUs and 4096 MB free ({note; }3 agents lack CPUs, 2 lack memory)``
  when each agent lacks one or the other but neither resource is short everywhere
- the executor note: ``+0.1 CPUs, 64 MB for app billing's executor where it is not running yet``
- a rolled-back firing, the same text for every task of the group:
  ``only 3 of 5 shards fit; a firing starts all its shards or none; shard 3: <reason of the first shard
  that did not fit>``, where 3 of 5 counts the shards that found an agent in the attempt.

The amounts asked for are the shard's own resources (the executor note gives the extra); "largest free"
is the agent's balance at the time of the decision, ties going to the smallest agent_id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from elasticjob.placement.resource_fit_filter import FitSummary
from elasticjob.placement.types import TaskRequest, format_amount, format_cpus

NO_AGENTS = "no agents registered"


class Constraints(Protocol):
    """A group's constraints as reasons word them (``FrozenMap`` of pairs, ``ConstraintFilter``)."""

    def __len__(self) -> int: ...

    def describe(self) -> str: ...


def explain(
    task: TaskRequest, agents: int, constraints: Constraints, fit: FitSummary, unmatched: Sequence[str] = ()
) -> str:
    """Why ``task`` fits on none of ``agents`` agents.

    ``fit`` summarises the resource filter over the agents that passed ``constraints`` (the others were
    excluded by the constraint filter); ``unmatched`` names the constraints no agent satisfies even on its
    own (worded only when no agent passed them all). Raises ``ValueError`` if ``fit`` reports an agent that
    fits: there is nothing to explain then.
    """
    if agents == 0:
        return NO_AGENTS
    if fit.agents == 0:
        noun = "constraint" if len(constraints) == 1 else "constraints"
        alone = f" (none on its own: {', '.join(unmatched)})" if unmatched and len(constraints) > 1 else ""
        return f"{noun} {constraints.describe()} matched no agent{alone}"
    if fit.fitting:
        raise ValueError(f"task {task.task_key} fits on {fit.fitting} agent(s); nothing to explain")
    where = f" matching {constraints.describe()}" if constraints else ""
    cpus = format_cpus(task.resources.milli_cpus)
    mem = f"{format_amount(task.resources.milli_mem)} MB"
    note = _executor_note(task, fit)
    short_cpus_everywhere = fit.lacking_cpus == fit.agents
    short_mem_everywhere = fit.lacking_mem == fit.agents
    if short_cpus_everywhere and short_mem_everywhere:
        largest = f"{_most_cpus(fit)}, {_most_mem(fit)}"
        return f"no agent{where} with {cpus} and {mem} free ({note}largest free: {largest})"
    if short_mem_everywhere:
        return f"no agent{where} with {mem} free ({note}largest free: {_most_mem(fit)})"
    if short_cpus_everywhere:
        return f"no agent{where} with {cpus} free ({note}largest free: {_most_cpus(fit)})"
    agents_lack = "agent lacks" if fit.lacking_cpus == 1 else "agents lack"
    return (
        f"no agent{where} with both {cpus} and {mem} free "
        f"({note}{fit.lacking_cpus} {agents_lack} CPUs, {fit.lacking_mem} lack memory)"
    )


def all_or_nothing_reason(placed: int, total: int, failed: TaskRequest, reason: str) -> str:
    """The reason given to every task of a firing that was rolled back."""
    return (
        f"only {placed} of {total} shards fit; a firing starts all its shards or none; "
        f"shard {failed.sharding_item}: {reason}"
    )


def _executor_note(task: TaskRequest, fit: FitSummary) -> str:
    app = task.app_resources
    if app.is_zero() or fit.charged == 0:
        return ""
    return (
        f"+{format_cpus(app.milli_cpus)}, {format_amount(app.milli_mem)} MB for app {task.app_name}'s "
        "executor where it is not running yet; "
    )


def _most_cpus(fit: FitSummary) -> str:
    top = fit.most_cpus
    return "" if top is None else f"{format_cpus(top.free_mcpus)} on agent {top.agent_id}"


def _most_mem(fit: FitSummary) -> str:
    top = fit.most_mem
    return "" if top is None else f"{format_amount(top.free_mmem)} MB on agent {top.agent_id}"
