"""Reading request bodies: size limit, content types, JSON models, and the native API's name-as-text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from elasticjob.api.errors import ApiError, error_body
from elasticjob.model import FieldError, ValidationFailed, check_name, parse_json_model
from elasticjob.model.lenient import FormRules, lenient_document

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
M = TypeVar("M", bound=BaseModel)


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_json(send, 413, error_body(BodyTooLarge(self.limit).message))
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


async def _json_object(request: Request) -> tuple[bytes, dict[str, Any]]:
    """The body and its JSON object: 415 for a non-JSON content type, 400 for malformed JSON or another
    JSON value than an object."""
    media = _media_type(request)
    if media is not None and media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, f"Content-Type must be application/json (got {media})")
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "request body is empty; expected a JSON object")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
    except RecursionError:  # e.g. "[[[[...]]]]": the client's fault, not a 500
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise ApiError(400, "request body must be a JSON object")
    return raw, document


async def json_model(request: Request, model: type[M]) -> M:
    """The body as ``model``: 415 for a non-JSON content type, 400 for malformed JSON, 422 for bad content."""
    raw, _document = await _json_object(request)
    return parse_json_model(model, raw)


async def form_model(request: Request, model: type[M], rules: FormRules) -> M:
    """The body as ``model``, read as leniently as Elastic-Job-Cloud read its console's forms (its numbers
    and booleans as strings, ``""`` for fields its forms leave empty: ``rules``, see ``model.lenient``);
    otherwise as ``json_model``. For the native API only: the other dialects keep their strict typing."""
    _raw, document = await _json_object(request)
    # "1e400" becomes inf, written as Infinity: the model rejects it by name like any other bad value.
    return parse_json_model(model, json.dumps(lenient_document(model, document, rules)))


async def name_body(request: Request, what: str) -> str:
    """A name sent as the whole body (``-d 'foo_job'``), as text or as a JSON string."""
    media = _media_type(request)
    if media is not None and not (
        media.startswith("text/")
        or media in {"application/text", "application/json"}
        or media.endswith("+json")
        or media == "application/x-www-form-urlencoded"  # curl -d without -H
    ):
        raise ApiError(415, f"send the {what} as text (Content-Type text/plain or application/text)")
    raw = await request.body()
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8 text") from None
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            raise ApiError(400, f"malformed JSON string for the {what}") from None
        text = decoded.strip() if isinstance(decoded, str) else text
    if not text:
        raise ApiError(400, f"request body must be the {what}")
    try:
        return check_name(text)
    except ValueError as exc:
        raise ValidationFailed(f"{what}: {exc}", [FieldError(what, (str(exc),))]) from None


def path_name(value: str, not_found: Callable[[str], Exception]) -> str:
    """Validate a name taken from the URL path; an invalid one cannot exist, so it is a 404."""
    try:
        return check_name(value)
    except ValueError:
        raise not_found(value) from None
