"""Turn JSON into models, and pydantic's errors into ``ValidationFailed`` with field paths."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from elasticjob.model.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def parse_json_model(model: type[M], raw: bytes | str) -> M:
    """Validate a JSON document (strict JSON typing: ``"5"`` is not an int) into ``model``.

    Raises ``ValidationFailed`` whose details hold one entry per offending field path.
    """
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_failed(exc) from None


def validation_failed(exc: ValidationError) -> ValidationFailed:
    grouped: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path, message = _describe(error)
        grouped.setdefault(path, []).append(message)
    details = [FieldError(path, tuple(messages)) for path, messages in grouped.items()]
    summary = "; ".join(
        f"{d.path}: {', '.join(d.errors)}" if d.path else ", ".join(d.errors) for d in details
    )
    return ValidationFailed(f"invalid request: {summary}", details)


def _describe(error: ErrorDetails) -> tuple[str, str]:
    original = (error.get("ctx") or {}).get("error")
    path_hint = getattr(original, "path", None)
    if isinstance(path_hint, str):  # a cross-field error that names its field (FieldValueError)
        return path_hint, str(getattr(original, "message", original))
    path = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return path, message
