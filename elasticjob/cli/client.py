"""A small HTTP client of the native API, used by the CLI (and handy in scripts)."""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8899"


class ApiCallFailed(Exception):
    """The master answered with an error, or could not be reached. ``str()`` is what to show a user."""

    def __init__(self, message: str, status: int | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.details = details or []


class ApiClient:
    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        text: str | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Send a request; return the decoded JSON (``None`` for 204). Raise ``ApiCallFailed`` on errors."""
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
            raise ApiCallFailed(
                f"cannot reach the master at {self.base_url} ({exc}); is it running? "
                "Set --url or ELASTICJOB_URL"
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or response.text
                details = body.get("details") or []
            except ValueError:
                message, details = response.text or response.reason_phrase, []
            raise ApiCallFailed(f"{message} (HTTP {response.status_code})", response.status_code, details)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text
