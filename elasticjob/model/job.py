"""The Job: what runs (an app's script or Python class), when (cron), and how wide (shards).

Field names are those of Elastic-Job-Cloud's CloudJobConfiguration so its clients work unchanged.
Validation here is everything that needs nothing but the job itself; checks that need other state
(the cron dialect, whether the app exists) belong to the service layer.
"""

from __future__ import annotations

import enum
import re
import zoneinfo
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from elasticjob.model.app import AppUrl, check_app_url
from elasticjob.model.artifact import MAX_ARTIFACTS, Artifact
from elasticjob.model.constraint import MAX_PATTERN_CONSTRAINTS, PatternConstraint
from elasticjob.model.names import Name
from elasticjob.model.sizes import ResourceSize, resources_of
from elasticjob.model.webhook import MAX_WEBHOOKS, Webhook, check_webhooks

MAX_SHARDS = 10_000
MAX_KILL_GRACE_SECONDS = 3600
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JOB_CLASS_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
RESERVED_ENV_PREFIX = "ELASTICJOB_"


class JobExecutionType(enum.StrEnum):
    TRANSIENT = "TRANSIENT"  # one process per firing and shard
    DAEMON = "DAEMON"  # a long-lived executor that runs the job's cron itself


class ConcurrencyPolicy(enum.StrEnum):
    """What a firing does while the job's previous run is still active."""

    FORBID = "FORBID"  # it waits for the previous run to end (one run at a time)
    REPLACE = "REPLACE"  # the previous run is stopped (its shards killed), then this one starts
    ALLOW = "ALLOW"  # it starts at once: runs overlap (each its own shards, failovers and retries)


class CronDialect(enum.StrEnum):
    """The language of a job's ``cron`` (absent: told by the expression's form, ``infer_cron_dialect``)."""

    QUARTZ = "QUARTZ"  # 6-7 fields, seconds first (see elasticjob.cron.quartz)
    METRONOME = "METRONOME"  # DC/OS Metronome's 5-field Unix cron, day-of-month AND day-of-week
    UNIX = "UNIX"  # classic 5-field crontab: day-of-month OR day-of-week (Vixie cron)
    ISO8601 = "ISO8601"  # repeating interval R[n]/start/period (see elasticjob.cron.iso8601)


_ISO8601_FORM = re.compile(r"\s*[Rr][0-9]*/")


def infer_cron_dialect(expression: str) -> CronDialect:
    """The language of a ``cron`` given without ``cronDialect``: ``R[n]/...`` is an ISO 8601 repeating
    interval, 5 fields are Unix cron, anything else is Quartz (Elastic-Job's own, 6-7 fields).

    The rule never changes the meaning of an expression valid before it: Quartz has 6 or 7 fields and no
    field starts with ``R``, so both forms it tells apart were refused as Quartz."""
    if _ISO8601_FORM.match(expression):
        return CronDialect.ISO8601
    if len(expression.split()) == 5:
        return CronDialect.UNIX
    return CronDialect.QUARTZ


class JobType(enum.StrEnum):
    SIMPLE = "SIMPLE"  # a Python callable receiving a ShardingContext
    DATAFLOW = "DATAFLOW"  # a Python class with fetch_data / process_data
    SCRIPT = "SCRIPT"  # a command line (scriptCommandLine, else the app's bootstrapScript)


def parse_sharding_item_parameters(text: str, total: int | None = None) -> dict[int, str]:
    """Parse ``"0=a,1=b"`` into ``{0: "a", 1: "b"}``.

    Raises ``ValueError`` for a malformed pair, a non-integer or negative item, a duplicate item, or
    (when ``total`` is given) an item ``>= total``. Values may contain ``=``; blanks around parts are ignored.
    """
    result: dict[int, str] = {}
    if not text.strip():
        return result
    for raw in text.split(","):
        pair = raw.strip()
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair!r} is not of the form item=parameter")
        try:
            item = int(key.strip())
        except ValueError:
            raise ValueError(f"item {key.strip()!r} is not an integer") from None
        if item < 0:
            raise ValueError(f"item {item} is negative")
        if total is not None and item >= total:
            raise ValueError(f"item {item} is not below shardingTotalCount {total}")
        if item in result:
            raise ValueError(f"item {item} is given twice")
        result[item] = value.strip()
    return result


def _check_environment(env: dict[str, str]) -> dict[str, str]:
    for key in env:
        if not _ENV_NAME_RE.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid environment variable name")
        if key.startswith(RESERVED_ENV_PREFIX):
            raise ValueError(f"{key!r}: names starting with {RESERVED_ENV_PREFIX} are reserved")
    return env


def _check_constraints(constraints: dict[str, str]) -> dict[str, str]:
    for key in constraints:
        if not key or "=" in key or "," in key:
            raise ValueError(f"{key!r} is not a valid attribute name")
    return constraints


def _check_time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')") from None
    return name


class Job(BaseModel):
    """A job registered through ``POST /job/register``.

    Two forms are accepted: ``appName`` naming a registered app, or the single-step form where the job
    carries ``appURL`` (and optionally ``bootstrapScript``) itself and implies an app named like the job.
    """

    # allow_inf_nan=False: Infinity, NaN or 1e400 is no resource amount, and JSON cannot store it.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    jobName: Name
    appName: Name | None = None
    appURL: AppUrl | None = None
    bootstrapScript: str | None = Field(default=None, min_length=1)
    # Absent: the job has no schedule and runs only when triggered (a Metronome job without schedules).
    cron: str | None = Field(default=None, min_length=1, max_length=512)
    cronDialect: CronDialect | None = None
    jobExecutionType: JobExecutionType = JobExecutionType.TRANSIENT
    shardingTotalCount: int = Field(gt=0, le=MAX_SHARDS)
    shardingItemParameters: str = Field(default="", max_length=65_536)
    jobParameter: str = Field(default="", max_length=65_536)
    cpuCount: float = Field(ge=0.001)
    memoryMB: float = Field(ge=1)
    # A named size instead of cpuCount/memoryMB (model/sizes.py); absent unless used. The job keeps the name
    # and the numbers it stands for.
    resourceSize: ResourceSize | None = None
    failover: bool = False
    misfire: bool = False
    # The schedule switch: false means no scheduled firings (manual runs still allowed). Absent when true.
    scheduleActive: bool | None = None
    # Misfire accounting: at most this many firings wait; older than startingDeadlineSeconds -> MISSED.
    maxPendingFirings: int = Field(default=10, ge=1, le=1000)
    startingDeadlineSeconds: int | None = Field(default=None, ge=1)
    # Per-shard retry of the job's own failures (non-zero exit, memory): like backoffLimitPerIndex.
    shardRetryLimit: int = Field(default=0, ge=0, le=100)
    shardRetryBackoffSeconds: float = Field(default=10.0, ge=0, le=3600)
    # No retry of a shard that fails this long after its run's instant (Metronome's activeDeadlineSeconds).
    shardRetryDeadlineSeconds: int | None = Field(default=None, ge=1)
    concurrencyPolicy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    # Seconds between SIGTERM and SIGKILL when a shard is killed (its run stopped or replaced, its job
    # removed or disabled); 0: SIGKILL at once; None: the agent's own --kill-grace.
    taskKillGracePeriodSeconds: float | None = Field(default=None, ge=0, le=MAX_KILL_GRACE_SECONDS)
    description: str = Field(default="", max_length=4096)
    dockerImageName: str | None = None  # accepted and stored; reserved, nothing uses it yet
    jobType: JobType = JobType.SCRIPT
    jobClass: str | None = None
    streamingProcess: bool = False
    scriptCommandLine: str | None = Field(default=None, min_length=1)
    environment: Annotated[dict[str, str], AfterValidator(_check_environment)] = Field(default_factory=dict)
    # Keys of ``environment`` whose values are secret: stored as given and passed to the shards, but every
    # answer of the API shows them masked (see model/secrets.py); absent unless a job has them.
    secretEnvironment: list[str] | None = Field(default=None, max_length=1000)
    timeZone: Annotated[str, AfterValidator(_check_time_zone)] = "UTC"
    # Agent attributes every shard's agent must have, e.g. {"rack": "a"} (agents: --attributes rack=a).
    constraints: Annotated[dict[str, str], AfterValidator(_check_constraints)] = Field(default_factory=dict)
    # LIKE / UNLIKE constraints on agent attributes (regular expressions); absent unless a job uses them.
    patternConstraints: list[PatternConstraint] | None = Field(
        default=None, max_length=MAX_PATTERN_CONSTRAINTS
    )
    # Files fetched into each shard's working directory after the app (see model/artifact.py); absent unless
    # a job has them.
    artifacts: list[Artifact] | None = Field(default=None, max_length=MAX_ARTIFACTS)
    # URLs that receive a signed POST when a run ends or starts (see model/webhook.py); absent unless a job
    # has them. Their secrets are write-only: the API shows them masked (model/masking.py).
    webhooks: Annotated[list[Webhook] | None, AfterValidator(check_webhooks)] = Field(
        default=None, max_length=MAX_WEBHOOKS
    )
    # A job created through another API (``/v1``) remembers which, and the fields of that API's own shape
    # that have no native counterpart, so that it answers there as it was written.
    dialect: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] | None = None
    dialectSpec: dict[str, Any] | None = None
    # Elastic-Job-Cloud 2.x fields, accepted so its clients work unchanged; stored, not interpreted.
    jobProperties: dict[str, str] | None = None
    beanName: str | None = None
    applicationContext: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _sized(cls, data: Any) -> Any:
        """``resourceSize`` fills in ``cpuCount`` and ``memoryMB``; numbers given beside it must agree."""
        if not isinstance(data, dict) or data.get("resourceSize") is None:
            return data
        try:
            size = resources_of(data["resourceSize"])
        except (ValueError, TypeError):
            return data  # the field's own validation names it
        filled = dict(data)
        for field, value in (("cpuCount", size.cpu_count), ("memoryMB", size.memory_mb)):
            given = filled.get(field)
            if given is None:
                filled[field] = value
            elif isinstance(given, int | float) and not isinstance(given, bool) and float(given) != value:
                raise FieldValueError(
                    field, f"is {given}, but resourceSize {data['resourceSize']} means {value:g}; give "
                    "either, or both agreeing"
                )
        return filled

    @field_validator("scheduleActive")
    @classmethod
    def _switch(cls, value: bool | None) -> bool | None:
        return None if value is None or value else False  # stored (and shown) only when off

    @field_validator("appURL")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_app_url(value)

    @field_validator("secretEnvironment")
    @classmethod
    def _secret_keys(cls, value: list[str] | None) -> list[str] | None:
        return value or None  # [] marks nothing: the job keeps the shape of a job without secrets

    @field_validator("jobClass")
    @classmethod
    def _job_class(cls, value: str | None) -> str | None:
        if value is not None and not _JOB_CLASS_RE.fullmatch(value):
            raise ValueError("must name a Python callable as 'package.module:attribute'")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> Job:
        try:
            parse_sharding_item_parameters(self.shardingItemParameters, self.shardingTotalCount)
        except ValueError as exc:
            raise FieldValueError("shardingItemParameters", str(exc)) from None
        if self.appName is None and self.appURL is None:
            raise FieldValueError("appName", "give appName (a registered app) or appURL (single-step form)")
        if self.appURL == "" and self.scriptCommandLine is None:
            raise FieldValueError("scriptCommandLine", 'is required with appURL "" (no archive to run from)')
        if self.jobType in (JobType.SIMPLE, JobType.DATAFLOW) and self.jobClass is None:
            raise FieldValueError("jobClass", f"is required for jobType {self.jobType.value}")
        if self.jobType is JobType.SCRIPT and self.jobClass is not None:
            raise FieldValueError("jobClass", "is only for SIMPLE and DATAFLOW jobs")
        if self.streamingProcess and self.jobType is not JobType.DATAFLOW:
            raise FieldValueError("streamingProcess", "is only for DATAFLOW jobs")
        daemon = self.jobExecutionType is JobExecutionType.DAEMON
        if daemon and self.cron is None:
            raise FieldValueError("cron", "is required for a DAEMON job (its executor runs the schedule)")
        if daemon and self.cronDialect not in (None, CronDialect.QUARTZ):
            raise FieldValueError("cronDialect", "a DAEMON job's schedule is Quartz cron")
        if daemon and self.cron is not None and self.cron_dialect is not CronDialect.QUARTZ:
            raise FieldValueError("cron", "a DAEMON job's schedule is Quartz cron (6-7 fields)")
        if self.cronDialect is not None and self.cron is None:
            raise FieldValueError("cronDialect", "names the language of cron, which is absent")
        for key in self.secretEnvironment or ():
            if key not in self.environment:
                raise FieldValueError("secretEnvironment", f"{key!r} is not a key of environment")
        secret = self.secretEnvironment or []
        if len(set(secret)) != len(secret):
            raise FieldValueError("secretEnvironment", "names a key twice")
        if self.concurrencyPolicy is not ConcurrencyPolicy.FORBID and daemon:
            raise FieldValueError(
                "concurrencyPolicy", f"{self.concurrencyPolicy.value} is only for TRANSIENT jobs"
            )
        return self

    @property
    def runs_overlap(self) -> bool:
        """Whether a firing may start while an earlier run is active (``concurrencyPolicy`` ALLOW): its
        shards are then told apart by firing, not by sharding item alone."""
        return self.concurrencyPolicy is ConcurrencyPolicy.ALLOW

    @property
    def cron_dialect(self) -> CronDialect:
        """The language of ``cron``: ``cronDialect``, else told by its form (``infer_cron_dialect``)."""
        if self.cronDialect is not None:
            return self.cronDialect
        return CronDialect.QUARTZ if self.cron is None else infer_cron_dialect(self.cron)

    @property
    def schedule_active(self) -> bool:
        """Whether the schedule fires (``scheduleActive`` absent or true); manual runs are allowed anyway."""
        return self.scheduleActive is not False

    @property
    def effective_app_name(self) -> str:
        """The app this job runs in: ``appName``, or the job's own name in the single-step form."""
        return self.appName if self.appName is not None else self.jobName

    @property
    def sharding_parameters(self) -> dict[int, str]:
        return parse_sharding_item_parameters(self.shardingItemParameters, self.shardingTotalCount)

    def as_json(self) -> dict[str, Any]:
        """The JSON stored in ZooKeeper and returned by the API (``null`` fields omitted, as Gson does)."""
        return self.model_dump(mode="json", exclude_none=True)


class FieldValueError(ValueError):
    """A cross-field error raised inside a model validator that knows which field it is about."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


MAX_RUN_ENVIRONMENT = 100


class ManualRun(BaseModel):
    """``POST /job/trigger`` as a JSON object: one firing of ``jobName`` now, with environment variables
    and a job parameter for that run only (on top of the job's own)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    jobName: Name
    environment: Annotated[dict[str, Annotated[str, Field(max_length=65_536)]],
                           AfterValidator(_check_environment),
                           Field(max_length=MAX_RUN_ENVIRONMENT)] = Field(default_factory=dict)
    jobParameter: str | None = Field(default=None, max_length=65_536)
