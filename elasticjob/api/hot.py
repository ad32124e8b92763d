"""The reads that pollers and consoles repeat most, answered before the framework's routing.

``GET /job/jobs/{jobName}`` and ``GET /job/jobs`` (a page, or the whole list), and their ``/api`` twins, are
what dashboards and scripts poll. Profiled under the ``api`` benchmark, FastAPI's middleware, routing and
dependency solving took about 60 % of such a read's ~430 µs of CPU, and a master's CPU is what its scheduler
needs on time. ``HotReads`` wraps the FastAPI application and answers these two routes with the same calls
as the declared routes of ``native_jobs`` (which stay: the fallback, and the OpenAPI document). It
passes everything else on: other methods and paths, and every request that is not a plain success — an
unknown or invalid job name, paging parameters the parser refuses, anything unexpected — so that errors keep
their one rendering, a JSON body.

``MetricsMiddleware`` wraps it, and counts its answers under the route's template like any other.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from elasticjob.api.auth import job_scope
from elasticjob.api.native_jobs import jobs_page
from elasticjob.api.service import JobService
from elasticjob.model.names import check_name

LIST = "/job/jobs"
ONE_PREFIX = "/job/jobs/"
# What MetricsMiddleware reads from scope["route"]: the declared route's template, by prefix.
ROUTES = {
    prefix: (SimpleNamespace(path=f"{prefix}{LIST}"), SimpleNamespace(path=f"{prefix}{LIST}/{{jobName}}"))
    for prefix in ("", "/api")
}


class HotReads:
    def __init__(self, app: ASGIApp, service: JobService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = self._answer(scope)
            if answer is not None:
                body, headers, route = answer
                scope["route"] = route
                raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                raw.extend((name.lower().encode(), value.encode()) for name, value in headers.items())
                await send({"type": "http.response.start", "status": 200, "headers": raw})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> tuple[bytes, dict[str, str], SimpleNamespace] | None:
        path: str = scope["path"]
        prefix = "/api" if path.startswith("/api/") else ""
        local = path[len(prefix):]
        list_route, one_route = ROUTES[prefix]
        try:
            # A confined user's list is the route's to filter.
            if local == LIST and not job_scope(scope).confined:
                query = scope.get("query_string", b"").decode("latin-1")
                body, headers = jobs_page(self.service, dict(parse_qsl(query, keep_blank_values=True)), path)
                return body, headers, list_route
            if local.startswith(ONE_PREFIX) and "/" not in local[len(ONE_PREFIX):]:
                name = check_name(local[len(ONE_PREFIX):])
                return self.service.job_view(name), {}, one_route
        except Exception:  # noqa: BLE001 - the application answers it, errors included
            return None
        return None
