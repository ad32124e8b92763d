"""Tasks: one shard of one firing, identified the Elastic-Job-Cloud way, and its states."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass

SEPARATOR = "@-@"
_AGENT_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class TaskState(enum.StrEnum):
    STAGING = "STAGING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    LOST = "LOST"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.KILLED, TaskState.LOST})

# The reason of a task that ended before its command ever ran: given up by its agent while staging or held
# at its start gate, or launched to an agent that never received it. Nothing of it ran, so its shard may
# be run again whatever the job's failover policy (see scheduler.failover.after_end).
NOT_STARTED = "not-started"


class TaskKind(enum.StrEnum):
    READY = "READY"  # launched for a firing
    FAILOVER = "FAILOVER"  # re-launched for a shard whose first run was lost


def check_agent_id(value: str) -> str:
    if not _AGENT_ID_RE.fullmatch(value) or value in {".", ".."}:
        raise ValueError(f"invalid agent id {value!r}: use 1-128 letters, digits, '_', '.', '-'")
    return value


@dataclass(frozen=True)
class TaskId:
    """``{jobName}@-@{shardingItem}@-@{READY|FAILOVER}@-@{agentId}@-@{uuid}``."""

    job_name: str
    sharding_item: int
    kind: TaskKind
    agent_id: str
    uid: str

    def __str__(self) -> str:
        return SEPARATOR.join(
            (self.job_name, str(self.sharding_item), self.kind.value, self.agent_id, self.uid)
        )

    @classmethod
    def new(cls, job_name: str, sharding_item: int, kind: TaskKind, agent_id: str) -> TaskId:
        return cls(job_name, sharding_item, kind, agent_id, uuid.uuid4().hex)

    @classmethod
    def parse(cls, text: str) -> TaskId:
        """Parse a task id; ``ValueError`` if it is not of the documented form."""
        parts = text.split(SEPARATOR)
        if len(parts) != 5 or not parts[1].isdigit() or parts[2] not in TaskKind.__members__:
            raise ValueError(
                f"{text!r} is not a task id ({'@-@'.join(['job', 'item', 'kind', 'agent', 'uuid'])})"
            )
        return cls(parts[0], int(parts[1]), TaskKind(parts[2]), parts[3], parts[4])


def missed_task_id(job_name: str, firing_id: str) -> str:
    """The execution id recorded for a firing that never ran: ``missed@-@{jobName}@-@{firingId}``."""
    return SEPARATOR.join(("missed", job_name, firing_id))
