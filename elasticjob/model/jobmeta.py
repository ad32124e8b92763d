"""Who created a job and when it was created and last changed: set by the master, never by a client.

Kept beside the job, not in it (``/config/job-meta/{jobName}``, written in the same ZooKeeper transaction
as the job's own znode), so that the job's JSON — what the native API answers — stays the original
Elastic-Job-Cloud shape, and the job's in-memory record and the hot reads cost what they did. A job
registered before this existed has no ``createdAt`` or ``createdBy``; its next update records
``updatedAt``. Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from elasticjob.model.queue import parse_iso


def stamp(instant: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds and ``+00:00`` (``2015-12-28T14:31:07.639255+00:00``)."""
    return instant.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class JobMeta:
    created_by: str | None = None  # the authenticated principal that registered the job; None without auth
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def created(cls, by: str | None, at: dt.datetime) -> JobMeta:
        return cls(by, at, at)

    def updated(self, at: dt.datetime) -> JobMeta:
        return replace(self, updated_at=at)

    def to_json(self) -> dict[str, Any]:
        """As stored and as ``GET /job/jobs/{jobName}/meta`` shows it (absent fields left out)."""
        value: dict[str, Any] = {}
        if self.created_by is not None:
            value["createdBy"] = self.created_by
        if self.created_at is not None:
            value["createdAt"] = stamp(self.created_at)
        if self.updated_at is not None:
            value["updatedAt"] = stamp(self.updated_at)
        return value

    @classmethod
    def from_json(cls, value: Any) -> JobMeta:
        """``ValueError`` for what is not such an object."""
        if not isinstance(value, dict):
            raise ValueError("job metadata must be a JSON object")
        by = value.get("createdBy")
        if by is not None and not isinstance(by, str):
            raise ValueError("createdBy must be a string")
        return cls(by, _instant(value.get("createdAt")), _instant(value.get("updatedAt")))


def _instant(text: Any) -> dt.datetime | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError("a time must be an ISO 8601 string")
    return parse_iso(text)
