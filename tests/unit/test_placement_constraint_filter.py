"""ConstraintFilter: agent attributes must equal every constraint of the group."""

from __future__ import annotations

import pytest

from elasticjob.placement import (
    ConstraintFilter,
    Offer,
    PatternConstraint,
    PatternOperator,
    Resources,
    TaskRequest,
)
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


# ---- LIKE / UNLIKE (Metronome's and Marathon's operators): a regular expression matching all the value ----
def like(attribute: str, pattern: str) -> PatternConstraint:
    return PatternConstraint(attribute, PatternOperator.LIKE, pattern)


def unlike(attribute: str, pattern: str) -> PatternConstraint:
    return PatternConstraint(attribute, PatternOperator.UNLIKE, pattern)


def test_like_must_match_the_whole_value() -> None:
    constraint = ConstraintFilter({}, (like("rack", "a|b"),))
    assert constraint.exclude(TASK, agent(rack="a")) is None
    assert constraint.exclude(TASK, agent(rack="b")) is None
    assert constraint.exclude(TASK, agent(rack="ab")) is not None  # fullmatch: not a search
    assert constraint.exclude(TASK, agent(rack="c")) is not None


def test_an_agent_without_the_attribute_fails_like_and_passes_unlike() -> None:
    assert ConstraintFilter({}, (like("rack", ".*"),)).exclude(TASK, agent(zone="z1")) is not None
    assert ConstraintFilter({}, (unlike("rack", ".*"),)).exclude(TASK, agent(zone="z1")) is None


def test_unlike_refuses_a_full_match_only() -> None:
    constraint = ConstraintFilter({}, (unlike("zone", "eu-.*"),))
    assert constraint.exclude(TASK, agent(zone="eu-1")) is not None
    assert constraint.exclude(TASK, agent(zone="us-1")) is None
    assert constraint.exclude(TASK, agent(zone="xeu-1")) is None


def test_pattern_exclusions_name_the_constraint() -> None:
    exclusion = ConstraintFilter({}, (like("rack", "a|b"),)).exclude(TASK, agent(rack="c"))
    assert exclusion is not None and exclusion.filter_name == "constraint"
    assert exclusion.detail == "agent a1 has rack=c, wanted rack LIKE a|b"
    missing = ConstraintFilter({}, (like("rack", "a"),)).exclude(TASK, agent())
    assert missing is not None and missing.detail == "agent a1 has no attribute rack, wanted rack LIKE a"


def test_pairs_and_patterns_must_all_hold() -> None:
    constraint = ConstraintFilter({"zone": "z1"}, (unlike("rack", "b"),))
    assert constraint.exclude(TASK, agent(zone="z1", rack="a")) is None
    assert constraint.exclude(TASK, agent(zone="z1", rack="b")) is not None
    assert constraint.exclude(TASK, agent(zone="z2", rack="a")) is not None
    assert constraint.describe() == "zone=z1, rack UNLIKE b" and len(constraint) == 2


def test_admitted_agrees_with_exclude_for_patterns() -> None:
    agents = [agent(), agent(rack="a"), agent(rack="b", zone="z1"), agent(rack="ab"), agent(zone="z1")]
    for patterns in ((like("rack", "a"),), (unlike("rack", "a|b"),), (like("rack", "a.*"), unlike("zone", "z1"))):
        constraint = ConstraintFilter({}, patterns)
        assert constraint.admitted(agents) == [constraint.exclude(TASK, a) is None for a in agents]


def test_equal_pattern_sets_have_one_key_in_any_order() -> None:
    one = ConstraintFilter({"a": "1"}, (like("x", "1"), unlike("y", "2")))
    other = ConstraintFilter({"a": "1"}, (unlike("y", "2"), like("x", "1"), like("x", "1")))
    assert one.key == other.key
    assert one.key != ConstraintFilter({"a": "1"}, (unlike("x", "1"), unlike("y", "2"))).key
    assert one.key != ConstraintFilter({"a": "1"}).key


def test_an_expression_that_does_not_compile_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a regular expression"):
        like("rack", "a(")


def test_unmatched_names_what_no_agent_satisfies_alone() -> None:
    agents = [agent(rack="a", zone="z1"), agent(rack="b", zone="z2")]
    constraint = ConstraintFilter({"rack": "a"}, (like("zone", "z2"), unlike("rack", "a|b")))
    assert constraint.unmatched(agents) == ["rack UNLIKE a|b"]
