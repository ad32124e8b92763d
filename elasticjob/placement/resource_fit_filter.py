"""Filter plugin: the agent must still have the CPUs and memory the task needs, executor included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elasticjob.placement.filter import LACKS_CPUS, LACKS_MEM, Exclusion
from elasticjob.placement.ledger import AgentLedger
from elasticjob.placement.types import TaskRequest, format_amount, format_cpus

_CPUS = frozenset({LACKS_CPUS})
_MEM = frozenset({LACKS_MEM})
_BOTH = frozenset({LACKS_CPUS, LACKS_MEM})


@dataclass(frozen=True, slots=True)
class FitSummary:
    """What :meth:`ResourceFitFilter.exclude` would say about each of a set of agents, aggregated.

    ``fitting``: agents not excluded; ``lacking_cpus`` / ``lacking_mem``: agents short of that resource
    (an agent short of both counts in both); ``most_cpus`` / ``most_mem``: the agent with the most of it
    free (ties: smallest agent_id; ``None`` for no agents); ``charged``: agents where the app's executor
    would be charged.
    """

    agents: int
    fitting: int
    lacking_cpus: int
    lacking_mem: int
    most_cpus: AgentLedger | None
    most_mem: AgentLedger | None
    charged: int


@dataclass(frozen=True, slots=True)
class ShortOfResources(Exclusion):
    """The agent has ``free_*`` left but the task needs ``need_*`` (thousandths).

    ``executor_of`` names the app whose executor cost is included in the need (``None``: none is).
    """

    need_mcpus: int
    need_mmem: int
    free_mcpus: int
    free_mmem: int
    executor_of: str | None

    @property
    def detail(self) -> str:
        executor = f" (with app {self.executor_of}'s executor)" if self.executor_of else ""
        return (
            f"agent {self.agent_id} has {format_cpus(self.free_mcpus)}, {format_amount(self.free_mmem)} MB"
            f" free, needs {format_cpus(self.need_mcpus)}, {format_amount(self.need_mmem)} MB{executor}"
        )


class ResourceFitFilter:
    """Excludes an agent whose remaining free CPUs or memory are below the task's demand.

    The demand is the shard's resources plus, when the task's app has no executor on the agent yet
    (neither running there nor charged by an earlier placement of this plan), the app's executor
    resources. Comparisons are on integer thousandths, so there is no float drift.
    """

    name = "resources"

    __slots__ = ()

    def exclude(self, task: TaskRequest, agent: AgentLedger) -> Exclusion | None:
        """``None`` when the task fits; otherwise which dimensions are short and by how much."""
        need_cpus, need_mem = agent.demand(task)
        short_cpus = need_cpus > agent.free_mcpus
        short_mem = need_mem > agent.free_mmem
        if not (short_cpus or short_mem):
            return None
        lacks = _BOTH if short_cpus and short_mem else _CPUS if short_cpus else _MEM
        charged = task.app_name not in agent.apps and not task.app_resources.is_zero()
        return ShortOfResources(
            self.name,
            agent.agent_id,
            lacks,
            need_cpus,
            need_mem,
            agent.free_mcpus,
            agent.free_mmem,
            task.app_name if charged else None,
        )

    def summarize(self, task: TaskRequest, agents: Sequence[AgentLedger]) -> FitSummary:
        """:meth:`exclude` over ``agents``, counted rather than listed.

        Same predicate as :meth:`exclude`, written as one tight loop because it runs over every agent
        each time a task cannot be placed (to explain why).
        """
        own_cpus, own_mem = task.resources.milli_cpus, task.resources.milli_mem
        app_cpus = own_cpus + task.app_resources.milli_cpus
        app_mem = own_mem + task.app_resources.milli_mem
        app_name = task.app_name
        fitting = lacking_cpus = lacking_mem = charged = 0
        most_cpus: AgentLedger | None = None
        most_mem: AgentLedger | None = None
        for agent in agents:
            free_cpus, free_mem = agent.free_mcpus, agent.free_mmem
            if app_name in agent.apps:
                short_cpus, short_mem = own_cpus > free_cpus, own_mem > free_mem
            else:
                charged += 1
                short_cpus, short_mem = app_cpus > free_cpus, app_mem > free_mem
            lacking_cpus += short_cpus
            lacking_mem += short_mem
            fitting += not (short_cpus or short_mem)
            if (
                most_cpus is None
                or free_cpus > most_cpus.free_mcpus
                or (free_cpus == most_cpus.free_mcpus and agent.agent_id < most_cpus.agent_id)
            ):
                most_cpus = agent
            if (
                most_mem is None
                or free_mem > most_mem.free_mmem
                or (free_mem == most_mem.free_mmem and agent.agent_id < most_mem.agent_id)
            ):
                most_mem = agent
        return FitSummary(len(agents), fitting, lacking_cpus, lacking_mem, most_cpus, most_mem, charged)
