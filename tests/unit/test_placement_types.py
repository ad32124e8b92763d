"""Value objects of the placement package: Resources arithmetic, normalisation and immutability."""

from __future__ import annotations

import dataclasses

import pytest

from elasticjob.placement import FrozenMap, LaunchPlan, Offer, Placement, Resources, TaskGroup, TaskRequest
from elasticjob.placement.types import format_amount, format_cpus


def task(key: str = "t", cpus: float = 1, mem: float = 128) -> TaskRequest:
    return TaskRequest(key, "job", 0, "app", Resources(cpus, mem))


class TestResources:
    def test_rounds_to_thousandths_so_float_drift_compares_equal(self) -> None:
        assert Resources(0.1 + 0.2, 0) == Resources(0.3, 0)
        assert Resources(0.1 + 0.2, 0).milli_cpus == 300
        assert Resources(1, 100.0004).mem_mb == 100.0

    def test_fits_is_per_dimension(self) -> None:
        assert Resources(1, 512).fits(Resources(1, 512))
        assert not Resources(1.001, 512).fits(Resources(1, 4096))
        assert not Resources(1, 513).fits(Resources(8, 512))

    def test_ten_tenths_of_a_cpu_fill_exactly_one_cpu(self) -> None:
        left = Resources(1, 1000)
        for _ in range(10):
            left = left.minus(Resources(0.1, 100))
        assert left.is_zero()

    def test_plus_and_minus(self) -> None:
        assert Resources(1.5, 256).plus(Resources(0.25, 64)) == Resources(1.75, 320)
        assert Resources(1.75, 320).minus(Resources(0.25, 64)) == Resources(1.5, 256)

    def test_minus_refuses_to_go_negative(self) -> None:
        with pytest.raises(ValueError, match="cannot take"):
            Resources(1, 100).minus(Resources(2, 1))

    @pytest.mark.parametrize("cpus, mem", [(-1, 0), (0, -0.5), (float("nan"), 0), (0, float("inf"))])
    def test_rejects_negative_and_non_finite(self, cpus: float, mem: float) -> None:
        with pytest.raises(ValueError):
            Resources(cpus, mem)

    def test_rejects_non_numbers(self) -> None:
        with pytest.raises(TypeError):
            Resources("1", 0)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Resources(True, 0)

    def test_is_frozen_and_hashable(self) -> None:
        r = Resources(1, 2)
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.cpus = 3  # type: ignore[misc]
        assert len({Resources(1, 2), Resources(1.0, 2.0)}) == 1

    def test_describe_and_formatting(self) -> None:
        assert Resources(2.5, 4096).describe() == "2.5 CPUs, 4096 MB"
        assert format_cpus(1000) == "1 CPU"
        assert format_cpus(0) == "0 CPUs"
        assert format_amount(100500) == "100.5"
        assert format_amount(1) == "0.001"


class TestOffer:
    def test_attributes_and_apps_are_frozen_and_the_offer_hashable(self) -> None:
        attributes = {"rack": "a"}
        offer = Offer("a1", "h1", Resources(1, 1), attributes, {"app"})  # type: ignore[arg-type]
        attributes["rack"] = "b"
        assert offer.attributes == {"rack": "a"}
        assert isinstance(offer.attributes, FrozenMap)
        assert offer.apps_running == frozenset({"app"})
        assert hash(offer) == hash(Offer("a1", "h1", Resources(1, 1), {"rack": "a"}, frozenset({"app"})))

    def test_agent_id_is_required(self) -> None:
        with pytest.raises(ValueError):
            Offer("", "h", Resources(1, 1))


class TestTaskRequestAndGroup:
    def test_task_validation(self) -> None:
        with pytest.raises(ValueError):
            TaskRequest("", "job", 0, "app", Resources(1, 1))
        with pytest.raises(ValueError):
            TaskRequest("k", "job", -1, "app", Resources(1, 1))

    def test_app_resources_default_to_nothing(self) -> None:
        assert task().app_resources.is_zero()

    def test_group_normalises_tasks_and_constraints(self) -> None:
        group = TaskGroup("g", [task()], True, {"rack": "a"})  # type: ignore[arg-type]
        assert group.tasks == (task(),)
        assert isinstance(group.constraints, FrozenMap)
        assert group.priority == 0
        hash(group)


class TestLaunchPlan:
    def test_by_agent_groups_in_agent_order_keeping_planning_order(self) -> None:
        p1 = Placement(task("t1"), "b", "hb")
        p2 = Placement(task("t2"), "a", "ha")
        p3 = Placement(task("t3"), "b", "hb")
        grouped = LaunchPlan((p1, p2, p3), ()).by_agent()
        assert list(grouped) == ["a", "b"]
        assert grouped["b"] == [p1, p3]

    def test_empty(self) -> None:
        assert LaunchPlan((), ()).by_agent() == {}
