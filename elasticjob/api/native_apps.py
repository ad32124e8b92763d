"""Elastic-Job-Cloud's app API (``/app/...``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from elasticjob.api.auth import job_scope, require_in_scope
from elasticjob.api.bodies import form_model, path_name
from elasticjob.api.openapi import json_body, json_response
from elasticjob.api.paging import json_list, parse_paging
from elasticjob.api.service import JobService
from elasticjob.model import App, NotFound
from elasticjob.model.lenient import APP_FORM


def _no_app(name: str) -> NotFound:
    return NotFound(f"app '{name}' does not exist")


def app_router(service: JobService) -> APIRouter:
    router = APIRouter(prefix="/app", tags=["apps"])

    def _require_its_jobs(request: Request, name: str) -> None:
        """A confined user changes an app for every job that uses it: only when all of them are theirs."""
        if job_scope(request).confined:
            require_in_scope(request, "job", *service.state.jobs_of_app(name))

    @router.post("", status_code=204, openapi_extra=json_body(App))
    async def register(request: Request) -> Response:
        """Register an app; 409 if it exists. Numbers may be JSON strings (``"cpuCount": "0.1"``) and
        booleans ``"true"``/``"false"``, as the original console's form sends them."""
        app = await form_model(request, App, APP_FORM)
        require_in_scope(request, "app", app.appName)
        await run_in_threadpool(service.register_app, app)
        return Response(status_code=204)

    @router.put("", status_code=204, openapi_extra=json_body(App))
    async def update(request: Request) -> Response:
        """Replace an app's configuration; 404 if it does not exist. Bound as leniently as ``POST``."""
        app = await form_model(request, App, APP_FORM)
        require_in_scope(request, "app", app.appName)
        await run_in_threadpool(service.update_app, app)
        return Response(status_code=204)

    @router.get("/list", response_model=None, openapi_extra=json_response("App", many=True))
    async def list_apps(request: Request) -> Response:
        """Registered apps in name order: all (at most 10,000), or one page with ``?page=&per_page=``."""
        paging = parse_paging(request.query_params)
        items, total = service.apps_json(paging.start, paging.stop, job_scope(request))
        return json_list(items, total, paging, request.url.path)

    @router.get("/{appName}", response_model=None, openapi_extra=json_response("App"))
    async def detail(appName: str) -> dict[str, Any]:  # noqa: N803 - the original's path variable
        """One app; 404 if it does not exist."""
        return (await run_in_threadpool(service.app, path_name(appName, _no_app))).model_dump(mode="json")

    @router.delete("/{appName}", status_code=204)
    async def deregister(
        request: Request,
        appName: str,  # noqa: N803
        cascade: bool = Query(False, description="also remove every job of the app"),
    ) -> Response:
        """Remove an app; 409 while jobs use it unless ``?cascade=true``."""
        name = path_name(appName, _no_app)
        _require_its_jobs(request, name)
        await run_in_threadpool(service.deregister_app, name, cascade)
        return Response(status_code=204)

    @router.get("/{appName}/disable")
    async def is_disabled(appName: str) -> bool:  # noqa: N803
        """``true`` if the app is disabled."""
        return await run_in_threadpool(service.app_disabled, path_name(appName, _no_app))

    @router.post("/{appName}/disable", status_code=204)
    async def disable(request: Request, appName: str) -> Response:  # noqa: N803
        """Stop scheduling every job of the app until it is enabled again."""
        name = path_name(appName, _no_app)
        _require_its_jobs(request, name)
        await run_in_threadpool(service.set_app_disabled, name, True)
        return Response(status_code=204)

    async def enable(request: Request, appName: str) -> Response:  # noqa: N803
        """Resume scheduling the app's jobs."""
        name = path_name(appName, _no_app)
        _require_its_jobs(request, name)
        await run_in_threadpool(service.set_app_disabled, name, False)
        return Response(status_code=204)

    router.add_api_route("/{appName}/enable", enable, methods=["POST"], status_code=204)
    # Elastic-Job-Cloud's own verb for it, which its console sends.
    router.add_api_route(
        "/{appName}/disable", enable, methods=["DELETE"], status_code=204,
        summary="Resume scheduling the app's jobs; same as POST /{appName}/enable",
        operation_id="enable_app_by_delete",
    )

    return router
