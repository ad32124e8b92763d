"""Agents that left: remembered by each master from the mirror's changes, for operators ("gone, when").

An agent is present while its ephemeral znode ``/agents/{agentId}`` exists. When the mirror reports it
removed (the agent stopped, or its ZooKeeper session expired), this master keeps what the agent had
announced and the time it saw it go — the newest ``limit`` departures, in memory, since this master
started (a master that restarts forgets earlier ones; ZooKeeper keeps no record of deleted znodes). An
agent that comes back is no longer gone.

``observe`` is a mirror listener: it runs on the mirror's thread and only updates a dict under a lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elasticjob.registry.tables import Change

DEFAULT_LIMIT = 1_000


@dataclass(frozen=True)
class Departure:
    agent_id: str
    announced: dict[str, Any]  # the agent's znode value when it was last present
    gone_at: float  # Unix seconds


class AgentDepartures:
    def __init__(
        self, collection: str, limit: int = DEFAULT_LIMIT, clock: Callable[[], float] = time.time
    ) -> None:
        self.collection = collection
        self.limit = limit
        self.clock = clock
        self._gone: OrderedDict[str, Departure] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, changes: list[Change], _resynced: bool = False) -> None:
        with self._lock:
            for change in changes:
                if change.collection != self.collection:
                    continue
                agent_id = str(change.key)
                if change.new is not None:
                    self._gone.pop(agent_id, None)
                elif change.old is not None:
                    value = change.old.value if isinstance(change.old.value, dict) else {}
                    self._gone.pop(agent_id, None)
                    self._gone[agent_id] = Departure(agent_id, value, self.clock())
                    while len(self._gone) > self.limit:
                        self._gone.popitem(last=False)

    def gone(self) -> list[Departure]:
        """Departures, newest first."""
        with self._lock:
            return list(reversed(self._gone.values()))

    def get(self, agent_id: str) -> Departure | None:
        with self._lock:
            return self._gone.get(agent_id)
