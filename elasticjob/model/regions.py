"""The Kubernetes-style jobs API of a hosted service (seed ``004``): ``/v1/regions/{region}/jobs``.

A job of this dialect is a native job (``dialect`` ``regions``) that runs once, when it is created, as a
Kubernetes Job's pods do:

- ``containers[0]``: ``command`` (an argv, joined for ``/bin/sh -c``) is the job's ``scriptCommandLine``,
  ``env`` (``[{"name", "value"}]``) its ``environment``, ``resources.limits.memory`` (``512Mi``, ``1Gi``,
  ``500M``, bytes) its ``memoryMB`` and ``resources.limits.cpu`` (``125m``, ``0.5``, ``2``) its
  ``cpuCount`` (default 512 MiB and 125m, the seed's); the image and the other container fields are kept
  and shown as sent, and no container runtime runs them: the command runs as a shell command on the agent
  (``metadata.annotations`` says so). One container only.
- ``completions`` (default 1) is the number of shards; ``parallelism`` (default: ``completions``) is kept
  and shown, and every shard is started at once.
- ``metadata``: ``namespace`` is the job's namespace (its dotted name without the last part, ``default``
  without a dot), ``uid`` and ``creationTimestamp`` are made when the job is created,
  ``resourceVersion`` is the configuration's ZooKeeper version.
- ``status`` comes from the job's run: ``startTime``, ``completionTime``, ``succeeded``/``failed`` (shards),
  ``conditions`` ``Complete`` or ``Failed`` once it has ended.
- An *instance* is one shard's task of the run: ``{name}-{five characters of its task id}``; its log is
  ``.../instances/{instance}/logs?date=YYYY.MM.DD&from=N&size=M``, the lines as a JSON array of strings.

Pure: shapes and mapping, no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from elasticjob.model.errors import FieldError, ValidationFailed
from elasticjob.model.job import Job
from elasticjob.model.names import namespace_of
from elasticjob.model.run import Run

DIALECT = "regions"
DEFAULT_MEMORY = "512Mi"
DEFAULT_CPU = "125m"
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?")
_CPU = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m)?")
_UNITS = {None: 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
          "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_DATE = re.compile(r"([0-9]{4})\.([0-9]{2})\.([0-9]{2})")
MAX_CONTAINERS = 1
IMAGE_ANNOTATION = "elasticjob.io/image"
IMAGE_NOT_USED = "not used: the command runs as a shell command on an agent; volumes are not mounted"
HOST_VOLUMES = "/var/lib/elasticjob/volumes"  # shown as the host path of a "host" volume; nothing is mounted
TIME_ZONE_VOLUME = "elasticjob-time-zone"
BACKOFF_LIMIT = 6  # Kubernetes' default backoffLimit: a failed shard runs again up to this many times


class EnvVar(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=256)
    value: str = Field(default="", max_length=65_536)


class Limits(BaseModel):
    model_config = ConfigDict(extra="allow")

    memory: str | None = None
    cpu: str | None = None


class Resources(BaseModel):
    model_config = ConfigDict(extra="allow")

    limits: Limits = Field(default_factory=Limits)


class Container(BaseModel):
    # The seed's other fields (ports, volumeMounts, pull_always, ...) are kept as sent.
    model_config = ConfigDict(extra="allow")

    image: str = Field(min_length=1, max_length=1024)
    command: list[str] = Field(min_length=1, max_length=1000)
    env: list[EnvVar] = Field(default_factory=list, max_length=1000)
    resources: Resources = Field(default_factory=Resources)


class JobDocument(BaseModel):
    """``POST /v1/regions/{region}/jobs/{name}``'s body."""

    model_config = ConfigDict(extra="allow")

    containers: list[Container] = Field(min_length=1, max_length=MAX_CONTAINERS)
    completions: int = Field(default=1, ge=1, le=10_000)
    parallelism: int | None = Field(default=None, ge=1, le=10_000)


def memory_mb(text: str, path: str = "containers.0.resources.limits.memory") -> float:
    """A Kubernetes memory quantity in MiB (``512Mi`` -> 512, ``1Gi`` -> 1024, ``500M`` -> 476.837)."""
    match = _MEMORY.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ValidationFailed.field(path, f"{text!r} is not a memory quantity (such as 512Mi or 1Gi)")
    return round(float(match.group(1)) * _UNITS[match.group(2)] / 1024**2, 3)


def cpus(text: str, path: str = "containers.0.resources.limits.cpu") -> float:
    """A Kubernetes CPU quantity in CPUs (``125m`` -> 0.125, ``2`` -> 2)."""
    match = _CPU.fullmatch(text.strip())
    value = float(match.group(1)) / (1000 if match.group(2) else 1) if match else 0.0
    if value < 0.001:
        raise ValidationFailed.field(path, f"{text!r} is not a CPU quantity (such as 125m or 0.5)")
    return value


def to_native(name: str, region: str, document: JobDocument, uid: str, created: dt.datetime) -> Job:
    """The native job of ``document`` created as ``name`` in ``region``: no schedule (it runs once, now)."""
    container = document.containers[0]
    limits = container.resources.limits
    environment = {}
    for index, variable in enumerate(container.env):
        if variable.name in environment:
            raise ValidationFailed.field(f"containers.0.env.{index}.name",
                                         f"{variable.name!r} is given twice")
        environment[variable.name] = variable.value
    raw = document.model_dump(mode="json", exclude_none=True)
    fields: dict[str, Any] = {
        "jobName": name,
        "appURL": "",
        "scriptCommandLine": shlex.join(container.command),
        "shardingTotalCount": document.completions,
        "cpuCount": cpus(limits.cpu or DEFAULT_CPU),
        "memoryMB": memory_mb(limits.memory or DEFAULT_MEMORY),
        "environment": environment,
        "shardRetryLimit": BACKOFF_LIMIT,
        "dialect": DIALECT,
        "dialectSpec": {
            "region": region,
            "uid": uid,
            "creationTimestamp": timestamp(created),
            "document": raw,
            "parallelism": document.parallelism or document.completions,
        },
    }
    try:
        return Job.model_validate(fields, strict=False)
    except ValidationError as exc:
        paths = {"environment": "containers.0.env", "scriptCommandLine": "containers.0.command",
                 "jobName": "name"}
        details = [
            FieldError(paths.get(str(e["loc"][0]), ".".join(map(str, e["loc"]))) if e["loc"] else "body",
                       (e["msg"],))
            for e in exc.errors()
        ]
        raise ValidationFailed("invalid job", details) from None


def timestamp(instant: dt.datetime | None) -> str | None:
    """Kubernetes' time format: UTC to the second, ``Z``."""
    if instant is None:
        return None
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instance_name(job_name: str, task_id: str) -> str:
    """One shard's instance as this API names it: the job and five characters of its task id."""
    return f"{job_name}-{hashlib.sha256(task_id.encode()).hexdigest()[:5]}"


def job_json(job: Job, version: int, run: Run | None, *, created: bool = False) -> dict[str, Any]:
    """A job in the Kubernetes shape: ``metadata``, ``spec``, ``status``. ``created``: as the answer to its
    creation, whose pod template names its namespace too (as the seed's does)."""
    spec = job.dialectSpec or {}
    name = job.jobName
    namespace = namespace_of(name)
    uid = spec.get("uid", "")
    document = spec.get("document") or {}
    sent = (document.get("containers") or [{}])[0]
    volumes, mounts = _volumes(document, namespace, name)
    container: dict[str, Any] = {"name": name, "image": sent.get("image")}
    if sent.get("command"):
        container["command"] = sent["command"]
    if sent.get("env"):
        container["env"] = [{"name": e.get("name"), "value": e.get("value", "")} for e in sent["env"]]
    container["resources"] = sent.get("resources") or {}
    if mounts or sent.get("volumeMounts"):
        container["volumeMounts"] = [*(sent.get("volumeMounts") or []), *mounts]
    container["terminationMessagePath"] = "/dev/termination-log"
    container["imagePullPolicy"] = "Always" if sent.get("pull_always", True) else "IfNotPresent"
    template_metadata: dict[str, Any] = {"name": name}
    if created:
        template_metadata["namespace"] = namespace
    template_metadata |= {"creationTimestamp": None,
                          "labels": {"controller-uid": uid, "job-name": name, "name": name}}
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "selfLink": f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
            "uid": uid,
            "resourceVersion": str(version),
            "creationTimestamp": spec.get("creationTimestamp"),
            "labels": {"name": name},
            "annotations": {IMAGE_ANNOTATION: IMAGE_NOT_USED},
        },
        "spec": {
            "parallelism": spec.get("parallelism", job.shardingTotalCount),
            "completions": job.shardingTotalCount,
            "selector": {"matchLabels": {"controller-uid": uid}},
            "template": {
                "metadata": template_metadata,
                "spec": {
                    "volumes": volumes,
                    "containers": [container],
                    "restartPolicy": "OnFailure" if job.shardRetryLimit else "Never",
                    "terminationGracePeriodSeconds": int(job.taskKillGracePeriodSeconds or 30),
                    "dnsPolicy": "ClusterFirst",
                    "serviceAccountName": "",
                    "securityContext": {},
                },
            },
        },
        "status": status_json(run),
    }


def _volumes(document: dict[str, Any], namespace: str, name: str) -> tuple[list[Any] | None, list[Any]]:
    """The pod's volumes as the seed shows them (host volumes under the platform's data directory, the time
    zone when ``sync_timezone``) and the mounts added for them. Shown only: nothing is mounted (a shard runs
    on its agent's own file system, in the host's time zone)."""
    sent = document.get("volumes")
    root = f"{HOST_VOLUMES}/{namespace}/job/{name}"
    volumes = [{"name": v.get("name"), "hostPath": {"path": f"{root}/{v.get('name')}"}}
               for v in sent or () if isinstance(v, dict)]
    mounts = []
    if document.get("sync_timezone"):
        volumes.append({"name": TIME_ZONE_VOLUME, "hostPath": {"path": "/etc/localtime"}})
        mounts.append({"name": TIME_ZONE_VOLUME, "readOnly": True, "mountPath": "/etc/localtime"})
    return (volumes if sent is not None or volumes else None), mounts


def status_json(run: Run | None) -> dict[str, Any]:
    """``status`` from the job's run: times, shard counts, and ``Complete``/``Failed`` once it ended."""
    if run is None:
        return {}
    status: dict[str, Any] = {}
    if run.started_at is not None:
        status["startTime"] = timestamp(run.started_at)
    if run.status.finished:
        ended = timestamp(run.finished_at)
        kind = "Complete" if run.status.value == "SUCCESS" else "Failed"
        status["conditions"] = [{"type": kind, "status": "True", "lastProbeTime": ended,
                                 "lastTransitionTime": ended}]
        if kind == "Complete":
            status["completionTime"] = ended
    latest = _latest_attempts(run)
    succeeded = sum(1 for t in latest if t.state == "FINISHED")
    failed = sum(1 for t in run.tasks if t.state in ("FAILED", "KILLED", "LOST"))
    active = sum(1 for t in latest if t.state in ("STAGING", "RUNNING"))
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    if active:
        status["active"] = active
    return status


def instances(run: Run | None) -> dict[str, str]:
    """The run's instances by name: instance name -> task id (every attempt of every shard)."""
    if run is None:
        return {}
    return {instance_name(run.job_name, t.task_id): t.task_id
            for t in run.tasks if t.sharding_item is not None}


def log_date(raw: str | None) -> dt.date | None:
    """``date=YYYY.MM.DD`` (the seed's form); None when absent; ``ValidationFailed`` otherwise."""
    if raw is None or raw == "":
        return None
    match = _DATE.fullmatch(raw)
    if match is not None:
        try:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            pass
    raise ValidationFailed.field("date", f"{raw!r} is not a date as YYYY.MM.DD")


def _latest_attempts(run: Run) -> list[Any]:
    latest: dict[int, Any] = {}
    for task in run.tasks:
        if task.sharding_item is not None:
            latest[task.sharding_item] = task  # attempts come in order
    return list(latest.values())
