"""ResourceFitFilter: CPUs and memory, executor charge included, checked exactly."""

from __future__ import annotations

from elasticjob.placement import Offer, ResourceFitFilter, Resources, TaskRequest
from elasticjob.placement.ledger import AgentLedger

FIT = ResourceFitFilter()
EXECUTOR = Resources(0.5, 256)


def task(cpus: float, mem: float, executor: Resources = EXECUTOR) -> TaskRequest:
    return TaskRequest("t", "job", 0, "app", Resources(cpus, mem), executor)


def agent(agent_id: str, cpus: float, mem: float, running: bool = False) -> AgentLedger:
    apps = frozenset({"app"}) if running else frozenset()
    return AgentLedger(Offer(agent_id, "h", Resources(cpus, mem), apps_running=apps))


def test_exact_fit_passes() -> None:
    assert FIT.exclude(task(1, 512), agent("a1", 1.5, 768)) is None
    assert FIT.exclude(task(0.3, 512), agent("a1", 0.1 + 0.2, 512, running=True)) is None


def test_the_executor_is_charged_where_the_app_is_not_running() -> None:
    assert FIT.exclude(task(1, 512), agent("a1", 1, 512, running=True)) is None
    exclusion = FIT.exclude(task(1, 512), agent("a1", 1, 512))
    assert exclusion is not None
    assert exclusion.lacks == {"cpus", "mem"}
    assert (
        exclusion.detail
        == "agent a1 has 1 CPU, 512 MB free, needs 1.5 CPUs, 768 MB (with app app's executor)"
    )


def test_reports_which_resource_is_short() -> None:
    cpus_short = FIT.exclude(task(2, 512), agent("a1", 1, 8192, running=True))
    mem_short = FIT.exclude(task(1, 4096), agent("a1", 8, 2048, running=True))
    assert cpus_short is not None and cpus_short.lacks == {"cpus"}
    assert mem_short is not None and mem_short.lacks == {"mem"}
    assert mem_short.filter_name == "resources"
    assert mem_short.detail == "agent a1 has 8 CPUs, 2048 MB free, needs 1 CPU, 4096 MB"


def test_summary_counts_lacks_and_finds_the_largest_free_agents() -> None:
    agents = [agent("a1", 1, 4096), agent("a2", 4, 1024, running=True), agent("a3", 4, 4096, running=True)]
    summary = FIT.summarize(task(2, 2048), agents)
    assert (summary.agents, summary.fitting, summary.charged) == (3, 1, 1)
    assert (summary.lacking_cpus, summary.lacking_mem) == (1, 1)
    assert summary.most_cpus is agents[1]  # a2 and a3 tie on CPUs: the smallest agent_id wins
    assert summary.most_mem is agents[0]


def test_summary_of_no_agents() -> None:
    summary = FIT.summarize(task(1, 1), [])
    assert (summary.agents, summary.fitting, summary.most_cpus, summary.most_mem) == (0, 0, None, None)
