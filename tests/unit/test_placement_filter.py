"""The filter port: both filter plugins satisfy it, and every exclusion can be worded."""

from __future__ import annotations

from elasticjob.placement import (
    AttributeMismatch,
    ConstraintFilter,
    Exclusion,
    Filter,
    Offer,
    ResourceFitFilter,
    Resources,
    ShortOfResources,
    TaskRequest,
)
from elasticjob.placement.ledger import AgentLedger

TASK = TaskRequest("t", "job", 0, "app", Resources(2, 2048), Resources(0.5, 256))


def test_the_chain_reports_the_first_exclusion_per_agent() -> None:
    chain: tuple[Filter, ...] = (ConstraintFilter({"rack": "a"}), ResourceFitFilter())
    agents = [
        AgentLedger(Offer("a1", "h", Resources(8, 8192), {"rack": "b"})),
        AgentLedger(Offer("a2", "h", Resources(1, 8192), {"rack": "a"})),
        AgentLedger(Offer("a3", "h", Resources(8, 8192), {"rack": "a"})),
    ]
    verdicts = [
        next((e for f in chain if (e := f.exclude(TASK, agent)) is not None), None) for agent in agents
    ]
    assert isinstance(verdicts[0], AttributeMismatch)
    assert isinstance(verdicts[1], ShortOfResources)
    assert verdicts[1].lacks == {"cpus"}
    assert verdicts[1].detail == (
        "agent a2 has 1 CPU, 8192 MB free, needs 2.5 CPUs, 2304 MB (with app app's executor)"
    )
    assert verdicts[2] is None


def test_exclusions_are_values() -> None:
    a = AttributeMismatch("constraint", "a1", frozenset(), "rack", "a", None)
    assert a == AttributeMismatch("constraint", "a1", frozenset(), "rack", "a", None)
    assert hash(a) == hash(AttributeMismatch("constraint", "a1", frozenset(), "rack", "a", None))


def test_a_plain_exclusion_still_reads() -> None:
    assert Exclusion("gpu", "a9", frozenset()).detail == "agent a9 was excluded by the gpu filter"
