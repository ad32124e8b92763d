"""ConstraintFilter: agent attributes must equal every constraint of the group."""

from __future__ import annotations

from elasticjob.placement import ConstraintFilter, Offer, Resources, TaskRequest
from elasticjob.placement.ledger import AgentLedger

TASK = TaskRequest("t", "job", 0, "app", Resources(1, 1))


def agent(**attributes: str) -> AgentLedger:
    return AgentLedger(Offer("a1", "h", Resources(1, 1), attributes))


def test_no_constraints_let_every_agent_through() -> None:
    assert ConstraintFilter({}).exclude(TASK, agent()) is None
    assert ConstraintFilter({}).exclude(TASK, agent(rack="a")) is None


def test_all_pairs_must_match() -> None:
    constraint = ConstraintFilter({"rack": "a", "zone": "z1"})
    assert constraint.exclude(TASK, agent(rack="a", zone="z1", extra="x")) is None
    assert constraint.exclude(TASK, agent(rack="a", zone="z2")) is not None


def test_explains_a_different_value() -> None:
    exclusion = ConstraintFilter({"rack": "a"}).exclude(TASK, agent(rack="b"))
    assert exclusion is not None
    assert exclusion.filter_name == "constraint"
    assert exclusion.agent_id == "a1"
    assert exclusion.detail == "agent a1 has rack=b, wanted rack=a"
    assert exclusion.lacks == frozenset()


def test_explains_a_missing_attribute() -> None:
    exclusion = ConstraintFilter({"rack": "a"}).exclude(TASK, agent(zone="z1"))
    assert exclusion is not None
    assert exclusion.detail == "agent a1 has no attribute rack, wanted rack=a"


def test_values_are_compared_exactly() -> None:
    assert ConstraintFilter({"rack": "a"}).exclude(TASK, agent(rack="A")) is not None
    assert ConstraintFilter({"rack": ""}).exclude(TASK, agent()) is not None


def test_admitted_agrees_with_exclude_agent_by_agent() -> None:
    agents = [agent(), agent(rack="a"), agent(rack="a", zone="z1"), agent(rack="b", zone="z1"), agent(zone="z1")]
    for constraints in ({}, {"rack": "a"}, {"zone": "z1"}, {"rack": "a", "zone": "z1"}, {"rack": "c"}):
        constraint = ConstraintFilter(constraints)
        assert constraint.admitted(agents) == [constraint.exclude(TASK, a) is None for a in agents]


def test_pairs_are_in_key_order() -> None:
    assert ConstraintFilter({"zone": "z1", "rack": "a"}).pairs == (("rack", "a"), ("zone", "z1"))
