"""The jobs-with-executions API of a hosted service (seeds ``002``/``003``): ``/v1/jobs`` with ``execs``.

It shares ``/v1/jobs`` with Metronome's dialect and is told apart by the request's shape (``is_execs_body``,
``is_execs_list``; README "The execs dialect"): a ``POST /v1/jobs`` body with ``name`` and ``command`` and
no ``run`` is one of these jobs, ``GET /v1/jobs?namespace=`` is this dialect's list, and a job answers
``/v1/jobs/{id}`` in the dialect it was created in.

A job of this dialect is a native job (``dialect`` ``execs``) named ``{namespace}.{id}``, so its namespace
is its job group (``names.namespace_of``):

- ``id``: a number from a counter znode, set in the registration's own transaction (``Layout.counter``);
- ``command`` is the ``scriptCommandLine``: a shell command run on the agent (as Metronome's ``run.cmd``),
  one shard, no app archive (``appURL`` "");
- ``resource_size`` (XXS, XS, S, M, L; default XXS) is the job's ``resourceSize`` (``model.sizes``:
  its ``cpuCount`` and ``memoryMB``);
- ``runtime_vars`` is its ``environment``;
- ``schedule_mode`` an ISO 8601 repeating interval (``R1/2015-12-31T16:00:23.446Z/PT1H``) is its ``cron``
  (``cronDialect`` ISO8601); null is no schedule (it runs when asked); ``is_schedule_active`` is its
  ``scheduleActive`` switch;
- ``name`` (any text), ``region_name`` (default ``default``), ``docker_image_repo`` and
  ``docker_image_tag`` are kept in ``dialectSpec`` and shown as sent. The image is not used — no container
  runtime runs it — and the answer's ``Warning`` header says so (``IMAGE_WARNING``);
- ``created_by``/``created_at``/``updated_at`` are the job's metadata (``model.jobmeta``).

An *exec* is one run of the job (``model.run``). Its ``id`` is the run id as a UUID-shaped string
(``exec_id``/``run_id_of``: reversible, no index); ``trigger_mode`` is ``M`` for a run asked for
(``POST .../execs``) and ``S`` for one the schedule started; ``status`` is one letter (``STATUS``): ``W``
waiting (queued or starting), ``R`` running, ``F`` finished successfully, ``E`` ended in error. The seed
shows only ``W`` and ``F`` (an exec that ran for ten seconds), so ``F`` is read as success; ``R`` and
``E`` are this platform's. ``duration`` is ``{hours, minutes, seconds}`` from start to end (whole seconds),
null until it ended. An exec shows the job's current command, image, size and region (a run records only
its own ``runtime_vars``, the job's merged with the run's own).

Pure: shapes and mapping, no I/O.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from elasticjob.model.errors import FieldError, ValidationFailed
from elasticjob.model.job import (
    MAX_RUN_ENVIRONMENT,
    RESERVED_ENV_PREFIX,
    ConcurrencyPolicy,
    CronDialect,
    FieldValueError,
    Job,
)
from elasticjob.model.jobmeta import stamp
from elasticjob.model.names import NAME_MAX_LENGTH, namespace_of
from elasticjob.model.run import Run, RunCause, RunStatus
from elasticjob.model.sizes import ResourceSize
from elasticjob.model.validation import validation_failed

DIALECT = "execs"
COUNTER = "execs-job-id"  # the counter (``Layout.counter``) that numbers this dialect's jobs
DEFAULT_REGION = "default"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
IMAGE_WARNING = (
    '299 elasticjob "docker_image_repo and docker_image_tag are not used: the command runs as a shell '
    'command on an agent (no container runtime); they are kept and shown as sent"'
)
NAMESPACE_RE = re.compile(r"[A-Za-z0-9_-]+")
# The namespace, a dot and the id make the job's name: leave room for an id of 20 digits.
NAMESPACE_MAX_LENGTH = NAME_MAX_LENGTH - 21
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_RUN_ID_RE = re.compile(r"[0-9]{14}[0-9a-z]{5}")
STATUS = {
    RunStatus.INITIAL: "W",
    RunStatus.STARTING: "W",
    RunStatus.ACTIVE: "R",
    RunStatus.SUCCESS: "F",
    RunStatus.FAILED: "E",
}
# The fields of a job as this dialect answers them, in the seed's order (of its create answer).
JOB_FIELDS = ("id", "created_by", "command", "docker_image_repo", "docker_image_tag", "name", "region_name",
              "namespace", "created_at", "updated_at", "resource_size", "schedule_mode", "is_schedule_active",
              "runtime_vars")
IMAGE_FIELDS = ("docker_image_repo", "docker_image_tag")

Text = Annotated[str, Field(max_length=1024)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_namespace(value: str) -> str:
    if not NAMESPACE_RE.fullmatch(value) or len(value) > NAMESPACE_MAX_LENGTH:
        raise ValueError(f"must be letters, digits, '_' and '-' (at most {NAMESPACE_MAX_LENGTH} characters)")
    return value


def _check_variables(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not _ENV_NAME_RE.fullmatch(key):
            raise FieldValueError(f"runtime_vars.{key}", f"{key!r} is not a valid environment variable name")
        if key.startswith(RESERVED_ENV_PREFIX):
            reserved = f"names starting with {RESERVED_ENV_PREFIX} are reserved"
            raise FieldValueError(f"runtime_vars.{key}", reserved)
    return value


Variables = Annotated[dict[str, Annotated[str, Field(max_length=65_536)]], Field(max_length=1000)]


class JobBody(_Strict):
    """``POST /v1/jobs``'s body (the seed's fields)."""

    name: str = Field(min_length=1, max_length=256)
    namespace: str
    command: str = Field(min_length=1, max_length=65_536)
    docker_image_repo: Text | None = None
    docker_image_tag: Text | None = None
    resource_size: ResourceSize = Field(default=ResourceSize.XXS, strict=False)  # its name, from JSON
    region_name: str = Field(default=DEFAULT_REGION, min_length=1, max_length=256)
    is_schedule_active: bool = True
    schedule_mode: str | None = Field(default=None, min_length=1, max_length=512)
    runtime_vars: Variables = Field(default_factory=dict)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return _check_namespace(value)

    @field_validator("runtime_vars")
    @classmethod
    def _variables(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_variables(value)


class JobPatch(_Strict):
    """``PUT /v1/jobs/{id}``'s body: the fields to change (those absent keep their value; ``schedule_mode``
    null removes the schedule). ``namespace`` cannot change: given, it must be the job's."""

    name: str | None = Field(default=None, min_length=1, max_length=256)
    namespace: str | None = None
    command: str | None = Field(default=None, min_length=1, max_length=65_536)
    docker_image_repo: Text | None = None
    docker_image_tag: Text | None = None
    resource_size: ResourceSize | None = Field(default=None, strict=False)
    region_name: str | None = Field(default=None, min_length=1, max_length=256)
    is_schedule_active: bool | None = None
    schedule_mode: str | None = Field(default=None, min_length=1, max_length=512)
    runtime_vars: Variables | None = None

    @field_validator("runtime_vars")
    @classmethod
    def _variables(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return value if value is None else _check_variables(value)


class ExecBody(_Strict):
    """``POST /v1/jobs/{id}/execs``'s optional body: ``runtime_vars`` on top of the job's, for this exec."""

    runtime_vars: Annotated[dict[str, Annotated[str, Field(max_length=65_536)]],
                            Field(max_length=MAX_RUN_ENVIRONMENT)] = Field(default_factory=dict)

    @field_validator("runtime_vars")
    @classmethod
    def _variables(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_variables(value)


def parse(model: type[_Strict], value: Any) -> Any:
    """Validate a decoded JSON value into ``model``; ``ValidationFailed`` with dotted field paths."""
    if not isinstance(value, dict):
        not_object = FieldError("body", ("expected a JSON object",))
        raise ValidationFailed("invalid request: expected a JSON object", [not_object])
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise validation_failed(exc) from None


# ---- recognition on the shared path --------------------------------------------------------------------
def is_execs_body(value: Any) -> bool:
    """Whether a ``POST /v1/jobs`` body is this dialect's: an object with ``name`` and ``command`` and no
    ``run`` (which every Metronome job has)."""
    return isinstance(value, dict) and "name" in value and "command" in value and "run" not in value


def is_execs_list(query: Mapping[str, str]) -> bool:
    """Whether ``GET /v1/jobs`` asks for this dialect's list: it names a ``namespace``."""
    return "namespace" in query


def numeric_id(text: str) -> int | None:
    """A path's job id as this dialect's number (``146``), or None."""
    if not text.isascii() or not text.isdigit() or len(text) > 20 or (len(text) > 1 and text[0] == "0"):
        return None
    return int(text)


def job_name(namespace: str, job_id: int) -> str:
    """The native name of the job ``job_id`` of ``namespace``."""
    return f"{namespace}.{job_id}"


def id_of(job: Job) -> int | None:
    """The dialect's id of ``job`` (None: not a job of this dialect)."""
    if job.dialect != DIALECT:
        return None
    found = (job.dialectSpec or {}).get("id")
    return found if isinstance(found, int) and not isinstance(found, bool) else None


# ---- execs -> native ---------------------------------------------------------------------------------
_NATIVE_PATHS = {"jobName": "namespace", "scriptCommandLine": "command", "environment": "runtime_vars",
                 "cron": "schedule_mode", "timeZone": "schedule_mode", "resourceSize": "resource_size",
                 "cpuCount": "resource_size", "memoryMB": "resource_size"}


def body_path(detail: FieldError) -> FieldError:
    """A native job's field path as this dialect's (``cron`` -> ``schedule_mode``)."""
    head = detail.path.split(".", 1)[0]
    return FieldError(_NATIVE_PATHS.get(head, detail.path), detail.errors)


def to_native(body: JobBody, job_id: int) -> Job:
    """The native job of ``body`` numbered ``job_id``. ``ValidationFailed`` (this dialect's paths) when it is
    not a valid job."""
    spec = {"id": job_id, "name": body.name, "region_name": body.region_name,
            "docker_image_repo": body.docker_image_repo, "docker_image_tag": body.docker_image_tag}
    fields: dict[str, Any] = {
        "jobName": job_name(body.namespace, job_id),
        "appURL": "",
        "scriptCommandLine": body.command,
        "shardingTotalCount": 1,
        "resourceSize": body.resource_size.value,
        "environment": dict(body.runtime_vars),
        "scheduleActive": body.is_schedule_active,
        # Every exec asked for starts now, beside a running one (as the hosted service's do).
        "concurrencyPolicy": ConcurrencyPolicy.ALLOW.value,
        "dialect": DIALECT,
        "dialectSpec": spec,
    }
    if body.schedule_mode is not None:
        fields.update(cron=body.schedule_mode, cronDialect=CronDialect.ISO8601.value)
    try:
        return Job.model_validate(fields, strict=False)
    except ValidationError as exc:
        details = [body_path(d) for d in validation_failed(exc).details]
        raise ValidationFailed("invalid job", details) from None


def body_of(job: Job) -> JobBody:
    """A job of this dialect as the body that would create it (for an update that keeps what it had).
    Not validated again: what was stored is shown as it is."""
    spec = job.dialectSpec or {}
    size = job.resourceSize or ResourceSize.XXS
    values: dict[str, Any] = {
        "name": spec.get("name") or job.jobName,
        "namespace": namespace_of(job.jobName),
        "command": job.scriptCommandLine or "true",
        "docker_image_repo": spec.get("docker_image_repo"),
        "docker_image_tag": spec.get("docker_image_tag"),
        "resource_size": size,
        "region_name": spec.get("region_name") or DEFAULT_REGION,
        "is_schedule_active": job.schedule_active,
        "schedule_mode": job.cron,
        "runtime_vars": dict(job.environment),
    }
    return JobBody.model_construct(None, **values)


def patched(job: Job, patch: JobPatch) -> Job:
    """``job`` with the fields ``patch`` gives changed (``ValidationFailed``: a namespace that is not the
    job's, or a result that is no valid job)."""
    current = body_of(job)
    given = patch.model_dump(include=patch.model_fields_set)
    namespace = given.pop("namespace", current.namespace)
    if namespace != current.namespace:
        raise ValidationFailed.field("namespace", f"cannot change: the job is in {current.namespace!r}")
    for key in ("name", "command", "resource_size", "region_name", "is_schedule_active", "runtime_vars"):
        if key in given and given[key] is None:
            raise ValidationFailed.field(key, "must not be null")
    merged = {**current.model_dump(), **given}
    try:
        body = JobBody.model_validate(merged, strict=False)
    except ValidationError as exc:
        raise validation_failed(exc) from None
    found = id_of(job)
    assert found is not None
    return to_native(body, found)


# ---- native -> execs ---------------------------------------------------------------------------------
def timestamp(instant: dt.datetime | None) -> str | None:
    """The seed's times: ISO 8601 in UTC with microseconds and ``+00:00``."""
    return None if instant is None else stamp(instant)


def job_json(job: Job, meta: Mapping[str, Any]) -> dict[str, Any]:
    """A job as this dialect shows it (``meta``: ``JobService.job_meta``'s ``createdBy``, ``createdAt``,
    ``updatedAt``)."""
    body = body_of(job)
    created = meta.get("createdAt")
    value: dict[str, Any] = {
        "id": id_of(job),
        "created_by": meta.get("createdBy"),
        "command": body.command,
        "docker_image_repo": body.docker_image_repo,
        "docker_image_tag": body.docker_image_tag,
        "name": body.name,
        "region_name": body.region_name,
        "namespace": body.namespace,
        "created_at": created,
        "updated_at": meta.get("updatedAt", created),
        "resource_size": body.resource_size.value,
        "schedule_mode": body.schedule_mode,
        "is_schedule_active": body.is_schedule_active,
        "runtime_vars": dict(body.runtime_vars),
    }
    return value


def nested_job_json(job: Job, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The job as an exec's detail nests it: as ``job_json``, with ``email_enabled`` (always false: no mail
    here) and ``runtime_vars`` as a JSON-encoded string — the seed's quirk, reproduced."""
    value = job_json(job, meta)
    value["email_enabled"] = False
    value["runtime_vars"] = json.dumps(value["runtime_vars"])
    return value


def status_letter(status: RunStatus) -> str:
    return STATUS[status]


def trigger_mode(cause: RunCause) -> str:
    """``M`` for a run asked for, ``S`` for one the schedule started (on time or late)."""
    return "M" if cause is RunCause.MANUAL else "S"


def duration(started: dt.datetime | None, ended: dt.datetime | None) -> dict[str, int] | None:
    """``{"hours", "minutes", "seconds"}`` from ``started`` to ``ended`` in whole seconds, or None until
    both are known."""
    if started is None or ended is None:
        return None
    total = max(0, int((ended - started).total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return {"hours": hours, "minutes": minutes, "seconds": seconds}


def exec_json(job: Job, meta: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """A run of ``job`` as this dialect's exec (the seed's fields)."""
    body = body_of(job)
    ended = run.finished_at if run.status.finished else None
    return {
        "id": exec_id(run.run_id),
        "job": id_of(job),
        "docker_image_repo": body.docker_image_repo,
        "status": status_letter(run.status),
        "created_at": timestamp(run.created_at),
        "started_at": timestamp(run.started_at),
        "ended_at": timestamp(ended),
        "runtime_vars": {**body.runtime_vars, **run.environment},
        "resource_size": body.resource_size.value,
        "created_by": meta.get("createdBy"),
        "docker_image_tag": body.docker_image_tag,
        "command": body.command,
        "trigger_mode": trigger_mode(run.cause),
        "duration": duration(run.started_at, ended),
        "region_name": body.region_name,
    }


def created_exec_json(job: Job, meta: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """The answer to creating an exec: the exec as it was created — waiting (``W``), not started — however
    far its run got before the answer was made (a shard may start within milliseconds); a GET shows more."""
    created = {"status": "W", "started_at": None, "ended_at": None, "duration": None}
    return {**exec_json(job, meta, run), **created}


def exec_detail_json(job: Job, meta: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """One exec, with its job nested (``nested_job_json``) as the seed's detail shows it."""
    return {**exec_json(job, meta, run), "job": nested_job_json(job, meta)}


# ---- exec ids ----------------------------------------------------------------------------------------
def exec_id(run_id: str) -> str:
    """A run id (``yyyyMMddHHmmss`` and 5 base-36 characters) as a UUID-shaped string (version 8, RFC 9562
    variant): the 14 digits as they are (decimal digits are hex digits), the version nibble, the suffix's
    number as 7 hex digits after the variant nibble, zeros elsewhere. ``run_id_of`` reverses it.
    ``ValueError`` for what is no run id."""
    if not _RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"{run_id!r} is not a run id")
    number = 0
    for char in run_id[14:]:
        number = number * len(_ALPHABET) + _ALPHABET.index(char)
    digits = run_id[:12] + "8" + run_id[12:14] + "0" + "8" + f"{number:07x}" + "0" * 8
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def run_id_of(exec_text: str) -> str | None:
    """The run id an exec id stands for (``exec_id``'s inverse), or None for a string it did not make."""
    text = exec_text.lower()
    if not _UUID_RE.fullmatch(text):
        return None
    digits = text.replace("-", "")
    instant = digits[:12] + digits[13:15]
    if digits[12] != "8" or digits[15] != "0" or digits[16] != "8" or digits[24:] != "0" * 8:
        return None
    if not instant.isdigit():
        return None
    try:
        dt.datetime.strptime(instant, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    number = int(digits[17:24], 16)
    if number >= len(_ALPHABET) ** 5:
        return None
    suffix = ""
    for _ in range(5):
        number, index = divmod(number, len(_ALPHABET))
        suffix = _ALPHABET[index] + suffix
    return instant + suffix


# ---- logs ---------------------------------------------------------------------------------------------
def log_window(start_time: str | None, end_time: str | None) -> tuple[int | None, int | None]:
    """``start_time``/``end_time`` (whole Unix seconds, each optional) as the agents' line window in
    milliseconds, ``[start_ms, end_ms]``: a line of second ``t`` is in it when ``start <= t <= end``.
    ``ValidationFailed`` naming each parameter that is not a whole number."""
    errors = []
    window: list[int | None] = []
    for name, raw in (("start_time", start_time), ("end_time", end_time)):
        if raw is None or raw == "":
            window.append(None)
            continue
        text = raw[1:] if raw.startswith("-") else raw
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            errors.append(FieldError(name, ("must be a whole number of Unix seconds",)))
            window.append(None)
            continue
        window.append(int(raw))
    if errors:
        raise ValidationFailed("invalid request parameters", errors)
    start, end = window
    return (None if start is None else start * 1000), (None if end is None else end * 1000 + 999)
