"""The Kubernetes-style dialect's pure mapping (model/regions.py): quantities, dates, instance names."""

from __future__ import annotations

import datetime as dt

import pytest

from elasticjob.model import ValidationFailed
from elasticjob.model import regions as r


@pytest.mark.parametrize(("text", "mb"), [("512Mi", 512), ("1Gi", 1024), ("500M", 476.837), ("1048576", 1),
                                          ("2048Ki", 2), ("0.5Gi", 512)])
def test_memory_quantities_in_mib(text: str, mb: float) -> None:
    assert r.memory_mb(text) == mb


@pytest.mark.parametrize(("text", "cpus"), [("125m", 0.125), ("0.5", 0.5), ("2", 2), ("1500m", 1.5)])
def test_cpu_quantities(text: str, cpus: float) -> None:
    assert r.cpus(text) == cpus


@pytest.mark.parametrize("text", ["", "lots", "-1Mi", "0", "1Xi", "1e3Mi"])
def test_bad_memory_names_its_field(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        r.memory_mb(text)
    assert refused.value.details[0].path == "containers.0.resources.limits.memory"


@pytest.mark.parametrize("text", ["", "m", "0m", "-1", "1.2.3"])
def test_bad_cpus_name_their_field(text: str) -> None:
    with pytest.raises(ValidationFailed):
        r.cpus(text)


def test_log_dates_are_the_seeds_form() -> None:
    assert r.log_date("2015.12.29") == dt.date(2015, 12, 29)
    assert r.log_date(None) is None and r.log_date("") is None
    for bad in ("2015-12-29", "2015.13.01", "2015.02.30", "yesterday"):
        with pytest.raises(ValidationFailed):
            r.log_date(bad)


def test_instance_names_are_the_job_and_five_characters_of_the_task() -> None:
    one = r.instance_name("myjob", "myjob@-@0@-@READY@-@a1@-@u1")
    assert one.startswith("myjob-") and len(one) == len("myjob-") + 5
    assert one == r.instance_name("myjob", "myjob@-@0@-@READY@-@a1@-@u1")
    assert one != r.instance_name("myjob", "myjob@-@1@-@READY@-@a1@-@u2")
