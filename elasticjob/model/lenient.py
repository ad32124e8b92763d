"""Lenient binding of the original Elastic-Job-Cloud console's forms, as its Gson adapters read them.

The original console builds its job and app bodies from HTML inputs, so numbers arrive as JSON strings
(``"shardingTotalCount": "2"``, ``"cpuCount": "0.1"``) and inputs a job type hides arrive empty
(``"jobClass": ""``, ``"beanName": ""``, ``"applicationContext": ""``). The original read numbers with
Gson's ``JsonReader.nextInt``/``nextDouble``, which accept a quoted number, and stored such strings as
given. ``lenient_document`` turns one such body into the strict document the models validate:

- a string that is a decimal number becomes that number, for a field of type ``int`` (integers only) or
  ``float``; anything else (``"abc"``, ``"0x10"``, ``" 2"``, ``"NaN"``) is left as it is, so the model
  rejects it with the field's path;
- ``"true"`` / ``"false"`` become booleans for ``bool`` fields (the console sends real booleans; a client
  sending the strings is served too, nothing looser);
- ``""`` for a field named in ``empty_as_absent`` is dropped: the field takes its default.

Only the original's own top-level fields are touched (``FormRules.coerced``: what its Gson adapters read);
fields this platform added (``taskKillGracePeriodSeconds``, ``startingDeadlineSeconds``, ...) stay strict,
as every other API. Range and cross-field rules are the model's, unchanged. Pure.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "false": False}

@dataclass(frozen=True)
class FormRules:
    """``coerced``: the fields whose string forms become numbers or booleans; ``empty_as_absent``: the
    fields whose ``""`` means absent."""

    coerced: frozenset[str]
    empty_as_absent: frozenset[str] = frozenset()


JOB_EMPTY_AS_ABSENT: frozenset[str] = frozenset(
    {"jobClass", "beanName", "applicationContext", "bootstrapScript", "scriptCommandLine"}
)
"""Job fields the original console sends as ``""`` when the job's type has no use for them."""

JOB_FORM = FormRules(
    # Elastic-Job-Cloud 2.1's CloudJobConfiguration: its numbers and booleans.
    frozenset({"shardingTotalCount", "cpuCount", "memoryMB", "failover", "misfire", "streamingProcess"}),
    JOB_EMPTY_AS_ABSENT,
)
APP_FORM = FormRules(
    # Its CloudAppConfiguration.
    frozenset({"cpuCount", "memoryMB", "appCacheEnable", "eventTraceSamplingCount"}),
)


def _scalar_type(annotation: Any) -> type | None:
    """``int``, ``float`` or ``bool`` for a field of that type (optional or not), else None."""
    candidates = [annotation]
    if get_origin(annotation) in (Union, types.UnionType):
        candidates = [a for a in get_args(annotation) if a is not type(None)]
    if len(candidates) != 1:
        return None
    found = candidates[0]
    return found if found in (int, float, bool) else None


def _coerce(kind: type | None, value: Any) -> Any:
    if not isinstance(value, str) or kind is None:
        return value
    if kind is bool:
        return _BOOLS.get(value, value)
    if kind is int and _INT_RE.fullmatch(value):
        return int(value)
    if kind is float and _FLOAT_RE.fullmatch(value):
        return float(value)
    return value


def lenient_document(model: type[BaseModel], document: Mapping[str, Any], rules: FormRules) -> dict[str, Any]:
    """``document`` with the console's string forms replaced as the module docstring says."""
    fields = model.model_fields
    result: dict[str, Any] = {}
    for name, value in document.items():
        if value == "" and name in rules.empty_as_absent:
            continue
        info = fields.get(name) if name in rules.coerced else None
        result[name] = _coerce(_scalar_type(info.annotation) if info is not None else None, value)
    return result
