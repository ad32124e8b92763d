"""Assemble the master's ASGI application from the routers, served at ``/`` and under ``/api``.

    MetricsMiddleware -> AuthMiddleware -> HotReads -> FastAPI (its error handlers, BodyLimitMiddleware,
    the routers)

``AuthMiddleware`` checks who asks and whether their role allows it (``api.auth``), before anything answers.

``HotReads`` answers the most repeated reads before FastAPI's own middleware and routing (see ``hot``);
what it passes on, the application answers. Metrics count both alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from elasticjob import __version__
from elasticjob.api.auth import AuthMiddleware, auth_router
from elasticjob.api.bodies import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from elasticjob.api.errors import install_error_handlers
from elasticjob.api.hot import HotReads
from elasticjob.api.metrics import MasterMetrics, MetricsMiddleware
from elasticjob.api.native_apps import app_router
from elasticjob.api.native_jobs import job_router
from elasticjob.api.openapi import install_openapi
from elasticjob.api.ops import LeaderLookup, ops_router
from elasticjob.api.service import JobService
from elasticjob.api.webhooks import WebhookDelivery
from elasticjob.console import install_console
from elasticjob.model import App, Job, ManualRun
from elasticjob.model.metronome import JobSpec, ScheduleSpec
from elasticjob.security.authenticator import Authenticator


def create_app(
    service: JobService,
    leader: LeaderLookup,
    metrics: MasterMetrics,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    runtime: APIRouter | None = None,
    metronome: APIRouter | None = None,
    cluster: APIRouter | None = None,
    authenticator: Authenticator | None = None,
    dialects: Sequence[APIRouter] = (),
) -> ASGIApp:
    app = FastAPI(
        title="ElasticJob",
        version=__version__,
        description="Native (Elastic-Job-Cloud) API of an ElasticJob master. Every route is also under /api.",
    )
    install_error_handlers(app)
    for prefix, documented in (("", True), ("/api", False)):
        app.include_router(job_router(service), prefix=prefix, include_in_schema=documented)
        app.include_router(app_router(service), prefix=prefix, include_in_schema=documented)
        if runtime is not None:
            app.include_router(runtime, prefix=prefix, include_in_schema=documented)
        if cluster is not None:
            app.include_router(cluster, prefix=prefix, include_in_schema=documented)
    if metronome is not None:
        app.include_router(metronome)
    for dialect in dialects:  # the hosted services' APIs (``regions``)
        app.include_router(dialect)
    app.include_router(ops_router(leader, metrics))
    app.include_router(auth_router(authenticator))
    install_console(app)
    install_openapi(app, [Job, App, ManualRun, JobSpec, ScheduleSpec, WebhookDelivery])
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    return MetricsMiddleware(AuthMiddleware(HotReads(app, service), authenticator), metrics)
