"""What the client raises: one base class, so that a caller can catch everything the client means."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elasticjob.client.records import Run


class ClientError(Exception):
    """Base of every error ``elasticjob.client`` raises. ``str()`` is what to show a user."""


class ApiError(ClientError):
    """The master answered with an error status.

    ``status``: the HTTP status; ``message``: the server's message; ``details``: its field errors
    (``[{"path": "/run/mem", "errors": ["..."]}]``, empty when it gave none); ``resource_id``: the id a
    Metronome-style 404/409 names (``{"id": "myjob", "message": "Job not found"}``), else None.
    """

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
        resource_id: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.details = details or []
        self.resource_id = resource_id
        super().__init__(str(self))

    def __str__(self) -> str:
        named = self.resource_id is not None and self.resource_id not in self.message
        return f"{self.message}{': ' + str(self.resource_id) if named else ''} (HTTP {self.status})"

    def field_errors(self) -> list[tuple[str, str]]:
        """``(path, message)`` for every field the server complained about (``(body)`` for no path)."""
        found = []
        for detail in self.details:
            errors = detail.get("errors") or []
            found.append((str(detail.get("path") or "(body)"), "; ".join(str(e) for e in errors)))
        return found


class MasterUnreachable(ClientError):
    """No answer from the master at ``url`` (connection refused, DNS, timeout)."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        super().__init__(
            f"cannot reach the master at {url} ({cause}); is it running? Set --url or ELASTICJOB_URL"
        )


class RunTimeout(ClientError, TimeoutError):
    """``wait_for_run`` gave up: the run had not reached SUCCESS or FAILED in time. ``run``: as last seen."""

    def __init__(self, run: Run, timeout: float) -> None:
        self.run = run
        super().__init__(f"run {run.run_id} of job {run.job_name} is still {run.status} after {timeout:g} s")
