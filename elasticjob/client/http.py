"""The client's one HTTP layer: a request, and the master's error answers turned into ``ApiError``."""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from elasticjob.client.errors import ApiError, MasterUnreachable

DEFAULT_URL = "http://127.0.0.1:8899"

Params = Mapping[str, str | Sequence[str]]


def default_url() -> str:
    """The master's URL: ``ELASTICJOB_URL`` if set, else ``DEFAULT_URL``."""
    return os.environ.get("ELASTICJOB_URL") or DEFAULT_URL


def segment(name: str) -> str:
    """``name`` as exactly one URL path segment, so that ``../app/x`` cannot address another resource."""
    if name in {".", ".."}:
        return name.replace(".", "%2E")  # clients would otherwise resolve them as dot-segments
    return quote(name, safe="")


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ApiError(response.status_code, response.text.strip() or response.reason_phrase)
    details = body.get("details")
    found = body.get("id")
    return ApiError(
        response.status_code,
        str(body.get("message") or response.reason_phrase),
        details if isinstance(details, list) else [],
        str(found) if found is not None else None,
    )


class BearerToken(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def credentials(
    token: str | None = None, user: str | None = None, password: str | None = None
) -> httpx.Auth | None:
    """The credentials to send: a bearer ``token``, else ``user`` and ``password`` (HTTP Basic), else those
    of the environment (``ELASTICJOB_TOKEN``, else ``ELASTICJOB_USER`` and ``ELASTICJOB_PASSWORD``), else
    none."""
    token = token or (None if user else os.environ.get("ELASTICJOB_TOKEN"))
    if token:
        return BearerToken(token)
    user = user or os.environ.get("ELASTICJOB_USER")
    if user:
        secret = password if password is not None else os.environ.get("ELASTICJOB_PASSWORD", "")
        return httpx.BasicAuth(user, secret)
    return None


class Transport:
    """Sends requests to one master. Not thread-safe beyond what ``httpx.Client`` is (it is)."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout, auth=auth)

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        text: str | None = None,
        params: Params | None = None,
    ) -> Any:
        """Send a request; return the decoded JSON (``None`` for an empty answer, the text for a non-JSON
        one). Raises ``ApiError`` for a 4xx/5xx answer and ``MasterUnreachable`` when there is none."""
        headers = {}
        content = None
        if text is not None:
            headers["Content-Type"] = "text/plain"
            content = text.encode()
        try:
            response = self._http.request(
                method, path, json=json, content=content, headers=headers, params=params
            )
        except httpx.TransportError as exc:
            raise MasterUnreachable(self.base_url, str(exc) or type(exc).__name__) from None
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def stream_lines(self, path: str, params: Params | None = None) -> Iterator[Any]:
        """GET an NDJSON stream and yield each object as it arrives (blank keep-alive lines skipped).
        Errors as ``call``; the read waits as long as the stream stays open."""
        timeout = httpx.Timeout(self._http.timeout.connect, read=None)
        try:
            with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise MasterUnreachable(self.base_url, str(exc) or type(exc).__name__) from None
