"""The App: a tarball at ``appURL`` plus the resources of the executor that runs its jobs."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from elasticjob.model.names import Name

APP_URL_SCHEMES = ("http", "https", "file")
# What check_app_url accepts, for the OpenAPI document (a little narrower: clients generate from it).
APP_URL_SCHEMA = {"type": "string", "pattern": r"^((https?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^?#\s]*)?|file:///[^?#\s]+)?$"}
AppUrl = Annotated[str, WithJsonSchema(APP_URL_SCHEMA)]


def check_app_url(value: str) -> str:
    """Accept only URLs an agent can fetch: ``http://``, ``https://`` with a host, or ``file://``; or ``""``:
    no archive at all (the task's app directory starts empty; its job runs a command of its own).

    Only the shape: which of these a deployment allows (``file`` only with ``--allow-file-urls``, hosts
    with ``--url-hosts``) is ``security.urls.UrlPolicy``'s to say, applied where URLs are written and
    fetched, so a stored job stays readable whatever the flags."""
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in APP_URL_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(APP_URL_SCHEMES)} (got {value!r})")
    if parts.scheme in ("http", "https") and not parts.netloc:
        raise ValueError("must name a host")
    if parts.scheme == "file" and not parts.path:
        raise ValueError("must name a file")
    return value


class App(BaseModel):
    """An application registered through ``POST /app`` (Elastic-Job-Cloud's CloudAppConfiguration)."""

    # allow_inf_nan=False: Infinity, NaN or 1e400 is no resource amount, and JSON cannot store it.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    appName: Name
    appURL: AppUrl
    bootstrapScript: str = Field(min_length=1)
    cpuCount: float = Field(default=1.0, ge=0.001)
    memoryMB: float = Field(default=128.0, ge=1)
    appCacheEnable: bool = True
    eventTraceSamplingCount: int = Field(default=0, ge=0)

    @field_validator("appURL")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_app_url(value)
