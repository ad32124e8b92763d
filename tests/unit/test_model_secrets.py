"""The secret environment values of a job: validation, masking and the update rule (model/secrets.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from elasticjob.model import Job, ValidationFailed
from elasticjob.model.masking import masked
from elasticjob.model.secrets import (
    SECRET_MASK,
    carry_secret_marks,
    keep_secrets,
    masked_json,
    secret_values,
)


def job(environment: dict[str, str], secret: list[str] | None = None, **extra: Any) -> Job:
    fields: dict[str, Any] = {"jobName": "j", "appName": "a", "cron": "0 * * * * ?", "shardingTotalCount": 1,
                              "cpuCount": 0.1, "memoryMB": 32, "environment": environment, **extra}
    if secret is not None:
        fields["secretEnvironment"] = secret
    return Job.model_validate(fields)


def test_a_secret_key_must_be_a_key_of_the_environment() -> None:
    with pytest.raises(ValidationError, match="'TOKEN' is not a key of environment"):
        job({"A": "1"}, ["TOKEN"])


def test_a_secret_key_named_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="names a key twice"):
        job({"TOKEN": "s"}, ["TOKEN", "TOKEN"])


def test_a_job_without_secrets_keeps_the_original_shape() -> None:
    assert "secretEnvironment" not in job({"A": "1"}).as_json()
    assert "secretEnvironment" not in job({"A": "1"}, []).as_json()


def test_masked_json_masks_the_secret_values_only() -> None:
    value = masked_json(job({"A": "1", "TOKEN": "s3cr3t"}, ["TOKEN"]))
    assert value["environment"] == {"A": "1", "TOKEN": SECRET_MASK}
    assert value["secretEnvironment"] == ["TOKEN"]


def test_masked_json_of_a_job_without_secrets_is_its_json() -> None:
    plain = job({"A": "1"})
    assert masked_json(plain) == plain.as_json()


def test_masking_masks_stored_json_and_leaves_its_argument_alone() -> None:
    stored = job({"A": "1", "TOKEN": "s3cr3t"}, ["TOKEN"]).as_json()
    assert masked(stored)["environment"] == {"A": "1", "TOKEN": SECRET_MASK}
    assert stored["environment"]["TOKEN"] == "s3cr3t"


def test_masking_masks_the_whole_environment_when_the_marks_are_unreadable() -> None:
    raw = {"environment": {"A": "1", "TOKEN": "s"}, "secretEnvironment": "TOKEN"}
    assert masked(raw)["environment"] == {"A": SECRET_MASK, "TOKEN": SECRET_MASK}


def test_masking_a_job_without_secrets_returns_it_unchanged() -> None:
    assert masked({"environment": {"A": "1"}}) == {"environment": {"A": "1"}}


def test_the_mask_sent_back_keeps_the_stored_value() -> None:
    stored = job({"A": "1", "TOKEN": "s3cr3t"}, ["TOKEN"])
    sent = job({"A": "2", "TOKEN": SECRET_MASK}, ["TOKEN"])
    kept = keep_secrets(sent, stored)
    assert kept.environment == {"A": "2", "TOKEN": "s3cr3t"}
    assert kept.secretEnvironment == ["TOKEN"]


def test_the_mask_sent_back_without_the_mark_keeps_the_value_secret() -> None:
    stored = job({"TOKEN": "s3cr3t"}, ["TOKEN"])
    kept = keep_secrets(job({"TOKEN": SECRET_MASK}), stored)
    assert kept.environment == {"TOKEN": "s3cr3t"}
    assert kept.secretEnvironment == ["TOKEN"]


def test_a_new_value_replaces_the_secret() -> None:
    stored = job({"TOKEN": "old"}, ["TOKEN"])
    sent = job({"TOKEN": "new"}, ["TOKEN"])
    assert keep_secrets(sent, stored) is sent


def test_the_mask_for_a_key_without_a_stored_secret_is_refused() -> None:
    stored = job({"TOKEN": "plain"})
    with pytest.raises(ValidationFailed) as caught:
        keep_secrets(job({"TOKEN": SECRET_MASK}, ["TOKEN"]), stored)
    assert caught.value.details[0].path == "environment.TOKEN"
    with pytest.raises(ValidationFailed):
        keep_secrets(job({"TOKEN": SECRET_MASK}, ["TOKEN"]), None)


def test_carry_secret_marks_keeps_the_marks_of_the_keys_still_there() -> None:
    stored = job({"TOKEN": "old", "GONE": "x"}, ["TOKEN", "GONE"])
    carried = carry_secret_marks(job({"TOKEN": "new", "A": "1"}), stored)
    assert carried.secretEnvironment == ["TOKEN"]
    assert carried.environment["TOKEN"] == "new"


def test_secret_values_lists_the_non_empty_secret_values() -> None:
    assert secret_values(job({"A": "1", "T": "s", "E": ""}, ["T", "E"])) == ["s"]
