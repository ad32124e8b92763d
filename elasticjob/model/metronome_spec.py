"""DC/OS Metronome's job, schedule and run-request shapes, as its ``/v1`` API takes them: strict pydantic
models whose errors carry Metronome's JSON-pointer paths (pure: no I/O). How they map onto a native job is
``metronome.py``.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from elasticjob.model.artifact import Artifact, looks_like_archive
from elasticjob.model.constraint import check_pattern
from elasticjob.model.errors import FieldError, ValidationFailed
from elasticjob.model.job import (
    MAX_KILL_GRACE_SECONDS,
    MAX_RUN_ENVIRONMENT,
    MAX_SHARDS,
    RESERVED_ENV_PREFIX,
    FieldValueError,
)
from elasticjob.model.validation import validation_failed

DIALECT = "metronome"
ID_RE = re.compile(r"([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])(\.([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9]))*")
ON_FAILURE_RETRIES = 10
DEFAULT_DEADLINE = 900
DEFAULT_MAX_LAUNCH_DELAY = 3600
NATIVE_SCHEDULE_ID = "default"
UNSUPPORTED_RUN_FIELDS = ("docker", "ucr", "volumes", "secrets", "gpus", "networks")
_NOT_SUPPORTED = "is not supported by this platform yet (no container runtime, no secret store)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _check_id(value: str) -> str:
    if not ID_RE.fullmatch(value) or len(value) > 128:
        raise ValueError(
            "must be lower-case letters, digits and '-', in dot-separated groups (e.g. marketing.myjob), "
            "at most 128 characters"
        )
    return value


class Constraint(_Strict):
    attribute: str = Field(min_length=1, max_length=256)
    operator: Literal["IS", "EQ", "LIKE", "UNLIKE"]
    value: str | None = None


class Placement(_Strict):
    constraints: list[Constraint] = Field(default_factory=list, max_length=64)


class Restart(_Strict):
    policy: Literal["NEVER", "ON_FAILURE"] = "NEVER"
    activeDeadlineSeconds: int | None = Field(default=None, ge=1)


class RunSpec(_Strict):
    cpus: float = Field(ge=0.01)
    mem: float = Field(ge=32)
    disk: float = Field(default=0, ge=0)
    cmd: str | None = Field(default=None, min_length=1, max_length=65_536)
    args: list[str] | None = Field(default=None, min_length=1, max_length=1024)
    user: str | None = Field(default=None, min_length=1, max_length=256)
    env: dict[str, str | dict[str, Any]] = Field(default_factory=dict, max_length=1000)
    placement: Placement = Field(default_factory=Placement)
    artifacts: list[Artifact] = Field(default_factory=list, max_length=64)
    maxLaunchDelay: int = Field(default=DEFAULT_MAX_LAUNCH_DELAY, ge=1)
    taskKillGracePeriodSeconds: float | None = Field(default=None, ge=0, le=MAX_KILL_GRACE_SECONDS)
    restart: Restart = Field(default_factory=Restart)
    shards: int = Field(default=1, ge=1, le=MAX_SHARDS)  # extension: N shards, each with the sharding env

    @model_validator(mode="after")
    def _command(self) -> RunSpec:
        if (self.cmd is None) == (self.args is None):
            raise FieldValueError("run.cmd", "give exactly one of cmd (a shell command) and args (an argv)")
        for key, value in self.env.items():
            if not isinstance(value, str):
                raise FieldValueError(f"run.env.{key}", f"secret references {_NOT_SUPPORTED}")
        for i, constraint in enumerate(self.placement.constraints):
            if constraint.value is None:
                raise FieldValueError(
                    f"run.placement.constraints.{i}.value", f"is required for {constraint.operator}"
                )
            if constraint.operator in ("LIKE", "UNLIKE"):
                try:
                    check_pattern(constraint.value)
                except ValueError as exc:
                    raise FieldValueError(f"run.placement.constraints.{i}.value", str(exc)) from None
        return self

    @property
    def command(self) -> str:
        """The native ``scriptCommandLine``: ``cmd``, or ``args`` joined with shell quoting."""
        return self.cmd if self.cmd is not None else shlex.join(self.args or [])

    def app_artifact(self) -> Artifact | None:
        """The artifact that becomes the native job's ``appURL``: the first to be extracted whose name says
        it is an archive (the agent keeps one unpacked copy of it for every shard). Every other artifact is
        in the native job's ``artifacts``."""
        return next((a for a in self.artifacts if a.unpacks and looks_like_archive(a.uri)), None)


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RunRequest(_Strict):
    """The optional body of ``POST /v1/jobs/{id}/runs`` (an extension: Metronome's takes none):
    ``{"env": {"K": "V"}, "jobParameter": "..."}``, environment variables (on top of the job's) and a job
    parameter for this run only, as the native ``POST /job/trigger`` JSON form's ``environment`` and
    ``jobParameter``."""

    env: dict[str, Annotated[str, Field(max_length=65_536)]] = Field(
        default_factory=dict, max_length=MAX_RUN_ENVIRONMENT
    )
    jobParameter: str | None = Field(default=None, max_length=65_536)

    @field_validator("env")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _ENV_NAME_RE.fullmatch(key):
                raise FieldValueError(f"env.{key}", f"{key!r} is not a valid environment variable name")
            if key.startswith(RESERVED_ENV_PREFIX):
                raise FieldValueError(f"env.{key}", f"names starting with {RESERVED_ENV_PREFIX} are reserved")
        return value


def parse_run_request(raw: bytes) -> RunRequest:
    """The body of a run request: empty (or JSON ``null``) is no request of its own, as Metronome's;
    ``ValidationFailed`` (Metronome's paths) for anything else that is not a valid ``RunRequest``."""
    if not raw.strip() or raw.strip() == b"null":
        return RunRequest()
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        not_json = FieldError("/", ("the body is not valid JSON",))
        raise ValidationFailed("Object is not valid", [not_json]) from None
    result: RunRequest = parse_model(RunRequest, value)
    return result


class ScheduleSpec(_Strict):
    id: str
    cron: str = Field(min_length=1, max_length=512)
    timezone: str = "UTC"
    startingDeadlineSeconds: int = Field(default=DEFAULT_DEADLINE, ge=1)
    concurrencyPolicy: Literal["ALLOW", "FORBID", "REPLACE"] = "ALLOW"
    enabled: bool = True
    nextRunAt: str | None = None  # computed; accepted in input (the docs' examples carry it) and ignored

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"nextRunAt"})


class JobSpec(_Strict):
    id: str
    description: str = Field(default="", max_length=4096)
    labels: dict[str, str] = Field(default_factory=dict, max_length=256)
    run: RunSpec
    schedules: list[ScheduleSpec] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value)

    @field_validator("schedules")
    @classmethod
    def _one_schedule(cls, value: list[ScheduleSpec]) -> list[ScheduleSpec]:
        if len(value) > 1:
            raise ValueError("only one schedule per job is supported (as Metronome)")
        return value


def parse_model(model: type[_Strict], value: Any) -> Any:
    """Validate a decoded JSON value; ``ValidationFailed`` with Metronome's JSON-pointer paths."""
    if not isinstance(value, dict):
        raise ValidationFailed("Object is not valid", [FieldError("/", ("expected a JSON object",))])
    unsupported = [
        FieldError(f"/run/{name}", (f"{name} {_NOT_SUPPORTED}",))
        for name in UNSUPPORTED_RUN_FIELDS
        if isinstance(value.get("run"), dict) and name in value["run"]
    ]
    if unsupported:
        raise ValidationFailed("Object is not valid", unsupported)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        failed = validation_failed(exc)
        raise ValidationFailed("Object is not valid", [pointer(d) for d in failed.details]) from None


def pointer(detail: FieldError) -> FieldError:
    """A native dotted field path as Metronome's JSON pointer (``run.mem`` -> ``/run/mem``)."""
    if detail.path.startswith("/"):
        return detail
    return FieldError("/" + detail.path.replace(".", "/"), detail.errors)
