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

The shapes themselves (``JobSpec``, ``ScheduleSpec``, ``RunRequest``, ...) are ``metronome_spec.py``'s and
are exported from here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ValidationError

from elasticjob.model.app import App
from elasticjob.model.constraint import PatternConstraint, PatternOperator
from elasticjob.model.errors import FieldError, ValidationFailed
from elasticjob.model.job import (
    ConcurrencyPolicy,
    CronDialect,
    Job,
)
from elasticjob.model.metronome_spec import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_LAUNCH_DELAY,
    DIALECT,
    NATIVE_SCHEDULE_ID,
    ON_FAILURE_RETRIES,
    JobSpec,
    RunRequest,
    RunSpec,
    ScheduleSpec,
    parse_model,
    parse_run_request,
    pointer,
)
from elasticjob.model.secrets import carry_secret_marks, masked_environment
from elasticjob.model.sizes import resources_of
from elasticjob.model.validation import validation_failed

__all__ = [
    "DEFAULT_MAX_LAUNCH_DELAY",
    "DIALECT",
    "FieldError",
    "JobSpec",
    "ON_FAILURE_RETRIES",
    "RunRequest",
    "RunSpec",
    "ScheduleSpec",
    "job_json",
    "kept",
    "native_path",
    "parse_model",
    "parse_run_request",
    "pointer",
    "run_json",
    "schedule_json",
    "spec_of",
    "stored_schedule",
    "timestamp",
    "to_native",
    "update_native",
]


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
