"""The app archive cache: fetch an app's ``appURL`` (http, https, file) into a local file, revalidating.

Layout under ``root``: one directory per URL, named by the SHA-256 of the URL, holding ``archive`` (the
bytes as fetched) and ``meta.json`` (``url``, ``etag``, ``last_modified``, ``size``, ``fetched_at``).
Downloads made with ``use_cache=False`` go to ``root/.fresh/`` under a name of their own.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx

__all__ = ["AppCache", "CacheMeta", "FetchError"]

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_CHUNK = 256 * 1024
ARCHIVE = "archive"
META = "meta.json"
FRESH = ".fresh"


class FetchError(Exception):
    """The archive could not be fetched; the message names the URL (a password in it masked) and the cause
    (HTTP status, timeout, size limit, unsupported scheme, missing file)."""


class _NetworkError(FetchError):
    """The server could not be reached or stopped answering: the one case where a stale copy may serve."""


@dataclass(frozen=True)
class CacheMeta:
    """What is known about a cached archive. For ``file://`` URLs ``etag`` is derived from the file's
    size, mtime and inode, and ``last_modified`` from its mtime."""

    url: str
    etag: str | None
    last_modified: str | None
    size: int
    fetched_at: float


class AppCache:
    """Fetches app archives into ``root``, keeping one revalidated copy per URL.

    ``timeout`` bounds connecting and each read (seconds); ``total_timeout``, if set, bounds a whole
    download. ``max_download_bytes`` caps every archive, checked against ``Content-Length`` before the
    body is read and again while it streams (for ``file://``: against the size, and while copying).

    Thread-safe: fetches of the same URL are serialised by a lock per URL, fetches of different URLs run
    in parallel. A file is only ever published by an atomic rename, so a path returned earlier stays a
    complete archive; a later fetch of the same URL may replace it with a newer one, so unpack it promptly
    (an open file keeps its content). Not safe for two processes sharing one ``root``.
    """

    def __init__(self, root: Path, *, timeout: float = 30.0, max_download_bytes: int = 512 * MIB,
                 total_timeout: float | None = None) -> None:
        if timeout <= 0 or max_download_bytes <= 0:
            raise ValueError("timeout and max_download_bytes must be positive")
        self.root = root
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_download_bytes = max_download_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def fetch(self, url: str, use_cache: bool = True) -> Path:
        """Return a local path holding the archive at ``url``.

        ``use_cache=True`` (the app's ``appCacheEnable``): a cached copy is revalidated with
        ``If-None-Match``/``If-Modified-Since`` and reused on 304, replaced on 200 (a server that sends
        neither ETag nor Last-Modified gets an unconditional GET, so every fetch downloads). If the
        revalidation fails with a *network* error — connection refused or reset, DNS failure, timeout —
        the cached copy is returned and a warning logged: the agent can still run jobs while the
        artifact server is down. Any HTTP error status (404, 500, ...) raises instead: the server
        answered, and a stale copy of something it no longer serves must not run silently.

        ``use_cache=False``: always a fresh download (or copy, for ``file://``) into a path of this call
        alone under ``root/.fresh``, which the caller should delete when done; the cache is not touched.

        ``file://`` URLs (host empty or ``localhost``) are copied, never returned as is, so the caller
        may always delete or keep the returned path and a change to the source cannot alter a running
        app; the cached copy is reused while the source's size, mtime and inode are unchanged.

        Raises ``FetchError`` for an unsupported scheme, an HTTP status other than 200 (or 304 to a
        conditional request), a timeout or connection failure (without a cached copy to fall back on),
        an archive over ``max_download_bytes``, or a missing/unreadable local file.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "file"):
            raise FetchError(f"{_shown(url)}: unsupported URL scheme {scheme or '(none)'!r}; "
                             "use http, https or file")
        key = hashlib.sha256(url.encode()).hexdigest()
        if not use_cache:
            fresh_dir = self.root / FRESH
            fresh_dir.mkdir(parents=True, exist_ok=True)
            target = fresh_dir / f"{key[:16]}-{uuid.uuid4().hex}"
            if scheme == "file":
                self._copy_local(url, _local_path(url), target)
            else:
                self._download(url, target, None)
            return target
        with self._lock_for(key):
            entry = self.root / key
            entry.mkdir(parents=True, exist_ok=True)
            os.utime(entry)  # "last used": the agent's cache GC removes entries idle for a long time
            cached = _load_meta(entry, url)
            if scheme == "file":
                return self._fetch_local_cached(url, entry, cached)
            return self._fetch_http_cached(url, entry, cached)

    # --- http ------------------------------------------------------------------------------------------

    def _fetch_http_cached(self, url: str, entry: Path, cached: CacheMeta | None) -> Path:
        archive = entry / ARCHIVE
        part = entry / f".part-{uuid.uuid4().hex}"
        try:
            meta = self._download(url, part, cached)
        except _NetworkError as exc:
            if cached is None:
                raise
            log.warning("event=app_fetch_stale url=%s fetched_at=%.0f error=%s: using the cached copy",
                        _shown(url), cached.fetched_at, exc)
            return archive
        if meta is None:  # 304 Not Modified
            assert cached is not None
            os.utime(entry)  # a revalidated entry counts as recently used for garbage collection
            log.info("event=app_fetch_not_modified url=%s", _shown(url))
            return archive
        os.replace(part, archive)
        _store_meta(entry, meta)
        log.info("event=app_fetched url=%s size=%d", _shown(url), meta.size)
        return archive

    def _download(self, url: str, target: Path, cached: CacheMeta | None) -> CacheMeta | None:
        """GET ``url`` into ``target`` (conditionally if ``cached``); None for 304. ``target`` is removed on
        any failure."""
        headers = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        deadline = None if self.total_timeout is None else time.monotonic() + self.total_timeout
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True) as client, \
                    client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and headers:
                    return None
                if response.status_code != 200:
                    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                    raise FetchError(f"GET {_shown(url)}: {status}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_download_bytes:
                    raise FetchError(f"GET {_shown(url)}: archive too large: Content-Length {declared} "
                                     f"bytes, limit {self.max_download_bytes} bytes")
                with target.open("wb") as out:
                    size = self._copy_limited(url, response.iter_bytes(), out, deadline)
                return CacheMeta(url, response.headers.get("etag"), response.headers.get("last-modified"),
                                 size, time.time())
        except BaseException as exc:
            target.unlink(missing_ok=True)
            if isinstance(exc, httpx.TimeoutException):
                raise _NetworkError(f"GET {_shown(url)}: timed out ({type(exc).__name__}, timeout "
                                    f"{self.timeout:g} s)") from exc
            if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
                raise _NetworkError(f"GET {_shown(url)}: {type(exc).__name__}: {exc}") from exc
            if isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
                raise FetchError(f"GET {_shown(url)}: {type(exc).__name__}: {exc}") from exc
            raise

    def _copy_limited(self, url: str, chunks: Iterable[bytes], out: IO[bytes], deadline: float | None) -> int:
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_download_bytes:
                raise FetchError(f"{_shown(url)}: archive too large: more than {self.max_download_bytes} "
                                 "bytes")
            if deadline is not None and time.monotonic() > deadline:
                raise _NetworkError(f"{_shown(url)}: download took longer than {self.total_timeout:g} s")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
        return size

    # --- file:// ---------------------------------------------------------------------------------------

    def _fetch_local_cached(self, url: str, entry: Path, cached: CacheMeta | None) -> Path:
        source = _local_path(url)
        validator = _file_validator(url, source)
        archive = entry / ARCHIVE
        if cached is not None and cached.etag == validator:
            os.utime(entry)
            return archive
        part = entry / f".part-{uuid.uuid4().hex}"
        meta = self._copy_local(url, source, part)
        os.replace(part, archive)
        _store_meta(entry, meta)
        return archive

    def _copy_local(self, url: str, source: Path, target: Path) -> CacheMeta:
        validator = _file_validator(url, source)
        stat = source.stat()
        if stat.st_size > self.max_download_bytes:
            raise FetchError(f"{_shown(url)}: archive too large: {stat.st_size} bytes, limit "
                             f"{self.max_download_bytes} bytes")
        try:
            with source.open("rb") as src, target.open("wb") as out:
                size = self._copy_limited(url, iter(lambda: src.read(_CHUNK), b""), out, None)
        except BaseException as exc:
            target.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise FetchError(f"{_shown(url)}: cannot read {source}: {exc.strerror or exc}") from exc
            raise
        modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        return CacheMeta(url, validator, modified, size, time.time())

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())


def _shown(url: str) -> str:
    """``url`` for messages and logs: a password in it (``https://user:secret@host/``) is masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


def _local_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"{_shown(url)}: file URLs must name a local file (host {parts.netloc!r} is not "
                         "supported)")
    if not parts.path:
        raise FetchError(f"{_shown(url)}: no file named")
    return Path(unquote(parts.path))


def _file_validator(url: str, source: Path) -> str:
    try:
        stat = source.stat()
    except FileNotFoundError:
        raise FetchError(f"{_shown(url)}: no such file {source}") from None
    except OSError as exc:
        raise FetchError(f"{_shown(url)}: cannot read {source}: {exc.strerror or exc}") from exc
    if not source.is_file():
        raise FetchError(f"{_shown(url)}: {source} is not a regular file")
    return f"file:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ino}"


def _load_meta(entry: Path, url: str) -> CacheMeta | None:
    """The entry's metadata if it is complete and matches its archive, else None (treated as not cached)."""
    try:
        raw = json.loads((entry / META).read_text())
        meta = CacheMeta(url=raw["url"], etag=raw.get("etag"), last_modified=raw.get("last_modified"),
                         size=int(raw["size"]), fetched_at=float(raw["fetched_at"]))
        if meta.url != url or (entry / ARCHIVE).stat().st_size != meta.size:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def _store_meta(entry: Path, meta: CacheMeta) -> None:
    """Write meta.json atomically, after the archive it describes: a crash in between leaves the old
    metadata, whose size or validators no longer match, so at worst the next fetch downloads again."""
    part = entry / f".{META}.{uuid.uuid4().hex}"
    part.write_text(json.dumps(asdict(meta), sort_keys=True))
    os.replace(part, entry / META)

