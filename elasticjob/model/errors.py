"""Domain errors shared by every layer.

The HTTP layer maps them to status codes (``ValidationFailed`` -> 422, ``NotFound`` -> 404,
``Conflict`` -> 409); the CLI prints their message. They carry no HTTP knowledge themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """Problems with one field of a request, addressed by a dotted path (``shardingItemParameters``)."""

    path: str
    errors: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "errors": list(self.errors)}


class DomainError(Exception):
    """Base class: a user-caused error with a human-readable message and optional field details."""

    def __init__(self, message: str, details: Iterable[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)


class ValidationFailed(DomainError):
    """The request is well-formed but its content is invalid."""

    @classmethod
    def field(cls, path: str, error: str) -> ValidationFailed:
        return cls(f"{path}: {error}", [FieldError(path, (error,))])


class NotFound(DomainError):
    """The named app, job or task does not exist."""


class Conflict(DomainError):
    """The request conflicts with the current state (already exists, still in use, concurrent change)."""


class Unavailable(DomainError):
    """Something the request needs (the leader, an agent, ZooKeeper) cannot be reached right now."""
