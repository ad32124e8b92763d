"""A read-only view of one znode of the installation, for the registry browser.

``describe`` reads the one znode asked for (its data and stat) and the names of its children: two
ZooKeeper reads per request, whatever the installation's size, and only under the installation's root
(``/<namespace>``): other trees on the same ZooKeeper are not shown. A job's configuration znode is shown
with its secret environment values masked (``model.secrets``). Pure helpers (``resolve``,
``render_data``, ``page_children``) do the checking and shaping.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import posixpath
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from elasticjob.model import NotFound, ValidationFailed
from elasticjob.model.masking import masked
from elasticjob.registry.layout import Layout

MAX_CHILDREN_PAGE = 1_000
DEFAULT_CHILDREN_PAGE = 200


def resolve(layout: Layout, path: str) -> str:
    """The absolute znode path of ``path`` (absolute, or relative to the installation's root), refusing
    anything outside the root. Raises ``ValidationFailed`` (field ``path``)."""
    if not path or path == "/":
        return layout.root
    if "\x00" in path or len(path) > 4096:
        raise ValidationFailed.field("path", "is not a znode path")
    inside = path == layout.root or path.startswith(layout.root + "/")
    absolute = path if inside else f"{layout.root}/{path.lstrip('/')}"
    normal = posixpath.normpath(absolute)
    if normal != absolute.rstrip("/") or not (normal == layout.root or normal.startswith(layout.root + "/")):
        raise ValidationFailed.field("path", f"must name a znode under {layout.root}, without '.' or '..'")
    return normal


def render_data(data: bytes) -> tuple[str, Any]:
    """``(format, value)``: ``("empty", None)``, ``("json", parsed)``, ``("text", str)`` or
    ``("base64", str)``."""
    if not data:
        return "empty", None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(data).decode("ascii")
    try:
        return "json", json.loads(text)
    except ValueError:
        return "text", text


def page_children(names: list[str], start: int, size: int) -> tuple[list[str], int]:
    """The sorted children names at ``[start:start+size]`` and how many there are."""
    ordered = sorted(names)
    return ordered[start:start + size], len(ordered)


def _iso(millis: int) -> str:
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def describe(client: KazooClient, layout: Layout, path: str, start: int = 0,
             size: int = DEFAULT_CHILDREN_PAGE) -> dict[str, Any]:
    """One znode: ``path``, ``parent`` (None at the root), ``format`` and ``data``, ``version``, ``ctime``
    and ``mtime`` (ISO 8601 UTC), ``ephemeral``, ``dataLength``, ``numChildren`` and a page of
    ``children`` (names, sorted) from ``start``. ``NotFound`` if it does not exist."""
    absolute = resolve(layout, path)
    try:
        data, stat = client.get(absolute)
        children = client.get_children(absolute)
    except NoNodeError:
        raise NotFound(f"znode '{absolute}' does not exist") from None
    form, value = render_data(data or b"")
    if form == "json" and isinstance(value, dict) and posixpath.dirname(absolute) == layout.jobs:
        value = masked(value)  # a job's secrets are write-only, here too
    names, total = page_children(children, start, size)
    return {
        "path": absolute,
        "parent": None if absolute == layout.root else posixpath.dirname(absolute),
        "format": form,
        "data": value,
        "version": stat.version,
        "ctime": _iso(stat.ctime),
        "mtime": _iso(stat.mtime),
        "ephemeral": bool(stat.ephemeralOwner),
        "dataLength": stat.dataLength,
        "numChildren": total,
        "children": names,
        "from": start,
    }
