"""Paged lists of the native API: ``?page=&per_page=`` over name-ordered collections.

Without paging parameters a list is whole, as in Elastic-Job-Cloud, up to ``LIST_CAP`` items: a larger
installation gets the first ``LIST_CAP`` and a ``Link: <...>; rel="next"`` header to page on. Every list
answer carries ``X-Total-Count``. ``envelope`` is the hosted dialects' form of a page: an object with
``count``, ``next``, ``previous`` and ``results``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response

from elasticjob.model import ValidationFailed

LIST_CAP = 10_000
MAX_PER_PAGE = 1_000
DEFAULT_PER_PAGE = 100
MAX_PAGE = 2**31  # page x per_page stays within a 64-bit SQL integer


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
    page = whole(params.get("page"), "page", 1, 1, MAX_PAGE, blank=False)
    per_page = whole(params.get("per_page"), "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE, blank=False)
    return Paging(page, per_page, True)


def whole(raw: str | None, name: str, default: int, low: int, high: int, *, blank: bool = True) -> int:
    """The query parameter ``name`` (``raw``: its text, ``None`` when absent) as a whole number from
    ``low`` to ``high``, ``default`` when absent (or empty, with ``blank``). Only ASCII digits:
    ``"²".isdigit()`` holds, but ``int("²")`` raises."""
    if raw is None or (blank and raw == ""):
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationFailed.field(name, f"must be a whole number from {low} to {high}")
    return int(raw)


def list_body(items: list[bytes], total: int, paging: Paging, path: str,
              query: str = "") -> tuple[bytes, dict[str, str]]:
    """A JSON array of already-encoded items, and its ``X-Total-Count`` and next-page ``Link`` headers
    (``query``: the filters the next page keeps, already encoded, e.g. ``namespace=a``)."""
    headers = {"X-Total-Count": str(total)}
    if paging.stop < total:
        per_page = paging.per_page if paging.requested else MAX_PER_PAGE
        page = paging.page + 1 if paging.requested else LIST_CAP // MAX_PER_PAGE + 1
        kept = f"{query}&" if query else ""
        headers["Link"] = f'<{path}?{kept}page={page}&per_page={per_page}>; rel="next"'
    return b"[" + b",".join(items) + b"]", headers


def json_list(items: list[bytes], total: int, paging: Paging, path: str) -> Response:
    """``list_body`` as a response."""
    body, headers = list_body(items, total, paging, path)
    return Response(body, media_type="application/json", headers=headers)


def envelope(
    results: list[Any],
    count: int,
    page: int,
    page_size: int,
    url: str,
    query: Sequence[tuple[str, str]] = (),
    page_param: str = "page",
) -> dict[str, Any]:
    """The paginated answer of the hosted dialects: ``{"count", "next", "previous", "results"}`` (Django
    REST framework's page-number form). Pure.

    ``results`` is page ``page`` (from 1) of ``page_size`` items out of ``count``; ``url`` is the list's URL
    without a query (absolute, as the dialects answer) and ``query`` the request's parameters, kept in
    order in ``next`` and ``previous`` with ``page_param`` replaced. ``next`` is None on the last page (or
    beyond it); ``previous`` is None on the first page, names the URL without ``page_param`` for the first
    page (as Django REST framework does), and the last page from beyond the end.
    """
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1")
    pages = max(1, -(-count // page_size))
    kept = [(name, value) for name, value in query if name != page_param]

    def link(number: int) -> str:
        params = kept if number == 1 else [*kept, (page_param, str(number))]
        return f"{url}?{urlencode(params)}" if params else url

    return {
        "count": count,
        "next": link(page + 1) if page < pages else None,
        "previous": link(min(page - 1, pages)) if page > 1 else None,
        "results": results,
    }
