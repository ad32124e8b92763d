"""Runs: one firing of a job — all its shards — as a first-class object. Pure values and rules.

A run is identified by a run id in Metronome's form (``yyyyMMddHHmmss`` of its instant, UTC, then 5
letters and digits) derived from the job and the firing: every master, and every leader after a failover,
computes the same id for the same firing, so nothing but the firing itself has to be stored while the run
is active. Its tasks are the executions recorded for that firing (one per shard and attempt: failover and
retry attempts stay inside their run).

Status. A run is INITIAL while its firing waits in the ready queue, STARTING once launched and until a
shard runs, ACTIVE while a shard runs or waits to be re-run, and then SUCCESS when every shard's last
attempt FINISHED, or FAILED (a shard that failed, was lost without failover, exhausted its retries or was
killed — a stopped run is FAILED with the reason it was stopped).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticjob.model.execution import TERMINAL_STATES
from elasticjob.model.queue import iso, parse_iso

RUN_ID_SUFFIX = 5
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_INSTANT = re.compile(r"(\d{8}T\d{6})")
RUN_ID_RE = re.compile(r"[0-9]{14}[0-9a-z]{5}")


class RunStatus(enum.StrEnum):
    INITIAL = "INITIAL"
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCESS, RunStatus.FAILED)


class RunCause(enum.StrEnum):
    SCHEDULED = "SCHEDULED"  # a cron instant, started on time
    MISFIRE = "MISFIRE"  # a cron instant started late (it waited for the previous run, or for room)
    MANUAL = "MANUAL"  # POST /job/trigger, POST /v1/jobs/{id}/runs, elasticjob job run


# A cron firing launched this long after its instant or later was a misfire (caught up or delayed).
MISFIRE_AFTER = dt.timedelta(seconds=10)


def firing_instant(firing_id: str) -> dt.datetime | None:
    """The instant a firing id names (``cron-YYYYmmddTHHMMSS.fffZ``, ``trigger-YYYYmmddTHHMMSS.fffZ-...``),
    or None for ids without one (older manual firings, ``daemon``)."""
    found = _INSTANT.search(firing_id)
    if found is None:
        return None
    return dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)


def run_id(job_name: str, firing_id: str, instant: dt.datetime | None = None) -> str:
    """The run id of ``firing_id`` of ``job_name``: the firing's instant (or ``instant`` when its id names
    none) as ``yyyyMMddHHmmss`` UTC, and 5 characters of a digest of the job and firing."""
    when = firing_instant(firing_id) or instant or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    digest = int.from_bytes(hashlib.sha256(f"{job_name}\0{firing_id}".encode()).digest()[:8], "big")
    suffix = ""
    for _ in range(RUN_ID_SUFFIX):
        digest, index = divmod(digest, len(_ALPHABET))
        suffix += _ALPHABET[index]
    return when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S") + suffix


def cause_of(firing_id: str, launched_at: dt.datetime | None) -> RunCause:
    """Why a run exists: a manual trigger, or a cron instant started on time or late."""
    if not firing_id.startswith("cron-"):
        return RunCause.MANUAL
    instant = firing_instant(firing_id)
    if instant is not None and launched_at is not None and launched_at - instant >= MISFIRE_AFTER:
        return RunCause.MISFIRE
    return RunCause.SCHEDULED


@dataclass(frozen=True)
class RunTask:
    """One attempt of one shard of a run (an execution)."""

    task_id: str
    sharding_item: int | None  # None: a MISSED firing's record
    state: str  # STAGING | RUNNING | FINISHED | FAILED | KILLED | LOST | MISSED
    agent_id: str = ""
    hostname: str = ""
    exit_code: int | None = None
    message: str = ""
    attempt: int = 0
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "shardingItem": self.sharding_item,
            "state": self.state,
            "agentId": self.agent_id,
            "hostname": self.hostname,
            "exitCode": self.exit_code,
            "message": self.message,
            "createdAt": iso(self.created_at) if self.created_at else None,
            "startedAt": iso(self.started_at) if self.started_at else None,
            "finishedAt": iso(self.finished_at) if self.finished_at else None,
        }


@dataclass(frozen=True)
class Run:
    run_id: str
    job_name: str
    firing_id: str
    cause: RunCause
    status: RunStatus
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    reason: str = ""  # why it FAILED (or waits)
    environment: Mapping[str, str] = field(default_factory=dict)  # this run's own variables
    job_parameter: str | None = None  # this run's own job parameter
    tasks: tuple[RunTask, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The native API's shape of a run."""
        return {
            "runId": self.run_id,
            "jobName": self.job_name,
            "firingId": self.firing_id,
            "cause": self.cause.value,
            "status": self.status.value,
            "reason": self.reason,
            "createdAt": iso(self.created_at),
            "startedAt": iso(self.started_at) if self.started_at else None,
            "finishedAt": iso(self.finished_at) if self.finished_at else None,
            "environment": dict(self.environment),
            "jobParameter": self.job_parameter,
            "tasks": [t.to_json() for t in self.tasks],
        }


@dataclass(frozen=True)
class StopRequest:
    """The value of ``/state/stop/{job}/{firingId}``: someone asked to stop that run. The leader kills its
    running tasks (their agents: SIGTERM, then SIGKILL after the grace period), drops its queued firing
    and its shards waiting to run again, and removes the request once nothing of the run is left."""

    reason: str
    requested_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "requestedAt": iso(self.requested_at)}

    @classmethod
    def from_json(cls, value: Any) -> StopRequest:
        if not isinstance(value, dict):
            value = {}
        at = value.get("requestedAt")
        return cls(
            str(value.get("reason") or "stopped"),
            parse_iso(at) if isinstance(at, str) else dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        )


def finished_status(tasks: Iterable[RunTask]) -> tuple[RunStatus, str]:
    """The status of a run nothing of is queued or running any more, from its recorded tasks: SUCCESS when
    every shard's last attempt FINISHED, else FAILED with the first failure's state and message. A shard
    whose last attempt has no recorded end yet (the history lags the scheduler by a moment) leaves the run
    ACTIVE."""
    last: dict[int | None, RunTask] = {}
    for task in sorted(tasks, key=_attempt_order):
        last[task.sharding_item] = task
    if not last:
        return RunStatus.ACTIVE, ""
    failures = []
    for item in sorted(last, key=lambda i: -1 if i is None else i):
        task = last[item]
        if task.state not in TERMINAL_STATES:
            return RunStatus.ACTIVE, ""
        if task.state != "FINISHED":
            failures.append(task)
    if not failures:
        return RunStatus.SUCCESS, ""
    first = failures[0]
    shard = "firing" if first.sharding_item is None else f"shard {first.sharding_item}"
    return RunStatus.FAILED, f"{shard} {first.state}: {first.message}".rstrip(": ")


def active_status(states: Iterable[str], pending_shards: int = 0) -> RunStatus:
    """The status of a launched run from the states of its running tasks (``pending_shards``: shards
    waiting to be re-run)."""
    if "RUNNING" in list(states) or pending_shards:
        return RunStatus.ACTIVE
    return RunStatus.STARTING


def assemble(
    job_name: str,
    firing_id: str,
    recorded: Sequence[RunTask],
    *,
    running: Sequence[RunTask] = (),
    pending_shards: int = 0,
    queued_at: dt.datetime | None = None,
) -> Run:
    """A run from what is known of its firing: the tasks the history ``recorded``, the tasks still
    ``running`` (the leader's state: newer than the history, which it writes behind), the shards waiting
    to run again (``pending_shards``: failover entries) and, while the firing is still in the ready queue,
    when it was queued (``queued_at``)."""
    tasks = {t.task_id: t for t in recorded}
    tasks.update((t.task_id, t) for t in running)
    ordered = tuple(sorted(tasks.values(), key=lambda t: (*_attempt_order(t), t.sharding_item or 0)))
    created = [t.created_at for t in ordered if t.created_at is not None]
    started = [t.started_at for t in ordered if t.started_at is not None]
    first = min(created) if created else None
    created_at = first or queued_at or firing_instant(firing_id) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    reason = ""
    if running or pending_shards:
        status = active_status([t.state for t in running], pending_shards)
    elif queued_at is not None:
        status = RunStatus.ACTIVE if ordered else RunStatus.INITIAL
    else:
        status, reason = finished_status(ordered)
    # A MISSED record has no finish time of its own: it was final when it was written.
    finished = [stamp for t in ordered if (stamp := t.finished_at or t.created_at) is not None]
    return Run(
        run_id=run_id(job_name, firing_id, created_at),
        job_name=job_name,
        firing_id=firing_id,
        cause=cause_of(firing_id, first),
        status=status,
        created_at=created_at,
        started_at=min(started) if started else None,
        finished_at=max(finished) if status.finished and finished else None,
        reason=reason,
        tasks=ordered,
    )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def _attempt_order(task: RunTask) -> tuple[dt.datetime, int, dt.datetime]:
    # Attempts of a shard in the order they ran: by creation, then attempt number; the history does not
    # keep attempt numbers, and a task whose launch was never recorded is created when its loss is — in
    # the very cycle (same instant) that launches its shard again — so of two created at once, the one
    # that ended later (or has not ended) is the later attempt.
    return task.created_at or _EPOCH, task.attempt, task.finished_at or _NEVER
