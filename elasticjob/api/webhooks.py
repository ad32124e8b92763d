"""The webhook delivery log: ``GET /job/jobs/{jobName}/webhooks/deliveries``, newest first, paged like the
other lists (``paging.py``: a JSON array, ``X-Total-Count``, ``Link`` to the next page). The deliveries are
in the leader's history store, so a follower forwards the read to the leader."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from elasticjob.api.bodies import path_name
from elasticjob.api.openapi import json_response
from elasticjob.api.paging import json_list, parse_paging
from elasticjob.history.deliveries import DeliveryStore
from elasticjob.model import NotFound


class WebhookDelivery(BaseModel):
    """One delivery of the log (the OpenAPI document's shape of ``Delivery.to_json``)."""

    id: str
    event: str  # run.started | run.ended
    runId: str
    firingId: str
    url: str  # without credentials
    status: str  # PENDING | DELIVERED | FAILED
    attempts: int
    lastStatus: int | None
    lastError: str
    nextAttemptAt: str | None
    deliveredAt: str | None
    createdAt: str
    updatedAt: str


def _no_job(name: str) -> NotFound:
    return NotFound(f"job '{name}' does not exist")


def add_webhook_routes(
    router: APIRouter,
    forward: Callable[[Request], Awaitable[Response | None]],
    deliveries: DeliveryStore,
    job_exists: Callable[[str], bool],
) -> None:
    @router.get("/jobs/{jobName}/webhooks/deliveries", response_model=None,
                openapi_extra=json_response("WebhookDelivery", many=True))
    async def webhook_deliveries(request: Request, jobName: str) -> Response:  # noqa: N803
        """The job's webhook deliveries, newest first: each one's ``id`` (the ``X-ElasticJob-Delivery``
        header), ``event``, ``runId``, ``url`` (without credentials), ``status`` (PENDING | DELIVERED |
        FAILED), ``attempts``, ``lastStatus`` and ``lastError`` of the last attempt, ``nextAttemptAt``,
        ``deliveredAt``. All of them (at most 10,000), or a page with ``?page=&per_page=``; 404 for a job
        that neither exists nor has deliveries."""
        forwarded = await forward(request)
        if forwarded is not None:
            return forwarded
        name = path_name(jobName, _no_job)
        paging = parse_paging(request.query_params)
        total, rows = await run_in_threadpool(deliveries.deliveries, name, paging.start, paging.per_page)
        if not total and not job_exists(name):
            raise _no_job(name)
        items = [json.dumps(row.to_json(), separators=(",", ":")).encode() for row in rows]
        return json_list(items, total, paging, request.url.path)
