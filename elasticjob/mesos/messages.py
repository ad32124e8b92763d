"""Mesos v1 scheduler API messages as JSON values, and the RecordIO framing of the event stream.

Field names follow the Mesos v1 scheduler HTTP API (``/api/v1/scheduler``; ``scheduler.proto`` and
``mesos.proto`` of Mesos 1.x in their JSON form). Every call but SUBSCRIBE names the framework id and is sent
with the ``Mesos-Stream-Id`` header the SUBSCRIBE response carried; Mesos answers them ``202 Accepted``.

Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

SCHEDULER_PATH = "/api/v1/scheduler"
STREAM_ID_HEADER = "Mesos-Stream-Id"

# Event types of the subscription stream.
SUBSCRIBED, OFFERS, RESCIND, UPDATE, FAILURE, ERROR, HEARTBEAT = (
    "SUBSCRIBED", "OFFERS", "RESCIND", "UPDATE", "FAILURE", "ERROR", "HEARTBEAT",
)


@dataclass(frozen=True)
class FrameworkInfo:
    """What we subscribe as. ``failover_timeout``: seconds Mesos keeps our tasks running while no scheduler
    of the framework is subscribed (a new leader re-subscribes with the same framework id within it)."""

    name: str = "elasticjob"
    roles: Sequence[str] = ("*",)
    user: str = ""
    failover_timeout: float = 7 * 86400.0
    hostname: str = ""


def _value(text: str) -> Json:
    return {"value": text}


def subscribe(info: FrameworkInfo, framework_id: str | None = None) -> Json:
    """SUBSCRIBE; with ``framework_id`` a re-subscription of that framework (its tasks are kept)."""
    framework: Json = {
        "user": info.user or "root",
        "name": info.name,
        "roles": list(info.roles),
        "capabilities": [{"type": "MULTI_ROLE"}],
        "failover_timeout": info.failover_timeout,
    }
    if info.hostname:
        framework["hostname"] = info.hostname
    call: Json = {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework}}
    if framework_id:
        framework["id"] = _value(framework_id)
        call["framework_id"] = _value(framework_id)
    return call


def _call(framework_id: str, kind: str, body: Json | None = None) -> Json:
    call: Json = {"framework_id": _value(framework_id), "type": kind}
    if body is not None:
        call[kind.lower()] = body
    return call


def accept(framework_id: str, offer_ids: Iterable[str], task_infos: Sequence[Json],
           refuse_seconds: float) -> Json:
    """ACCEPT ``offer_ids`` with one LAUNCH of ``task_infos`` (what they leave unused goes back to Mesos,
    refused to us for ``refuse_seconds``)."""
    return _call(framework_id, "ACCEPT", {
        "offer_ids": [_value(o) for o in offer_ids],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(task_infos)}}],
        "filters": {"refuse_seconds": refuse_seconds},
    })


def decline(framework_id: str, offer_ids: Iterable[str], refuse_seconds: float) -> Json:
    return _call(framework_id, "DECLINE", {
        "offer_ids": [_value(o) for o in offer_ids],
        "filters": {"refuse_seconds": refuse_seconds},
    })


def kill(framework_id: str, task_id: str, agent_id: str | None) -> Json:
    body: Json = {"task_id": _value(task_id)}
    if agent_id:
        body["agent_id"] = _value(agent_id)
    return _call(framework_id, "KILL", body)


def acknowledge(framework_id: str, agent_id: str, task_id: str, uuid: str) -> Json:
    """ACKNOWLEDGE an update that carried ``uuid`` (base64, as received): Mesos then stops resending it and
    sends the task's next update."""
    return _call(framework_id, "ACKNOWLEDGE", {
        "agent_id": _value(agent_id), "task_id": _value(task_id), "uuid": uuid,
    })


def reconcile(framework_id: str, tasks: Iterable[tuple[str, str | None]]) -> Json:
    """RECONCILE ``(task_id, mesos_agent_id)`` pairs: Mesos answers each with an UPDATE of its latest state
    (TASK_LOST/TASK_UNKNOWN/TASK_GONE... for a task it does not know). An empty list asks for every task."""
    entries = []
    for task_id, agent_id in tasks:
        entry: Json = {"task_id": _value(task_id)}
        if agent_id:
            entry["agent_id"] = _value(agent_id)
        entries.append(entry)
    return _call(framework_id, "RECONCILE", {"tasks": entries})


# ---- events --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    offer_id: str
    agent_id: str  # Mesos' own agent id
    hostname: str
    cpus: float
    mem_mb: float
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskUpdate:
    task_id: str
    state: str  # TASK_RUNNING, ...
    agent_id: str = ""  # Mesos' own ("" if the update has none, e.g. an explicit reconciliation)
    message: str = ""
    reason: str = ""
    source: str = ""
    uuid: str = ""  # "" : nothing to acknowledge
    timestamp: float = 0.0  # seconds


def _scalar(resources: Iterable[Mapping[str, Any]], name: str) -> float:
    """The sum of the scalar resources named ``name`` (over all roles and reservations)."""
    return sum(
        float(r.get("scalar", {}).get("value", 0.0))
        for r in resources
        if r.get("name") == name and r.get("type", "SCALAR") == "SCALAR"
    )


def _attribute(attribute: Mapping[str, Any]) -> str:
    kind = attribute.get("type")
    if kind == "TEXT":
        return str(attribute.get("text", {}).get("value", ""))
    if kind == "SCALAR":
        return f"{attribute.get('scalar', {}).get('value', 0):g}"
    if kind == "RANGES":
        ranges = attribute.get("ranges", {}).get("range", [])
        return ",".join(f"[{r.get('begin')}-{r.get('end')}]" for r in ranges)
    if kind == "SET":
        return ",".join(attribute.get("set", {}).get("item", []))
    return ""


def parse_offer(offer: Mapping[str, Any]) -> Offer:
    """One offer of an OFFERS event; ``ValueError`` if it lacks its id or agent id."""
    try:
        offer_id = offer["id"]["value"]
        agent_id = offer["agent_id"]["value"]
    except (KeyError, TypeError):
        raise ValueError(f"an offer without id or agent_id: {offer!r:.200}") from None
    resources = offer.get("resources", [])
    return Offer(
        offer_id=str(offer_id),
        agent_id=str(agent_id),
        hostname=str(offer.get("hostname", "")),
        cpus=_scalar(resources, "cpus"),
        mem_mb=_scalar(resources, "mem"),
        attributes={str(a["name"]): _attribute(a) for a in offer.get("attributes", []) if "name" in a},
    )


def parse_update(event: Mapping[str, Any]) -> TaskUpdate:
    """The status of an UPDATE event; ``ValueError`` if it has no task id or state."""
    status = event.get("update", {}).get("status", {})
    try:
        task_id, state = status["task_id"]["value"], status["state"]
    except (KeyError, TypeError):
        raise ValueError(f"an update without task_id or state: {event!r:.200}") from None
    return TaskUpdate(
        task_id=str(task_id),
        state=str(state),
        agent_id=str(status.get("agent_id", {}).get("value", "")),
        message=str(status.get("message", "")),
        reason=str(status.get("reason", "")),
        source=str(status.get("source", "")),
        uuid=str(status.get("uuid", "")),
        timestamp=float(status.get("timestamp", 0.0)),
    )


class RecordIOError(ValueError):
    """The stream is not RecordIO: a length that is not a number, or absurdly large."""


class RecordIO:
    """Decodes the RecordIO framing of the event stream: ``<length in bytes>\\n<record>``, repeated, with no
    separator after a record. Feed it chunks as they arrive; it yields each complete record.

    ``max_record`` bounds one record (a corrupt length must not make us buffer without end)."""

    def __init__(self, max_record: int = 64 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max = max_record

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buffer += chunk
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if len(self._buffer) > 20:
                    raise RecordIOError(f"no record length in {bytes(self._buffer[:20])!r}...")
                return
            head = bytes(self._buffer[:newline]).strip()
            if not head.isdigit():
                raise RecordIOError(f"bad record length {head[:20]!r}")
            length = int(head)
            if length > self._max:
                raise RecordIOError(f"record of {length} bytes exceeds {self._max}")
            end = newline + 1 + length
            if len(self._buffer) < end:
                return
            record = bytes(self._buffer[newline + 1:end])
            del self._buffer[:end]
            yield record


def encode_record(event: Mapping[str, Any]) -> bytes:
    """One RecordIO record of ``event`` (for tests and replay servers)."""
    data = json.dumps(event).encode()
    return str(len(data)).encode() + b"\n" + data
