"""Names of apps and jobs: they become ZooKeeper path segments, so the alphabet is strict."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

NAME_MAX_LENGTH = 128
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")


def check_name(value: str) -> str:
    """Return ``value`` if it is a valid app/job name, else raise ``ValueError`` saying why."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters (got {len(value)})")
    if not _NAME_RE.fullmatch(value):
        raise ValueError("may contain only letters, digits, '_', '.' and '-'")
    if value in {".", ".."}:
        raise ValueError("must not be '.' or '..'")
    return value


# The schema says what check_name accepts (but for "." and "..", which no JSON Schema regex here can exclude
# simply): clients and fuzzers generate from it.
Name = Annotated[str, AfterValidator(check_name),
                 WithJsonSchema({"type": "string", "pattern": f"^[A-Za-z0-9_.-]{{1,{NAME_MAX_LENGTH}}}$"})]


DEFAULT_NAMESPACE = "default"


def namespace_of(name: str) -> str:
    """The namespace (job group) of a job or app: its dotted name without the last part
    (``chennanfei.test`` is in ``chennanfei``, ``a.b.c`` in ``a.b``); a name without dots is in
    ``DEFAULT_NAMESPACE``. The job-group boundary of ``security.scopes`` follows the same dots, so a user
    confined to a group is confined to its namespace. Pure."""
    return name.rpartition(".")[0] or DEFAULT_NAMESPACE
