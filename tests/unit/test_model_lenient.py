"""``lenient_document``: the original console's string forms become the strict document, nothing more."""

from __future__ import annotations

import math

import pytest

from elasticjob.model import App, Job
from elasticjob.model.lenient import APP_FORM, JOB_FORM, lenient_document


def test_numeric_strings_become_numbers_of_the_fields_type() -> None:
    out = lenient_document(Job, {"shardingTotalCount": "2", "cpuCount": "0.1", "memoryMB": "128"}, JOB_FORM)
    assert out == {"shardingTotalCount": 2, "cpuCount": 0.1, "memoryMB": 128.0}
    assert isinstance(out["shardingTotalCount"], int) and isinstance(out["memoryMB"], float)


def test_fields_the_original_did_not_have_stay_strict() -> None:
    body = {"startingDeadlineSeconds": "30", "taskKillGracePeriodSeconds": "1.5", "shardRetryLimit": "2"}
    assert lenient_document(Job, body, JOB_FORM) == body


@pytest.mark.parametrize("text", ["two", "1.5", "0x10", " 2", "2 ", "", "1_000", "+", "٣"])
def test_an_int_field_keeps_a_string_that_is_no_integer(text: str) -> None:
    assert lenient_document(Job, {"shardingTotalCount": text}, JOB_FORM) == {"shardingTotalCount": text}


@pytest.mark.parametrize("text", ["abc", "NaN", "Infinity", "1,5", "0.1.2", ".", "1e", " 1"])
def test_a_float_field_keeps_a_string_that_is_no_decimal_number(text: str) -> None:
    assert lenient_document(App, {"cpuCount": text}, APP_FORM) == {"cpuCount": text}


def test_a_huge_exponent_becomes_infinity_for_the_model_to_reject() -> None:
    assert math.isinf(lenient_document(App, {"memoryMB": "1e400"}, APP_FORM)["memoryMB"])


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_true_and_false_strings_become_booleans(text: str, value: bool) -> None:
    assert lenient_document(App, {"appCacheEnable": text}, APP_FORM) == {"appCacheEnable": value}


@pytest.mark.parametrize("text", ["True", "yes", "1", "on", ""])
def test_other_strings_for_a_boolean_are_left_alone(text: str) -> None:
    assert lenient_document(Job, {"failover": text}, JOB_FORM) == {"failover": text}


def test_empty_strings_of_the_named_fields_are_dropped_others_kept() -> None:
    body = {"jobClass": "", "beanName": "", "applicationContext": "", "bootstrapScript": "",
            "scriptCommandLine": "", "jobParameter": "", "description": "", "appURL": ""}
    assert lenient_document(Job, body, JOB_FORM) == {"jobParameter": "", "description": "",
                                                                "appURL": ""}


def test_strings_of_string_fields_unknown_fields_and_nested_values_are_untouched() -> None:
    body = {"jobName": "5", "cron": "0 * * * * ?", "nope": "5", "environment": {"A": "1"}}
    assert lenient_document(Job, body, JOB_FORM) == body
