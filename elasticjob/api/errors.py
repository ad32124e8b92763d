"""Every error a client can cause becomes a JSON ``{"message", "details"}`` with a 4xx status.

Anything else is logged with its traceback and answered with a bare 500 message: a 500 is a bug.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from elasticjob.model import Conflict, DomainError, FieldError, NotFound, Unavailable, ValidationFailed
from elasticjob.registry import CorruptConfig

log = logging.getLogger(__name__)


class ApiError(DomainError):
    """An HTTP-level error (malformed body, wrong content type, body too large) with its status."""

    def __init__(self, status: int, message: str, details: tuple[FieldError, ...] = ()) -> None:
        super().__init__(message, details)
        self.status = status


def error_body(message: str, details: tuple[FieldError, ...] | list[dict[str, Any]] = ()) -> dict[str, Any]:
    rendered = [d.as_json() if isinstance(d, FieldError) else d for d in details]
    return {"message": message, "details": rendered}


def error_response(status: int, message: str, details: Any = ()) -> JSONResponse:
    return JSONResponse(error_body(message, details), status_code=status)


_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (ApiError, 0),
    (ValidationFailed, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
    (CorruptConfig, 500),
)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = 400
        for kind, code in _DOMAIN_STATUS:
            if isinstance(exc, kind):
                status = exc.status if isinstance(exc, ApiError) else code
                break
        if status >= 500:
            log.error("%s", exc.message)
        return error_response(status, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details: dict[str, list[str]] = {}
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
            details.setdefault(".".join(loc), []).append(str(error.get("msg")))
        rendered = [{"path": path, "errors": errors} for path, errors in details.items()]
        return error_response(422, "invalid request parameters", rendered)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = error_response(exc.status_code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def _zookeeper_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: ZooKeeper unavailable (%s)", request.method, request.url.path, type(exc).__name__)
        return error_response(503, "ZooKeeper is unavailable; try again shortly")

    # Registered per class (not inside the catch-all below, which Starlette re-raises and logs as a crash).
    for unavailable in (ConnectionLoss, SessionExpiredError, OperationTimeoutError, KazooTimeoutError):
        app.add_exception_handler(unavailable, _zookeeper_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error (this is a bug; the master log has the details)")
