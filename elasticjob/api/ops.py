"""Operational routes: liveness, leader, Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from elasticjob.api.errors import error_response
from elasticjob.api.metrics import MasterMetrics

LeaderLookup = Callable[[], dict[str, Any] | None]


def ops_router(leader: LeaderLookup, metrics: MasterMetrics) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/ping", response_class=PlainTextResponse)
    async def ping() -> str:
        """Liveness: ``pong`` while the process serves HTTP."""
        return "pong"

    @router.get("/leader", responses={503: {"description": "no leader elected"}})
    async def current_leader() -> JSONResponse:
        """``{"leader": "host:http", "grpc": "host:grpc", "self": bool}``, and ``"warnings": [str, ...]``
        when this master has something to say about its setup (a private history while other masters run);
        503 while no master leads."""
        info = await run_in_threadpool(leader)
        if info is None:
            return error_response(503, "no leader is elected at the moment")
        return JSONResponse(info)

    @router.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        """Prometheus text exposition format."""
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
