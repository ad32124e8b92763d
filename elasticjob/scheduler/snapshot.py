"""What a scheduling cycle decides on: an immutable view of the jobs it plans and the cluster's agents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from elasticjob.model import App, Job
from elasticjob.model.failover import FailoverEntry
from elasticjob.model.queue import ReadyQueue
from elasticjob.model.running import RunningTask


@dataclass(frozen=True)
class AgentView:
    """A connected agent as the leader sees it."""

    agent_id: str
    hostname: str
    cpus: float
    mem_mb: float
    attributes: Mapping[str, str] = field(default_factory=dict)
    incarnation: str = ""  # of the agent's process (Register.incarnation; "" if it sent none)
    ip: str = ""  # the address its stream comes from ("" if unknown)


@dataclass(frozen=True)
class AgentUsage:
    """What an agent's launched tasks take: their shares plus each app's executor once per agent."""

    cpus: float = 0.0
    mem_mb: float = 0.0
    apps: frozenset[str] = frozenset()


def usage_of(tasks: Iterable[RunningTask]) -> dict[str, AgentUsage]:
    """Per agent: the resources its tasks use (each app's executor is charged once per agent)."""
    sums: dict[str, list[float]] = {}
    apps: dict[str, dict[str, tuple[float, float]]] = {}
    for task in tasks:
        total = sums.setdefault(task.agent_id, [0.0, 0.0])
        total[0] += task.cpus
        total[1] += task.mem_mb
        apps.setdefault(task.agent_id, {})[task.app_name] = (task.app_cpus, task.app_mem_mb)
    result = {}
    for agent_id, (cpus, mem) in sums.items():
        executors = apps[agent_id]
        result[agent_id] = AgentUsage(
            cpus + sum(c for c, _ in executors.values()),
            mem + sum(m for _, m in executors.values()),
            frozenset(executors),
        )
    return result


@dataclass(frozen=True)
class Snapshot:
    jobs: Mapping[str, Job]
    apps: Mapping[str, App]
    disabled_jobs: frozenset[str]
    disabled_apps: frozenset[str]
    queues: Mapping[str, tuple[ReadyQueue, int]]  # job -> (queue, znode version)
    running: Mapping[str, tuple[RunningTask, ...]]  # job -> its launched, unfinished tasks
    agents: Mapping[str, AgentView]  # connected agents
    job_versions: Mapping[str, int] = field(default_factory=dict)  # job -> config znode version
    failover: Mapping[str, tuple[tuple[FailoverEntry, int], ...]] = field(
        default_factory=dict
    )  # with versions
    lost: frozenset[str] = frozenset()  # tombstones: task ids declared LOST (kill their stale copies)
    # Per agent, what all launched tasks use (not only those of ``running``, which may hold just the jobs
    # being planned); None: computed from ``running``.
    usage: Mapping[str, AgentUsage] | None = None
    # Requests to stop runs: job -> firing id -> (reason, znode version).
    stops: Mapping[str, Mapping[str, tuple[str, int]]] = field(default_factory=dict)

    def agent_usage(self) -> Mapping[str, AgentUsage]:
        if self.usage is not None:
            return self.usage
        return usage_of(t for tasks in self.running.values() for t in tasks)

    def job_enabled(self, job: Job) -> bool:
        return job.jobName not in self.disabled_jobs and job.effective_app_name not in self.disabled_apps

    def tasks_on(self, agent_id: str) -> list[RunningTask]:
        return [t for tasks in self.running.values() for t in tasks if t.agent_id == agent_id]
