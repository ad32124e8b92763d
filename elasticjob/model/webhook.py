"""Webhooks: URLs a job names that receive a signed JSON POST when one of its runs ends (and, if asked,
when it starts). Pure values and rules: the configuration, what the scheduler tells the history when a run
starts or ends (``RunNotice``), the delivery's deterministic id and the payload.

A job's ``webhooks`` is an extension field of the native job (absent unless a job uses it), at most
``MAX_WEBHOOKS`` entries, each ``{"url", "events", "secret"}``. The URL is http or https with a host (never
``file``: the master itself posts to it); which hosts a deployment allows is ``security.urls.UrlPolicy``'s
to say. The secret signs every delivery (``webhooks.signing``); the API never shows it (``model.masking``).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from elasticjob.model.masking import MASK
from elasticjob.model.queue import iso
from elasticjob.model.run import Run

MAX_WEBHOOKS = 8
MAX_URL_LENGTH = 2048
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 256
WEBHOOK_URL_SCHEMA = {"type": "string", "pattern": r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^?#\s]*)?$",
                      "maxLength": MAX_URL_LENGTH}
WebhookUrl = Annotated[str, WithJsonSchema(WEBHOOK_URL_SCHEMA)]


class WebhookEvent(enum.StrEnum):
    START = "start"  # a run's first launch
    END = "end"  # a run's end: SUCCESS or FAILED

    @property
    def payload_name(self) -> str:
        """The ``event`` field of the payload: ``run.started`` or ``run.ended``."""
        return "run.started" if self is WebhookEvent.START else "run.ended"


def check_webhook_url(value: str) -> str:
    """An ``http://`` or ``https://`` URL with a host; ``ValueError`` otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https (got {parts.scheme or 'none'!r})")
    if not parts.hostname:
        raise ValueError("must name a host")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain white space")
    return value


def shown_url(url: str) -> str:
    """The URL without credentials (``user:password@``), as the delivery log and the logs show it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class Webhook(BaseModel):
    """One webhook of a job: where to POST, on which events, with which signing secret."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    url: WebhookUrl = Field(max_length=MAX_URL_LENGTH)
    events: list[WebhookEvent] = Field(default_factory=lambda: [WebhookEvent.END], min_length=1, max_length=2)
    # MASK (what a read shows) is accepted too: an update that sends it back keeps the stored secret.
    secret: str = Field(max_length=MAX_SECRET_LENGTH)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_webhook_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if value != MASK and len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"must have at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[WebhookEvent]) -> list[WebhookEvent]:
        if len(set(value)) != len(value):
            raise ValueError("must not name an event twice")
        return value


def check_webhooks(hooks: list[Webhook] | None) -> list[Webhook] | None:
    """A job's webhooks: no URL twice (a delivery is identified by its run, event and URL)."""
    if hooks is None:
        return hooks
    urls = [h.url for h in hooks]
    if len(set(urls)) != len(urls):
        raise ValueError("a URL must not be given twice")
    return hooks


@dataclass(frozen=True)
class RunNotice:
    """What the scheduler tells the history when a run of a job with webhooks starts or ends: the history
    turns it into one delivery per URL (``urls``: those of the job's webhooks that asked for ``event``),
    in the transaction that records the run's events, or the next one."""

    job_name: str
    firing_id: str
    event: WebhookEvent
    urls: tuple[str, ...]
    sharding_total: int


def delivery_id(job_name: str, firing_id: str, event: WebhookEvent, url: str) -> str:
    """The id of the delivery of ``event`` of a run to ``url``: the same whoever computes it (a leader after
    a failover included), so a notice told twice makes one delivery, and receivers can de-duplicate
    retries by it (the ``X-ElasticJob-Delivery`` header)."""
    digest = hashlib.sha256(f"{job_name}\0{firing_id}\0{event.value}\0{url}".encode()).hexdigest()
    return digest[:32]


def run_payload(event: WebhookEvent, run: Run, sharding_total: int, delivery: str) -> dict[str, Any]:
    """The JSON a webhook receives: the event, the delivery id, and the run as the runs API shows it
    without its tasks (``status``, ``cause``, ``reason``, times) plus its shard counts: ``total`` (the
    job's ``shardingTotalCount``) and, by the state of each shard's last attempt, ``succeeded``,
    ``failed`` (FAILED, KILLED, LOST; every shard of a MISSED firing) and ``active`` (not ended yet)."""
    last: dict[int | None, str] = {}
    for task in run.tasks:  # in attempt order: the last one per shard wins
        last[task.sharding_item] = task.state
    succeeded = sum(1 for state in last.values() if state == "FINISHED")
    active = sum(1 for state in last.values() if state in ("STAGING", "RUNNING"))
    failed = len(last) - succeeded - active
    if run.status.finished:  # a shard that never ran (a MISSED firing) did not succeed either
        failed = max(failed, sharding_total - succeeded - active)
    return {
        "event": event.payload_name,
        "deliveryId": delivery,
        "jobName": run.job_name,
        "runId": run.run_id,
        "firingId": run.firing_id,
        "cause": run.cause.value,
        "status": run.status.value,
        "reason": run.reason,
        "createdAt": iso(run.created_at),
        "startedAt": iso(run.started_at) if run.started_at else None,
        "finishedAt": iso(run.finished_at) if run.finished_at else None,
        "shards": {
            "total": sharding_total,
            "succeeded": succeeded,
            "failed": failed,
            "active": active,
        },
    }
