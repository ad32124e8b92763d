"""The planner's working copy of one offer: what is still free on an agent during one plan() call."""

from __future__ import annotations

from collections.abc import Mapping

from elasticjob.placement.types import Offer, Resources, TaskRequest


class AgentLedger:
    """Mutable running balance of one agent, private to a single plan() call.

    It starts from the offer's free resources and ``apps_running``; each placement takes the shard's
    resources, plus the app's executor cost when the app is not yet in ``apps``, and adds the app to
    ``apps``. Amounts are integer thousandths, so balances are exact. Not thread-safe (it never leaves
    the planner); filters read it, only the planner changes it.
    """

    __slots__ = ("offer", "agent_id", "attributes", "free_mcpus", "free_mmem", "apps")

    def __init__(self, offer: Offer) -> None:
        self.offer = offer
        self.agent_id: str = offer.agent_id
        self.attributes: Mapping[str, str] = dict(offer.attributes)  # a dict: faster lookups than FrozenMap
        self.free_mcpus: int = offer.free.milli_cpus
        self.free_mmem: int = offer.free.milli_mem
        self.apps: set[str] = set(offer.apps_running)

    def charges_app(self, task: TaskRequest) -> bool:
        """True when placing ``task`` here would also start (and charge) its app's executor."""
        return task.app_name not in self.apps

    def demand(self, task: TaskRequest) -> tuple[int, int]:
        """(milli-CPUs, milli-MB) that placing ``task`` here would take, the app charge included."""
        own = task.resources
        if task.app_name in self.apps:
            return own.milli_cpus, own.milli_mem
        app = task.app_resources
        return own.milli_cpus + app.milli_cpus, own.milli_mem + app.milli_mem

    def take(self, task: TaskRequest) -> tuple[int, int, bool]:
        """Charge ``task`` to this agent; returns the undo record for :meth:`give_back`.

        Raises ``ValueError`` when it does not fit: the planner checks first, this is the last guard
        against over-committing.
        """
        milli_cpus, milli_mem = self.demand(task)
        if milli_cpus > self.free_mcpus or milli_mem > self.free_mmem:
            raise ValueError(f"task {task.task_key} does not fit on agent {self.agent_id}")
        undo = (self.free_mcpus, self.free_mmem, task.app_name not in self.apps)
        self.free_mcpus -= milli_cpus
        self.free_mmem -= milli_mem
        self.apps.add(task.app_name)
        return undo

    def give_back(self, task: TaskRequest, undo: tuple[int, int, bool]) -> None:
        """Revert a :meth:`take` (undo records must be replayed newest first)."""
        self.free_mcpus, self.free_mmem, app_added = undo
        if app_added:
            self.apps.discard(task.app_name)

    @property
    def free(self) -> Resources:
        """What is still free, as a value object."""
        return Resources.from_milli(self.free_mcpus, self.free_mmem)
