"""The per-job ready queue stored at ``/state/ready/{jobName}``: pending firings plus the cron cursor.

Pure value objects and JSON (de)serialisation. The cursor is the last scheduled instant already turned
into a firing, so a new leader continues exactly where the previous one stopped and never fires the same
instant twice (firing ids are derived from the instant).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class FiringCause(enum.StrEnum):
    CRON = "CRON"
    TRIGGER = "TRIGGER"


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def cron_firing_id(instant: dt.datetime) -> str:
    """Deterministic: the same scheduled instant always yields the same id."""
    return "cron-" + instant.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"


def cron_instant(firing_id: str) -> dt.datetime | None:
    """The instant of a ``cron_firing_id`` (to the millisecond); None for other firings (manual, daemon)."""
    if not firing_id.startswith("cron-"):
        return None
    try:
        return dt.datetime.strptime(firing_id[5:], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def cron_lateness(firing_id: str, at: dt.datetime) -> float | None:
    """Seconds from a cron firing's instant to ``at`` (0 when ``at`` is before it: launched ahead), or
    None for a firing without a scheduled instant."""
    instant = cron_instant(firing_id)
    return None if instant is None else max(0.0, (at - instant).total_seconds())


@dataclass(frozen=True)
class Overrides:
    """A run's own environment variables and job parameter (a manual run may carry them), applied on top
    of the job's to every shard and every attempt of that run only."""

    environment: tuple[tuple[str, str], ...] = ()
    job_parameter: str | None = None

    @classmethod
    def of(cls, environment: Mapping[str, str] | None = None, job_parameter: str | None = None) -> Overrides:
        return cls(tuple(sorted((environment or {}).items())), job_parameter)

    def __bool__(self) -> bool:
        return bool(self.environment) or self.job_parameter is not None

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {}
        if self.environment:
            value["environment"] = self.env
        if self.job_parameter is not None:
            value["jobParameter"] = self.job_parameter
        return value

    @classmethod
    def from_json(cls, value: Any) -> Overrides:
        if not isinstance(value, dict):
            return cls()
        environment = value.get("environment") or {}
        parameter = value.get("jobParameter")
        return cls.of(
            {str(k): str(v) for k, v in environment.items()} if isinstance(environment, dict) else {},
            str(parameter) if parameter is not None else None,
        )


NO_OVERRIDES = Overrides()


@dataclass(frozen=True)
class Firing:
    firing_id: str
    scheduled_at: dt.datetime
    cause: FiringCause
    overrides: Overrides = NO_OVERRIDES

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "firingId": self.firing_id, "scheduledAt": iso(self.scheduled_at), "cause": self.cause.value
        }
        if self.overrides:
            value["overrides"] = self.overrides.to_json()
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Firing:
        return cls(
            value["firingId"],
            parse_iso(value["scheduledAt"]),
            FiringCause(value.get("cause", "CRON")),
            Overrides.from_json(value.get("overrides")),
        )

    @classmethod
    def trigger(
        cls, at: dt.datetime, firing_id: str | None = None, overrides: Overrides = NO_OVERRIDES
    ) -> Firing:
        """A manual firing (``POST /job/trigger``): every trigger is a firing of its own, its id the instant
        it was asked for (which the run id shows) and a random part."""
        at = at.astimezone(dt.UTC)
        stamp = at.strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
        firing_id = firing_id or f"trigger-{stamp}-{uuid.uuid4().hex[:12]}"
        return cls(firing_id, at, FiringCause.TRIGGER, overrides)

    @classmethod
    def cron(cls, instant: dt.datetime) -> Firing:
        return cls(cron_firing_id(instant), instant.astimezone(dt.UTC), FiringCause.CRON)


@dataclass(frozen=True)
class ReadyQueue:
    """``cursor``: last cron instant already queued (or when the job was registered).
    ``reason``: why the head firing is waiting, shown by ``GET /job/tasks/ready``."""

    cursor: dt.datetime | None = None
    firings: tuple[Firing, ...] = ()
    reason: str = ""
    last_fire_time: dt.datetime | None = None  # when the last firing was launched
    missed: int = 0  # firings that never ran (collapsed, over maxPendingFirings, past their deadline)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = dict(self.extra)
        value["cursor"] = iso(self.cursor) if self.cursor else None
        value["firings"] = [f.to_json() for f in self.firings]
        value["reason"] = self.reason
        value["lastFireTime"] = iso(self.last_fire_time) if self.last_fire_time else None
        value["missed"] = self.missed
        return value

    @classmethod
    def from_json(cls, value: Any) -> ReadyQueue:
        if isinstance(value, list):  # a bare list of firings
            return cls(firings=tuple(Firing.from_json(f) for f in value))
        if not isinstance(value, dict):
            return cls()
        known = {"cursor", "firings", "reason", "lastFireTime", "missed"}
        return cls(
            cursor=parse_iso(value["cursor"]) if value.get("cursor") else None,
            firings=tuple(Firing.from_json(f) for f in value.get("firings") or ()),
            reason=value.get("reason") or "",
            last_fire_time=parse_iso(value["lastFireTime"]) if value.get("lastFireTime") else None,
            missed=int(value.get("missed") or 0),
            extra={k: v for k, v in value.items() if k not in known},
        )

    def with_trigger(self, firing: Firing) -> ReadyQueue:
        return replace(self, firings=(*self.firings, firing))
