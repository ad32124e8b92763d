"""The native (Elastic-Job-Cloud) face of the history: ``GET /job/events/executions``.

``parse_query`` turns the endpoint's query parameters into an :class:`ExecutionQuery`; ``native_row``
renders an :class:`Execution` with the field names of Elastic-Job-Cloud's ``JobExecutionEvent`` plus this
project's additions. Pure functions, safe from any thread.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from elasticjob.history.store import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    SCHEDULER_STATES,
    Execution,
    ExecutionPage,
    ExecutionQuery,
    TracePage,
)
from elasticjob.model import FieldError, ValidationFailed
from elasticjob.model.execution import FINISHED, TASK_STATES, TERMINAL_STATES, ExecutionEvent

EXECUTION_SOURCE = "CLOUD_EXECUTOR"
MAX_PAGE = 10_000_000
_MAX_SHARDING_ITEM = 2**31 - 1
_INT_RE = re.compile(r"[+-]?[0-9]+")
# An unencoded '+' in a query string arrives as a space: "...T08:00:00 08:00" meant "+08:00".
_LOST_PLUS_RE = re.compile(r"(.*[0-9]) ([0-9]{2}(?::?[0-9]{2})?)")
# isSuccess: the API's true/false and the original console's radio buttons' 1/0.
_SUCCESS = {"true": True, "1": True, "false": False, "0": False}
# A status trace's source and executionType, as native_trace_row writes them.
_SOURCES = ("CLOUD_SCHEDULER", "CLOUD_EXECUTOR")
_EXECUTION_TYPES = ("READY", "FAILOVER")


class QueryError(ValidationFailed, ValueError):
    """An invalid query parameter. ``path`` is the parameter's name as sent, ``reason`` what is wrong.

    A ``ValidationFailed`` (the API answers 422 with ``details=[{path: field, errors: [reason]}]``) and a
    ``ValueError``.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", [FieldError(field, (reason,))])
        self.path = field
        self.reason = reason


def _param(params: Mapping[str, str], name: str) -> str | None:
    """The stripped value of ``name``; ``None`` when absent or empty (as HTML forms send unset fields)."""
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(params: Mapping[str, str], name: str, *, minimum: int, maximum: int) -> int | None:
    text = _param(params, name)
    if text is None:
        return None
    if not _INT_RE.fullmatch(text):
        raise QueryError(name, f"must be an integer, got {text!r}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise QueryError(name, f"must be between {minimum} and {maximum}, got {value}")
    return value


def _parse_time(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        repaired = _LOST_PLUS_RE.fullmatch(text)
        try:
            if repaired is None:
                raise
            value = datetime.fromisoformat(f"{repaired.group(1)}+{repaired.group(2)}")
        except ValueError:
            example = "2026-01-31T08:00:00Z"
            raise QueryError(name, f"must be an ISO 8601 date-time such as {example}, got {text!r}") from None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _time(params: Mapping[str, str], name: str, alias: str) -> tuple[str, datetime | None]:
    """The time given as ``name`` or its ``alias`` (not both), and which of the two was used."""
    primary, secondary = _param(params, name), _param(params, alias)
    if primary is not None and secondary is not None:
        raise QueryError(alias, f"give either {name} or {alias}, not both")
    if primary is not None:
        return name, _parse_time(name, primary)
    if secondary is not None:
        return alias, _parse_time(alias, secondary)
    return name, None


def _states(text: str | None) -> frozenset[str]:
    if text is None:
        return frozenset()
    # Mesos-style names as the status traces show them (TASK_RUNNING) are accepted too.
    states = {part.strip().upper().removeprefix("TASK_") for part in text.split(",") if part.strip()}
    unknown = sorted(states - set(TASK_STATES))
    if unknown:
        known = ", ".join(TASK_STATES)
        raise QueryError("state", f"unknown state(s) {', '.join(unknown)}; expected any of {known}")
    return frozenset(states)


def parse_query(params: Mapping[str, str]) -> ExecutionQuery:
    """The :class:`ExecutionQuery` for the query parameters of ``GET /job/events/executions``.

    Parameters (all optional; empty values count as absent; unknown names, including ``sort``, are
    ignored): ``page`` (>= 1, default 1), ``per_page`` (>= 1, default 20; values above 1000 are capped at
    1000), ``jobName``, ``state`` (comma-separated, case-insensitive), ``startTime``/``since`` and
    ``endTime``/``until`` (ISO 8601, inclusive; without an offset they mean UTC), ``shardingItem``
    (>= 0), ``taskId``, ``firingId``, ``ip`` (the agent's address), ``order`` (``asc`` or ``desc``,
    default ``desc``: newest first), and Elastic-Job-Cloud's ``isSuccess`` (``true``: FINISHED;
    ``false``: ended in any other way; ``1`` and ``0``, as its console's radio buttons send them, too).

    Raises :class:`QueryError` naming the offending parameter.
    """
    page = _int(params, "page", minimum=1, maximum=MAX_PAGE) or 1
    per_page = _int(params, "per_page", minimum=1, maximum=2**63)
    since_name, since = _time(params, "startTime", "since")
    until_name, until = _time(params, "endTime", "until")
    if since is not None and until is not None and since > until:
        raise QueryError(until_name, f"must not be before {since_name}")
    order = (_param(params, "order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise QueryError("order", f"must be 'asc' or 'desc', got {order!r}")
    states = _states(_param(params, "state"))
    success = _param(params, "isSuccess")
    if success is not None:
        if success.lower() not in _SUCCESS:
            raise QueryError("isSuccess", f"must be true, false, 1 or 0, got {success!r}")
        outcome = {FINISHED} if _SUCCESS[success.lower()] else set(TERMINAL_STATES) - {FINISHED}
        states = frozenset(states & outcome if states else outcome)
        if not states:
            raise QueryError("isSuccess", "contradicts the state filter")
    return ExecutionQuery(
        job_name=_param(params, "jobName"),
        states=states,
        since=since,
        until=until,
        sharding_item=_int(params, "shardingItem", minimum=0, maximum=_MAX_SHARDING_ITEM),
        task_id=_param(params, "taskId"),
        firing_id=_param(params, "firingId"),
        ip=_param(params, "ip"),
        page=page,
        per_page=DEFAULT_PER_PAGE if per_page is None else min(per_page, MAX_PER_PAGE),
        newest_first=order == "desc",
    )


def parse_trace_query(params: Mapping[str, str]) -> ExecutionQuery:
    """The query of ``GET /job/events/statusTraces``: :func:`parse_query`'s, plus Elastic-Job-Cloud's
    status-trace filters ``slaveId`` (the agent id), ``source`` (``CLOUD_SCHEDULER`` or ``CLOUD_EXECUTOR``)
    and ``executionType`` (``READY`` or ``FAILOVER``), each matching :func:`native_trace_row`'s field of
    that name. A filter that contradicts another (``source=CLOUD_SCHEDULER&state=TASK_RUNNING``) matches
    nothing, as in the original.

    Raises :class:`QueryError` naming the offending parameter.
    """
    query = parse_query(params)
    source = _choice(params, "source", _SOURCES)
    kind = _choice(params, "executionType", _EXECUTION_TYPES)
    return replace(
        query,
        agent_id=_param(params, "slaveId"),
        by_scheduler=None if source is None else source == "CLOUD_SCHEDULER",
        failover=None if kind is None else kind == "FAILOVER",
    )


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    text = _param(params, name)
    if text is None:
        return None
    if text.upper() not in choices:
        raise QueryError(name, f"must be {' or '.join(choices)}, got {text!r}")
    return text.upper()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _ip_of(hostname: str) -> str:
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        return ""


def native_row(execution: Execution) -> dict[str, object]:
    """One row of ``GET /job/events/executions`` (Elastic-Job-Cloud ``JobExecutionEvent`` field names).

    ``ip`` is the agent's address as the leader saw its stream come in (recorded with the execution);
    for executions recorded before that was kept, the hostname when that is an IP address, else ``""``.
    Times are ISO 8601 in UTC with an offset, or ``None`` (JSON null) when unknown. ``success`` means
    FINISHED; ``failureCause`` is the message of any other state. ``state``, ``exitCode``, ``agentId``
    and ``firingId`` are additions.
    """
    success = execution.state == FINISHED
    return {
        "id": execution.task_id,
        "hostname": execution.hostname,
        "ip": execution.ip or _ip_of(execution.hostname),
        "taskId": execution.task_id,
        "jobName": execution.job_name,
        "source": EXECUTION_SOURCE,
        "shardingItem": execution.sharding_item,
        "startTime": _iso(execution.started_at),
        "completeTime": _iso(execution.finished_at),
        "success": success,
        "failureCause": "" if success else execution.message,
        "state": execution.state,
        "exitCode": execution.exit_code,
        "agentId": execution.agent_id,
        "firingId": execution.firing_id,
    }


def native_trace_row(trace_id: int, event: ExecutionEvent) -> dict[str, object]:
    """Elastic-Job-Cloud's JobStatusTraceEvent JSON for ``GET /job/events/statusTraces``.

    States use its Mesos-style names (``TASK_RUNNING``); ``source`` says who recorded the change: the
    scheduler (launch, loss, missed firing) or the executor (what the agent reported).
    """
    by_scheduler = event.state in SCHEDULER_STATES
    return {
        "id": str(trace_id),
        "jobName": event.job_name,
        "originalTaskId": "",
        "taskId": event.task_id,
        "slaveId": event.agent_id,
        "source": "CLOUD_SCHEDULER" if by_scheduler else "CLOUD_EXECUTOR",
        "executionType": "FAILOVER" if "@-@FAILOVER@-@" in event.task_id else "READY",
        "shardingItems": "" if event.sharding_item is None else str(event.sharding_item),
        "state": f"TASK_{event.state}",
        "message": event.message,
        "creationTime": _iso(event.at),
    }


def native_trace_page(page: TracePage) -> dict[str, object]:
    return {"total": page.total, "rows": [native_trace_row(trace_id, e) for trace_id, e in page.rows]}


def native_page(page: ExecutionPage) -> dict[str, object]:
    """The whole response body: ``{"total": n, "rows": [native_row, ...]}``."""
    return {"total": page.total, "rows": [native_row(execution) for execution in page.rows]}
