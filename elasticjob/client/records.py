"""The client's answers about runs, tasks and logs: frozen dataclasses of the API's JSON.

Every record keeps the JSON it was made of as ``raw`` (not compared, not in ``repr``), so that a field the
client does not know yet is still at hand. Job and app specs are plain dicts: they are the user's documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FINISHED_RUN = frozenset({"SUCCESS", "FAILED"})
GOING_TASK = frozenset({"STAGING", "RUNNING"})


def parse_time(value: Any) -> dt.datetime | None:
    """An API timestamp (ISO 8601, or Metronome's ``2016-07-26T00:20:00.000+0000``); None for null."""
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value))


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False, hash=False)


@dataclass(frozen=True)
class RunTask:
    """One attempt of one shard of a native run (``GET /job/jobs/{job}/runs/{runId}`` ``tasks[]``)."""

    task_id: str
    sharding_item: int | None  # None: the record of a MISSED firing
    state: str  # STAGING | RUNNING | FINISHED | FAILED | KILLED | LOST | MISSED
    agent_id: str = ""
    hostname: str = ""
    exit_code: int | None = None
    message: str = ""
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    raw: Mapping[str, Any] = _raw()

    @property
    def going(self) -> bool:
        """Whether the task may still write output (staging or running)."""
        return self.state in GOING_TASK

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunTask:
        return cls(
            task_id=value["taskId"],
            sharding_item=value.get("shardingItem"),
            state=value["state"],
            agent_id=value.get("agentId") or "",
            hostname=value.get("hostname") or "",
            exit_code=value.get("exitCode"),
            message=value.get("message") or "",
            created_at=parse_time(value.get("createdAt")),
            started_at=parse_time(value.get("startedAt")),
            finished_at=parse_time(value.get("finishedAt")),
            raw=value,
        )


@dataclass(frozen=True)
class Run:
    """A native run: one firing of a job with all its shards' tasks (``GET /job/jobs/{job}/runs``)."""

    run_id: str
    job_name: str
    firing_id: str
    cause: str  # SCHEDULED | MISFIRE | MANUAL
    status: str  # INITIAL | STARTING | ACTIVE | SUCCESS | FAILED
    reason: str = ""
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    job_parameter: str | None = None
    tasks: tuple[RunTask, ...] = ()
    raw: Mapping[str, Any] = _raw()

    @property
    def finished(self) -> bool:
        """Whether the run reached SUCCESS or FAILED (it changes no more)."""
        return self.status in FINISHED_RUN

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Run:
        return cls(
            run_id=value["runId"],
            job_name=value["jobName"],
            firing_id=value.get("firingId") or "",
            cause=value.get("cause") or "",
            status=value["status"],
            reason=value.get("reason") or "",
            created_at=parse_time(value.get("createdAt")),
            started_at=parse_time(value.get("startedAt")),
            finished_at=parse_time(value.get("finishedAt")),
            environment=dict(value.get("environment") or {}),
            job_parameter=value.get("jobParameter"),
            tasks=tuple(RunTask.from_json(t) for t in value.get("tasks") or ()),
            raw=value,
        )


@dataclass(frozen=True)
class RunPage:
    """A page of a job's runs, newest first (queued ones first); ``total``: how many the job has."""

    total: int
    runs: tuple[Run, ...]
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class JobRunTask:
    """A task of a Metronome run (``/v1`` ``tasks[]``): ``status`` is ``TASK_RUNNING``, ``TASK_KILLED``..."""

    id: str
    status: str
    started_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class JobRun:
    """A run in Metronome's shape (``/v1/jobs/{id}/runs``)."""

    id: str
    job_id: str
    status: str  # INITIAL | STARTING | ACTIVE | SUCCESS | FAILED
    created_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    tasks: tuple[JobRunTask, ...] = ()
    raw: Mapping[str, Any] = _raw()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_RUN

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> JobRun:
        return cls(
            id=value["id"],
            job_id=value["jobId"],
            # protobuf-style answers may leave out the enum's first value
            status=value.get("status") or "INITIAL",
            created_at=parse_time(value.get("createdAt")),
            completed_at=parse_time(value.get("completedAt")),
            tasks=tuple(
                JobRunTask(
                    id=t["id"],
                    status=t["status"],
                    started_at=parse_time(t.get("startedAt")),
                    completed_at=parse_time(t.get("completedAt")),
                    raw=t,
                )
                for t in value.get("tasks") or ()
            ),
            raw=value,
        )


@dataclass(frozen=True)
class LogChunk:
    """Part of a task's stdout or stderr: ``data`` from byte ``offset`` to ``next_offset`` of ``size``;
    ``eof``: nothing more is written yet (the task may still add some while it runs)."""

    task_id: str
    stream: str
    offset: int
    next_offset: int
    size: int
    eof: bool
    data: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LogChunk:
        return cls(
            task_id=value["taskId"],
            stream=value["stream"],
            offset=value["offset"],
            next_offset=value["nextOffset"],
            size=value["size"],
            eof=value["eof"],
            data=value["data"],
            raw=value,
        )


@dataclass(frozen=True)
class LogLine:
    """One line of a task's log: its number (from the task's first line), when the agent received it
    (Unix seconds) and its text; in a run's log also which task and shard wrote it."""

    line: int
    time: float
    message: str
    truncated: bool = False
    task_id: str | None = None
    sharding_item: int | None = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LogLine:
        return cls(
            line=int(value["line"]),
            time=float(value["time"]),
            message=str(value["message"]),
            truncated=bool(value.get("truncated", False)),
            task_id=value.get("taskId"),
            sharding_item=value.get("shardingItem"),
        )


@dataclass(frozen=True)
class LogLines:
    """Lines of a task's log: ``first_line`` is the oldest kept, ``next_line`` where to read on; ``eof``:
    no further line is available now; ``running``: the task still runs (more may come)."""

    task_id: str
    stream: str
    lines: tuple[LogLine, ...]
    first_line: int
    next_line: int
    eof: bool
    running: bool
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LogLines:
        return cls(
            task_id=value["taskId"],
            stream=value["stream"],
            lines=tuple(LogLine.from_json(line) for line in value["lines"]),
            first_line=int(value["firstLine"]),
            next_line=int(value["nextLine"]),
            eof=bool(value["eof"]),
            running=bool(value["running"]),
            raw=value,
        )


@dataclass(frozen=True)
class TaskLogError:
    """In a followed run's log: the log of one of its tasks cannot be read (any more), and why."""

    task_id: str
    sharding_item: int | None
    message: str
