"""DC/OS Metronome's job and schedule shapes, and how they map onto a native job (pure: no I/O).

A ``/v1`` job *is* a native ``Job``: ``run.cmd``/``run.args`` become ``scriptCommandLine``, ``cpus``/``mem``
``cpuCount``/``memoryMB``, ``env`` ``environment``, EQ/IS placement constraints ``constraints``, the one
schedule ``cron`` (Metronome's dialect), ``timeZone``, ``startingDeadlineSeconds`` (the smaller of the
schedule's and ``run.maxLaunchDelay``: a run that cannot start by then is given up) and
``concurrencyPolicy``, ``restart.activeDeadlineSeconds`` ``shardRetryDeadlineSeconds``, LIKE/UNLIKE
constraints ``patternConstraints``, the first artifact to extract whose name says it is an archive
``appURL`` and the other artifacts ``artifacts``. What has no native counterpart (labels, ``disk``,
``user``), and what maps but is shown as written (``maxLaunchDelay``, ``restart``, the artifacts, the
schedule), is
kept in the job's ``dialectSpec``, so that the job answers on ``/v1`` as it was written. A native job is
shown on ``/v1`` the other way round, and a ``/v1`` PUT on it (``update_native``) changes only the fields
it gives otherwise than shown: the job stays native, with all that ``/v1`` cannot express.

Decisions (README, "Coming from Metronome"): one schedule per job, as Metronome; the schedule's
``concurrencyPolicy`` is the job's (ALLOW, Metronome's default, lets runs overlap; a job without a
schedule is ALLOW, as Metronome runs manual runs side by side); ``restart.policy`` ON_FAILURE retries
a failed shard up to ``ON_FAILURE_RETRIES`` times; a disabled schedule leaves the job without a native
``cron`` (it can still be run by hand). Fields this platform cannot honour (``docker``, ``ucr``,
``volumes``, ``secrets``, ``gpus``, ``networks``, secret-valued ``env``) are refused with a 422 that says so.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from elasticjob.model.app import App
from elasticjob.model.artifact import Artifact, looks_like_archive
from elasticjob.model.constraint import PatternConstraint, PatternOperator, check_pattern
from elasticjob.model.errors import FieldError, ValidationFailed
from elasticjob.model.job import (
    MAX_KILL_GRACE_SECONDS,
    MAX_RUN_ENVIRONMENT,
    MAX_SHARDS,
    RESERVED_ENV_PREFIX,
    ConcurrencyPolicy,
    CronDialect,
    FieldValueError,
    Job,
)
from elasticjob.model.secrets import carry_secret_marks, masked_environment
from elasticjob.model.sizes import resources_of
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


# ---- Metronome -> native ----------------------------------------------------------------------------
def _native_artifacts(run: RunSpec) -> dict[str, Any]:
    """``appURL`` (the app artifact's, else ``""``: no archive) and ``artifacts`` (the others; absent unless
    there are some, so that a job without them has the native shape it always had)."""
    artifact = run.app_artifact()
    others = [a for a in run.artifacts if a is not artifact]
    return {"appURL": artifact.uri if artifact else "", "artifacts": others or None}


def _native_placement(run: RunSpec) -> dict[str, Any]:
    """``constraints`` (EQ / IS) and ``patternConstraints`` (LIKE / UNLIKE; absent unless used)."""
    patterns = [
        PatternConstraint(attribute=c.attribute, operator=PatternOperator(c.operator), value=c.value or "")
        for c in run.placement.constraints
        if c.operator in ("LIKE", "UNLIKE")
    ]
    equal = {c.attribute: c.value or "" for c in run.placement.constraints if c.operator in ("EQ", "IS")}
    return {"constraints": equal, "patternConstraints": patterns or None}


def _retry_limit(run: RunSpec, stored: int) -> int:
    """``shardRetryLimit`` of ``restart.policy``: NEVER none; ON_FAILURE a job's own non-zero limit, else
    ``ON_FAILURE_RETRIES``."""
    return (stored or ON_FAILURE_RETRIES) if run.restart.policy == "ON_FAILURE" else 0


def _validated(fields: dict[str, Any]) -> Job:
    """The native job of ``fields``; ``ValidationFailed`` at the ``/v1`` paths they were mapped from."""
    try:
        return Job.model_validate(fields)
    except ValidationError as exc:
        raise ValidationFailed(
            "Object is not valid", [native_path(d) for d in validation_failed(exc).details]
        ) from None


def to_native(spec: JobSpec, schedule: ScheduleSpec | None) -> Job:
    """The native job of ``spec`` with ``schedule`` (or none). Raises ``ValidationFailed`` (paths as
    Metronome's) when the combination is not valid natively."""
    run = spec.run
    scheduled = schedule is not None and schedule.enabled
    kept_run = run.model_dump(
        mode="json",
        include={
            "disk",
            "args",
            "user",
            "artifacts",
            "maxLaunchDelay",
            "restart",
            "placement",
            "taskKillGracePeriodSeconds",
        },
        exclude_none=True,
    )
    fields: dict[str, Any] = {
        "jobName": spec.id,
        **_native_artifacts(run),
        "scriptCommandLine": run.command,
        "shardingTotalCount": run.shards,
        "cpuCount": run.cpus,
        "memoryMB": run.mem,
        "environment": {k: v for k, v in run.env.items() if isinstance(v, str)},
        **_native_placement(run),
        "shardRetryLimit": _retry_limit(run, 0),
        "shardRetryDeadlineSeconds": run.restart.activeDeadlineSeconds,
        # A run whose shards could not all start within maxLaunchDelay is given up (MISSED).
        "startingDeadlineSeconds": run.maxLaunchDelay,
        "description": spec.description,
        "taskKillGracePeriodSeconds": run.taskKillGracePeriodSeconds,
        "misfire": True,
        "dialect": DIALECT,
        "dialectSpec": {
            "labels": spec.labels,
            "run": kept_run,
            "schedule": schedule.as_json() if schedule else None,
        },
    }
    if scheduled:
        assert schedule is not None
        fields.update(
            cron=schedule.cron,
            cronDialect=CronDialect.METRONOME,
            timeZone=schedule.timezone,
            startingDeadlineSeconds=min(schedule.startingDeadlineSeconds, run.maxLaunchDelay),
        )
    elif schedule is not None:
        fields["timeZone"] = schedule.timezone
    # The schedule's policy; without one, runs started by hand overlap, as in Metronome.
    fields["concurrencyPolicy"] = ConcurrencyPolicy(schedule.concurrencyPolicy if schedule else "ALLOW")
    return _validated(fields)


def update_native(stored: Job, spec: JobSpec, app: App | None) -> Job:
    """``stored``, a job registered through another API (native, or another dialect's), as a ``/v1`` PUT of
    ``spec`` leaves it. ``app``: the job's app (``stored.effective_app_name``), or None.

    ``/v1`` shows such a job partly (``job_json(stored, app)``) and Metronome's clients update by
    GET-modify-PUT, so each field ``/v1`` shows that ``spec`` gives as shown keeps what it stands for, and
    only the others change their native fields (mapped as ``to_native`` maps them): putting back what was
    shown returns ``stored`` itself. Everything else stays: the app, the schedule (a PUT has none), the
    executor, parameters, failover, misfire, webhooks, the dialect and its ``dialectSpec``. A new command
    becomes the job's own ``scriptCommandLine`` (its app stays); a new first archive artifact its
    ``appURL`` (its ``appName`` stays: whether that app may move is the service's to judge); new
    resources drop a ``resourceSize`` that no longer says them; a new ``env`` keeps the secret marks of
    the keys it still has (a mask sent back is the service's ``keep_secrets``).

    Raises ``ValidationFailed`` (``/v1`` paths): for ``labels``, ``run.user`` or ``run.disk`` given other
    than shown (such a job has nowhere to keep them: refused, never dropped), and for a result that is no
    valid job (``/run/shards`` below the items ``shardingItemParameters`` names)."""
    was = job_json(stored, app)
    old, run = was["run"], spec.run
    new = run.model_dump(mode="json", exclude_none=True)

    def differs(key: str, default: Any = None) -> bool:
        return bool(new.get(key, default) != old.get(key, default))

    origin = "native" if stored.dialect is None else stored.dialect
    unheld = [
        FieldError(path, (f"a job registered through the {origin} API has no such field",))
        for path, given in (("/labels", spec.labels != was["labels"]), ("/run/user", differs("user")),
                            ("/run/disk", differs("disk")))
        if given
    ]
    if unheld:
        raise ValidationFailed("Object is not valid", unheld)
    fields = stored.model_dump()
    if spec.description != was["description"]:
        fields["description"] = spec.description
    if differs("cpus") or differs("mem"):
        fields.update(cpuCount=run.cpus, memoryMB=run.mem)
        if stored.resourceSize is not None and resources_of(stored.resourceSize) != (run.cpus, run.mem):
            fields["resourceSize"] = None
    if differs("shards", 1):
        fields["shardingTotalCount"] = run.shards
    if run.command != old["cmd"]:
        fields["scriptCommandLine"] = run.command
    if differs("env"):
        # The secret marks of the keys still there are put back below (carry_secret_marks).
        fields.update(environment=dict(new["env"]), secretEnvironment=None)
    if differs("placement"):
        fields.update(_native_placement(run))
    if differs("artifacts"):
        fields.update(_native_artifacts(run))
        if stored.appURL is None and app is not None and fields["appURL"] == app.appURL:
            fields["appURL"] = None  # still its app's own archive
    if differs("restart"):
        fields.update(shardRetryLimit=_retry_limit(run, stored.shardRetryLimit),
                      shardRetryDeadlineSeconds=run.restart.activeDeadlineSeconds)
    if differs("taskKillGracePeriodSeconds"):
        fields["taskKillGracePeriodSeconds"] = run.taskKillGracePeriodSeconds
    if differs("maxLaunchDelay"):
        fields["startingDeadlineSeconds"] = run.maxLaunchDelay
    return carry_secret_marks(_validated(fields), stored)


_NATIVE_PATHS = {
    "jobName": "/id",
    "scriptCommandLine": "/run/cmd",
    "cpuCount": "/run/cpus",
    "memoryMB": "/run/mem",
    "environment": "/run/env",
    "constraints": "/run/placement/constraints",
    "appURL": "/run/artifacts",
    "artifacts": "/run/artifacts",
    "patternConstraints": "/run/placement/constraints",
    "cron": "/cron",
    "timeZone": "/timezone",
    "description": "/description",
    "shardingTotalCount": "/run/shards",
    "shardingItemParameters": "/run/shards",
}


def native_path(detail: FieldError) -> FieldError:
    """A native job's field path (``appURL``, ``artifacts.0.uri``) as the /v1 path it was mapped from."""
    head = detail.path.split(".", 1)[0]
    return FieldError(_NATIVE_PATHS.get(head, "/" + detail.path.replace(".", "/")), detail.errors)


def kept(job: Job) -> Mapping[str, Any]:
    return job.dialectSpec or {} if job.dialect == DIALECT else {}


def stored_schedule(job: Job) -> ScheduleSpec | None:
    """The job's schedule as ``/v1`` shows it (without ``nextRunAt``); a native job's cron is shown as a
    schedule named ``default``."""
    if job.dialect == DIALECT:
        value = kept(job).get("schedule")
        return None if value is None else ScheduleSpec.model_validate(value, strict=False)
    if job.cron is None:
        return None
    policy: Literal["ALLOW", "REPLACE", "FORBID"] = job.concurrencyPolicy.value
    return ScheduleSpec(
        id=NATIVE_SCHEDULE_ID,
        cron=job.cron,
        timezone=job.timeZone,
        startingDeadlineSeconds=job.startingDeadlineSeconds or DEFAULT_DEADLINE,
        concurrencyPolicy=policy,
        enabled=job.schedule_active,
    )


def spec_of(job: Job) -> JobSpec:
    """The job as a ``JobSpec`` (its schedule in ``schedules``), for an update that keeps what it had."""
    schedule = stored_schedule(job)
    value = job_json(job, None)
    value["schedules"] = [] if schedule is None or job.dialect != DIALECT else [schedule.as_json()]
    return JobSpec.model_validate(value, strict=False)


# ---- native -> Metronome ----------------------------------------------------------------------------
def job_json(job: Job, app: App | None) -> dict[str, Any]:
    """The ``/v1`` shape of a job: Metronome's fields only (``shards`` and ``taskKillGracePeriodSeconds``
    only when the job has them)."""
    own = kept(job).get("run", {})
    run: dict[str, Any] = {"cpus": job.cpuCount, "mem": job.memoryMB, "disk": own.get("disk", 0)}
    if "args" in own:
        run["args"] = own["args"]
    else:
        run["cmd"] = job.scriptCommandLine or (app.bootstrapScript if app else "")
    if own.get("user"):
        run["user"] = own["user"]
    run["env"] = masked_environment(job)  # a secret value is answered as the mask
    run["placement"] = own.get("placement") or {
        "constraints": [
            {"attribute": k, "operator": "EQ", "value": v} for k, v in sorted(job.constraints.items())
        ]
        + [p.model_dump(mode="json") for p in job.patternConstraints or ()]
    }
    if "artifacts" in own:
        run["artifacts"] = own["artifacts"]
    else:
        url = job.appURL if job.appURL is not None else app.appURL if app else ""
        run["artifacts"] = [{"uri": url, "extract": True, "executable": False, "cache": False}] if url else []
        run["artifacts"] += [a.to_spec() for a in job.artifacts or ()]
    run["maxLaunchDelay"] = own.get("maxLaunchDelay", DEFAULT_MAX_LAUNCH_DELAY)
    run["restart"] = own.get("restart") or {"policy": "ON_FAILURE" if job.shardRetryLimit else "NEVER"}
    if "restart" not in own and job.shardRetryDeadlineSeconds is not None:
        run["restart"]["activeDeadlineSeconds"] = job.shardRetryDeadlineSeconds
    if job.taskKillGracePeriodSeconds is not None:
        run["taskKillGracePeriodSeconds"] = job.taskKillGracePeriodSeconds
    if job.shardingTotalCount != 1:
        run["shards"] = job.shardingTotalCount
    return {
        "id": job.jobName,
        "description": job.description,
        "labels": dict(kept(job).get("labels", {})),
        "run": run,
    }


def timestamp(instant: dt.datetime | None) -> str | None:
    """Metronome's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` (``2016-07-26T00:20:00.000+0000``), in UTC."""
    if instant is None:
        return None
    utc = instant.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def schedule_json(schedule: ScheduleSpec, next_run: dt.datetime | None) -> dict[str, Any]:
    value = schedule.as_json()
    if next_run is not None and schedule.enabled:
        value["nextRunAt"] = timestamp(next_run)
    return value


TASK_STATUS = {
    "STAGING": "TASK_STAGING",
    "RUNNING": "TASK_RUNNING",
    "FINISHED": "TASK_FINISHED",
    "FAILED": "TASK_FAILED",
    "KILLED": "TASK_KILLED",
    "LOST": "TASK_FAILED",
}


def run_json(job_id: str, run: Any) -> dict[str, Any]:
    """A run (``model.run.Run``) as Metronome's JobRun: ``id, jobId, status, createdAt, completedAt,
    tasks[{id, startedAt, completedAt, status}]`` (null fields omitted, as protobuf's JSON does)."""
    value: dict[str, Any] = {
        "id": run.run_id,
        "jobId": job_id,
        "status": run.status.value,
        "createdAt": timestamp(run.created_at),
    }
    if run.finished_at is not None:
        value["completedAt"] = timestamp(run.finished_at)
    tasks = []
    for task in run.tasks:
        if task.state not in TASK_STATUS:
            continue  # a MISSED firing's record is no task
        entry: dict[str, Any] = {"id": task.task_id, "status": TASK_STATUS[task.state]}
        if task.started_at is not None:
            entry["startedAt"] = timestamp(task.started_at)
        if task.finished_at is not None:
            entry["completedAt"] = timestamp(task.finished_at)
        tasks.append(entry)
    value["tasks"] = tasks
    return value
