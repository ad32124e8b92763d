"""Secret environment values: what every answer shows of them, and how an update keeps them.

A job names the keys of its ``environment`` whose values are secret in ``secretEnvironment``. The real
values are stored (ZooKeeper holds the job as ``Job.as_json()``) and go to the shards in their task specs;
everything that *shows* a job — every API dialect, the console, the registry browser — shows the JSON of
``model.masking.masked`` (``masked_json`` here), where each secret value is ``SECRET_MASK``.

The round trip: a client that reads a job and writes it back sends the mask for each secret. ``keep_secrets``
is the rule an update applies, stated once here: a value equal to ``SECRET_MASK`` for a key whose stored value
is secret keeps the stored value, and the key stays secret (so that leaving the mask in place never reveals
the value by un-marking it); a new value replaces it. The mask for a key that has no stored secret is refused:
it would store the mask itself as the value.

Pure functions; no I/O.
"""

from __future__ import annotations

from typing import Any

from elasticjob.model.errors import ValidationFailed
from elasticjob.model.job import Job
from elasticjob.model.masking import MASK, SECRET_ENVIRONMENT, masked

SECRET_MASK = MASK
SECRET_FIELD = SECRET_ENVIRONMENT

__all__ = ["SECRET_FIELD", "SECRET_MASK", "carry_secret_marks", "keep_secrets", "masked_environment",
           "masked_json", "secret_values"]


def masked_json(job: Job) -> dict[str, Any]:
    """``job.as_json()`` as every answer shows it: secrets masked (``model.masking``)."""
    return masked(job.as_json())


def masked_environment(job: Job) -> dict[str, str]:
    """The job's ``environment`` as every answer shows it: secret values masked."""
    secret = set(job.secretEnvironment or ())
    return {k: SECRET_MASK if k in secret else v for k, v in job.environment.items()}


def secret_values(job: Job) -> list[str]:
    """The job's secret values (non-empty ones), e.g. to keep them out of logs."""
    return [job.environment[k] for k in job.secretEnvironment or () if job.environment.get(k)]


def keep_secrets(new: Job, stored: Job | None) -> Job:
    """``new`` as an update of ``stored`` stores it: each value equal to ``SECRET_MASK`` whose key is secret
    in ``stored`` becomes the stored value, and that key secret in the result. ``ValidationFailed`` (field
    ``environment.KEY``) for the mask given for a key without a stored secret value. Returns ``new`` itself
    when no value is the mask."""
    masked = [k for k, v in new.environment.items() if v == SECRET_MASK]
    if not masked:
        return new
    stored_secret = set(stored.secretEnvironment or ()) if stored is not None else set()
    for key in masked:
        if key not in stored_secret:
            raise ValidationFailed.field(
                f"environment.{key}", f"is the secret mask {SECRET_MASK!r}, but the job has no secret value "
                "for it to keep: give the value"
            )
    assert stored is not None
    environment = {k: stored.environment[k] if k in masked else v for k, v in new.environment.items()}
    marks = list(new.secretEnvironment or ())
    marks += [k for k in masked if k not in marks]
    value = {**new.as_json(), "environment": environment, SECRET_FIELD: marks}
    return Job.model_validate(value, strict=False)


def carry_secret_marks(new: Job, stored: Job | None) -> Job:
    """``new`` (written through an API that cannot mark secrets, ``/v1``) with the marks of ``stored`` kept
    for the keys it still has: a secret stays secret whatever that API sends."""
    if stored is None or not stored.secretEnvironment:
        return new
    marks = list(new.secretEnvironment or ())
    marks += [k for k in stored.secretEnvironment if k in new.environment and k not in marks]
    if marks == list(new.secretEnvironment or ()):
        return new
    return Job.model_validate({**new.as_json(), SECRET_FIELD: marks}, strict=False)
