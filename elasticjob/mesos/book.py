"""What the Mesos framework knows between events: offers held, agents seen, updates to acknowledge.

Thread-safe (one lock, held only for dictionary work): the subscription thread adds and removes, the
scheduler's thread reads views and takes offers to launch onto, the calls thread expires old offers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from elasticjob.mesos.mapping import AGENT_PREFIX, our_agent_id
from elasticjob.mesos.messages import Offer
from elasticjob.model.running import RunningTask
from elasticjob.scheduler.snapshot import AgentView, usage_of


@dataclass
class _Agent:
    hostname: str
    attributes: dict[str, str] = field(default_factory=dict)
    failed: bool = False  # a FAILURE named it: absent until it offers again


class OfferBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offers: dict[str, tuple[Offer, float]] = {}  # offer id -> offer, when received (monotonic)
        self._agents: dict[str, _Agent] = {}  # Mesos agent id -> what its last offer said
        self._acks: dict[str, tuple[str, str]] = {}  # task id -> (Mesos agent id, uuid) of a terminal update
        self._clock = time.monotonic

    # ---- offers ----------------------------------------------------------------------------------
    def add(self, offers: Iterable[Offer]) -> None:
        now = self._clock()
        with self._lock:
            for offer in offers:
                self._offers[offer.offer_id] = (offer, now)
                self._agents[offer.agent_id] = _Agent(offer.hostname, dict(offer.attributes))

    def rescind(self, offer_id: str) -> bool:
        with self._lock:
            return self._offers.pop(offer_id, None) is not None

    def take(self, mesos_agent: str) -> list[Offer]:
        """Remove and return every offer of ``mesos_agent`` (to accept them together)."""
        with self._lock:
            taken = [o for o, _ in self._offers.values() if o.agent_id == mesos_agent]
            for offer in taken:
                del self._offers[offer.offer_id]
        return taken

    def expire(self, older_than: float) -> list[str]:
        """Remove and return the ids of offers held for more than ``older_than`` seconds."""
        limit = self._clock() - older_than
        with self._lock:
            old = [offer_id for offer_id, (_, at) in self._offers.items() if at <= limit]
            for offer_id in old:
                del self._offers[offer_id]
        return old

    def clear(self) -> list[str]:
        """Forget every offer (the subscription ended: Mesos rescinds them all); return their ids."""
        with self._lock:
            ids = list(self._offers)
            self._offers.clear()
        return ids

    def offer_ids(self) -> list[str]:
        with self._lock:
            return list(self._offers)

    # ---- agents ----------------------------------------------------------------------------------
    def failed(self, mesos_agent: str) -> None:
        """A FAILURE event named the agent: it is absent (its tasks become LOST after the grace period)
        until it offers again."""
        with self._lock:
            agent = self._agents.setdefault(mesos_agent, _Agent(""))
            agent.failed = True
            for offer_id in [i for i, (o, _) in self._offers.items() if o.agent_id == mesos_agent]:
                del self._offers[offer_id]

    def views(self, running: Iterable[RunningTask]) -> dict[str, AgentView]:
        """Our agents on Mesos: those offering now and those holding tasks of ours (unless failed).

        A view's cpus/mem are what the agent offers plus what our tasks there use: the scheduler subtracts
        that usage again, so what it sees free is exactly what is offered."""
        mine = [t for t in running if t.agent_id.startswith(AGENT_PREFIX)]
        usage = usage_of(mine)
        hostnames = {t.agent_id: t.hostname for t in mine}
        with self._lock:
            offered: dict[str, list[float]] = {}
            for offer, _ in self._offers.values():
                total = offered.setdefault(offer.agent_id, [0.0, 0.0])
                total[0] += offer.cpus
                total[1] += offer.mem_mb
            agents = {m: (a.hostname, dict(a.attributes), a.failed) for m, a in self._agents.items()}
        result: dict[str, AgentView] = {}
        present = {our_agent_id(m) for m in offered} | set(usage)
        for agent_id in present:
            mesos_id = agent_id[len(AGENT_PREFIX):]
            hostname, attributes, failed = agents.get(mesos_id, (hostnames.get(agent_id, ""), {}, False))
            if failed and mesos_id not in offered:
                continue
            cpus, mem = offered.get(mesos_id, (0.0, 0.0))
            used = usage.get(agent_id)
            if used is not None:
                cpus, mem = cpus + used.cpus, mem + used.mem_mb
            result[agent_id] = AgentView(agent_id, hostname or hostnames.get(agent_id, ""), cpus, mem,
                                         attributes)
        return result

    # ---- acknowledgements --------------------------------------------------------------------------
    def hold_ack(self, task_id: str, mesos_agent: str, uuid: str) -> None:
        """A terminal update to acknowledge once the scheduler has recorded it (``release_acks``)."""
        with self._lock:
            self._acks[task_id] = (mesos_agent, uuid)

    def release_acks(self, task_ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """The ``(task id, Mesos agent id, uuid)`` of held updates of ``task_ids`` (removed)."""
        with self._lock:
            found = [(t, *self._acks.pop(t)) for t in task_ids if t in self._acks]
        return found

    def drop_acks(self) -> None:
        """Forget held acknowledgements (a new subscription: Mesos resends what was not acknowledged)."""
        with self._lock:
            self._acks.clear()
