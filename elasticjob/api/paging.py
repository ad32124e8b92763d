"""Paged lists of the native API: ``?page=&per_page=`` over name-ordered collections.

Without paging parameters a list is whole, as in Elastic-Job-Cloud, up to ``LIST_CAP`` items: a larger
installation gets the first ``LIST_CAP`` and a ``Link: <...>; rel="next"`` header to page on. Every list
answer carries ``X-Total-Count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.responses import Response

from elasticjob.model import ValidationFailed

LIST_CAP = 10_000
MAX_PER_PAGE = 1_000
DEFAULT_PER_PAGE = 100


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int
    requested: bool  # False: the whole list was asked for (capped at LIST_CAP)

    @property
    def start(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def stop(self) -> int:
        return self.start + self.per_page


def parse_paging(params: Mapping[str, str]) -> Paging:
    """``page`` (>= 1, default 1) and ``per_page`` (1..1000, default 100); neither: the whole list."""
    if "page" not in params and "per_page" not in params:
        return Paging(1, LIST_CAP, False)
    page = _positive(params, "page", 1, 2**31)
    per_page = _positive(params, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return Paging(page, per_page, True)


def _positive(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationFailed.field(name, f"must be an integer from 1 to {maximum}")
    return int(raw)


def list_body(items: list[bytes], total: int, paging: Paging, path: str) -> tuple[bytes, dict[str, str]]:
    """A JSON array of already-encoded items, and its ``X-Total-Count`` and next-page ``Link`` headers."""
    headers = {"X-Total-Count": str(total)}
    if paging.stop < total:
        per_page = paging.per_page if paging.requested else MAX_PER_PAGE
        page = paging.page + 1 if paging.requested else LIST_CAP // MAX_PER_PAGE + 1
        headers["Link"] = f'<{path}?page={page}&per_page={per_page}>; rel="next"'
    return b"[" + b",".join(items) + b"]", headers


def json_list(items: list[bytes], total: int, paging: Paging, path: str) -> Response:
    """``list_body`` as a response."""
    body, headers = list_body(items, total, paging, path)
    return Response(body, media_type="application/json", headers=headers)
