"""The app archive cache: fetch an app's ``appURL`` (http, https, file) into a local file, revalidating.

Layout under ``root``: one directory per URL, named by the SHA-256 of the URL, holding ``archive`` (the
bytes as fetched) and ``meta.json`` (``url``, ``etag``, ``last_modified``, ``size``, ``fetched_at``,
``sha256`` of the archive). Downloads made with ``use_cache=False`` go to ``root/.fresh/`` under a name of
their own.

A URL is revalidated at most once per ``revalidate_seconds`` (0: at every fetch) and whenever a fetch names
an app version other than the one last seen for it; in between, a fetch is answered from memory without
touching the disk or the network.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.cookiejar
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx

from elasticjob.agent.flight import Flight, SingleFlight
from elasticjob.agent.gc import collect
from elasticjob.security.urls import DEFAULT, UrlPolicy, UrlRefused

__all__ = ["AppCache", "CacheMeta", "CachedArchive", "FetchError", "shown_url"]

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
    sha256: str = ""


@dataclass(frozen=True)
class CachedArchive:
    """A fetched archive: where it is and the SHA-256 of its content (which names its unpacked copy)."""

    path: Path
    sha256: str


@dataclass
class _Validated:
    """What the last revalidation of a URL found: valid from ``started`` (when it began, by the cache's
    clock) for ``revalidate_seconds``, for app version ``version``. ``last_used``: when it last answered a
    fetch (the garbage collector keeps entries in use)."""

    archive: CachedArchive
    started: float
    version: str
    last_used: float


class AppCache:
    """Fetches app archives into ``root``, keeping one revalidated copy per URL.

    ``timeout`` bounds connecting and each read (seconds); ``total_timeout``, if set, bounds a whole
    download. ``max_download_bytes`` caps every archive, checked against ``Content-Length`` before the
    body is read and again while it streams (for ``file://``: against the size, and while copying).
    ``revalidate_seconds``: how long a revalidation answers later fetches of the same URL (0: every fetch
    revalidates), by ``clock`` (seconds, default ``time.monotonic``). ``url_policy``: the schemes and hosts
    this agent fetches from (``security.urls``; default http and https from any host), checked before
    every fetch and every request of it, redirects included; a cached copy of a URL the policy refuses is
    never served.

    All requests go through one ``httpx.Client`` (connection pool, TLS context built once), which httpx
    allows threads to share; it keeps no cookies. Thread-safe: concurrent fetches of one URL share one
    revalidation or download (single flight), fetches of different URLs run in parallel. A file is only
    ever published by an atomic rename, so a path returned earlier stays a complete archive; a later fetch
    of the same URL may replace it with a newer one, so unpack it promptly (an open file keeps its
    content). Not safe for two processes sharing one ``root``.
    """

    def __init__(self, root: Path, *, timeout: float = 30.0, max_download_bytes: int = 512 * MIB,
                 total_timeout: float | None = None, revalidate_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, url_policy: UrlPolicy = DEFAULT) -> None:
        if timeout <= 0 or max_download_bytes <= 0:
            raise ValueError("timeout and max_download_bytes must be positive")
        if revalidate_seconds < 0:
            raise ValueError("revalidate_seconds must not be negative")
        self.root = root
        # Downloaded archives are this user's alone (they may hold an app's secrets).
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_download_bytes = max_download_bytes
        self.revalidate_seconds = revalidate_seconds
        self.url_policy = url_policy
        self._clock = clock
        self._flights: SingleFlight[str, CachedArchive] = SingleFlight(clock)
        self._validated: dict[str, _Validated] = {}
        self._guard = threading.Lock()
        self._client: httpx.Client | None = None

    def close(self) -> None:
        """Close the HTTP client's connections (a later fetch opens new ones)."""
        with self._guard:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def fetch(self, url: str, use_cache: bool = True) -> Path:
        """``fetch_app(url, use_cache).path``."""
        return self.fetch_app(url, use_cache).path

    def fetch_app(self, url: str, use_cache: bool = True, version: str = "") -> CachedArchive:
        """Return a local copy of the archive at ``url`` and the SHA-256 of its content.

        ``version`` is the app version the launch was made for (empty: unknown). A cached URL is
        revalidated when its last revalidation began more than ``revalidate_seconds`` before this call
        (with 0: when it began before this call), or when ``version`` is set and differs from the version
        that revalidation was made for; otherwise the answer comes from memory. Callers arriving while a
        revalidation is in the air wait for it and share its outcome — a failure included — if it is
        recent enough for them by the same rule.

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
        self._check_policy(url)
        key = hashlib.sha256(url.encode()).hexdigest()
        if not use_cache:
            fresh_dir = self.root / FRESH
            fresh_dir.mkdir(parents=True, exist_ok=True)
            target = fresh_dir / f"{key[:16]}-{uuid.uuid4().hex}"
            if scheme == "file":
                meta = self._copy_local(url, _local_path(url), target)
            else:
                fetched = self._download(url, target, None)
                assert fetched is not None
                meta = fetched
            return CachedArchive(target, meta.sha256)
        arrival = self._clock()
        while True:
            with self._guard:
                known = self._validated.get(key)
                if known is not None and self._recent_enough(known.started, known.version, arrival, version):
                    known.last_used = arrival
                    return known.archive
            flight, leading = self._flights.join_or_lead(key, version or (known.version if known else ""))
            if leading:
                return self._lead(url, key, flight)
            try:
                archive = flight.wait()
            except Exception:
                if self._recent_enough(flight.started, flight.tag, arrival, version):
                    raise
                continue
            if self._recent_enough(flight.started, flight.tag, arrival, version):
                return archive

    def collect(self, *, max_age_seconds: float, max_total_bytes: int) -> list[str]:
        """Garbage-collect cache entries (``gc.collect``), never one in use: being fetched, or used by a
        fetch within ``max_age_seconds``. Returns the names removed; a later fetch of their URL downloads
        again."""
        now = self._clock()
        with self._guard:
            keep = {FRESH, *self._flights.keys()}
            keep.update(k for k, v in self._validated.items() if now - v.last_used <= max_age_seconds)
            removed = collect(self.root, max_age_seconds=max_age_seconds, max_total_bytes=max_total_bytes,
                              keep=keep)
            for name in removed:
                self._validated.pop(name, None)
        return removed

    def _recent_enough(self, started: float, made_for: str, arrival: float, version: str) -> bool:
        if version and version != made_for:
            return False
        return started >= arrival - self.revalidate_seconds

    def _lead(self, url: str, key: str, flight: Flight[CachedArchive]) -> CachedArchive:
        with self._guard:
            pass  # a collection in progress ends before this flight touches its entry; later ones keep it
        try:
            entry = self.root / key
            entry.mkdir(parents=True, exist_ok=True)
            os.utime(entry)  # "last used": the agent's cache GC removes entries idle for a long time
            cached = _load_meta(entry, url)
            if urlsplit(url).scheme.lower() == "file":
                meta = self._fetch_local_cached(url, entry, cached)
            else:
                meta = self._fetch_http_cached(url, entry, cached)
        except BaseException as exc:
            self._flights.finish(key, flight, error=exc)
            raise
        archive = CachedArchive(entry / ARCHIVE, meta.sha256)
        with self._guard:
            self._validated[key] = _Validated(archive, flight.started, flight.tag, self._clock())
        self._flights.finish(key, flight, archive)
        return archive

    def _http(self) -> httpx.Client:
        with self._guard:
            if self._client is None:
                # One client for every request: building a TLS context per request cost milliseconds each.
                no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
                self._client = httpx.Client(timeout=self.timeout, follow_redirects=True, cookies=no_cookies,
                                            event_hooks={"request": [self._check_request]})
            return self._client

    def _check_policy(self, url: str) -> None:
        try:
            self.url_policy.check(url)
        except UrlRefused as exc:
            raise FetchError(f"{_shown(url)}: {exc}") from None

    def _check_request(self, request: httpx.Request) -> None:
        """Every request the client sends, a redirect's too: an allowed host must not lead elsewhere."""
        self._check_policy(str(request.url))

    # --- http ------------------------------------------------------------------------------------------

    def _fetch_http_cached(self, url: str, entry: Path, cached: CacheMeta | None) -> CacheMeta:
        archive = entry / ARCHIVE
        part = entry / f".part-{uuid.uuid4().hex}"
        try:
            meta = self._download(url, part, cached)
        except _NetworkError as exc:
            if cached is None:
                raise
            log.warning("event=app_fetch_stale url=%s fetched_at=%.0f error=%s: using the cached copy",
                        _shown(url), cached.fetched_at, exc)
            return cached
        if meta is None:  # 304 Not Modified
            assert cached is not None
            log.info("event=app_fetch_not_modified url=%s", _shown(url))
            return cached
        os.replace(part, archive)
        _store_meta(entry, meta)
        log.info("event=app_fetched url=%s size=%d", _shown(url), meta.size)
        return meta

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
            with self._http().stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and headers:
                    return None
                if response.status_code != 200:
                    status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                    raise FetchError(f"GET {_shown(url)}: {status}")
                declared = response.headers.get("content-length", "")
                if declared.isascii() and declared.isdigit() and int(declared) > self.max_download_bytes:
                    raise FetchError(f"GET {_shown(url)}: archive too large: Content-Length {declared} "
                                     f"bytes, limit {self.max_download_bytes} bytes")
                with target.open("wb") as out:
                    size, digest = self._copy_limited(url, response.iter_bytes(), out, deadline)
                return CacheMeta(url, response.headers.get("etag"), response.headers.get("last-modified"),
                                 size, time.time(), digest)
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

    def _copy_limited(self, url: str, chunks: Iterable[bytes], out: IO[bytes],
                      deadline: float | None) -> tuple[int, str]:
        """Copy ``chunks`` to ``out`` within the size limit and ``deadline``; (size, SHA-256)."""
        size = 0
        digest = hashlib.sha256()
        for chunk in chunks:
            size += len(chunk)
            digest.update(chunk)
            if size > self.max_download_bytes:
                raise FetchError(f"{_shown(url)}: archive too large: more than {self.max_download_bytes} "
                                 "bytes")
            if deadline is not None and time.monotonic() > deadline:
                raise _NetworkError(f"{_shown(url)}: download took longer than {self.total_timeout:g} s")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
        return size, digest.hexdigest()

    # --- file:// ---------------------------------------------------------------------------------------

    def _fetch_local_cached(self, url: str, entry: Path, cached: CacheMeta | None) -> CacheMeta:
        source = _local_path(url)
        validator = _file_validator(url, source)
        if cached is not None and cached.etag == validator:
            return cached
        part = entry / f".part-{uuid.uuid4().hex}"
        meta = self._copy_local(url, source, part)
        os.replace(part, entry / ARCHIVE)
        _store_meta(entry, meta)
        return meta

    def _copy_local(self, url: str, source: Path, target: Path) -> CacheMeta:
        validator = _file_validator(url, source)
        stat = source.stat()
        if stat.st_size > self.max_download_bytes:
            raise FetchError(f"{_shown(url)}: archive too large: {stat.st_size} bytes, limit "
                             f"{self.max_download_bytes} bytes")
        try:
            with source.open("rb") as src, target.open("wb") as out:
                size, digest = self._copy_limited(url, iter(lambda: src.read(_CHUNK), b""), out, None)
        except BaseException as exc:
            target.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise FetchError(f"{_shown(url)}: cannot read {source}: {exc.strerror or exc}") from exc
            raise
        modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        return CacheMeta(url, validator, modified, size, time.time(), digest)


def _shown(url: str) -> str:
    """``url`` for messages and logs: a password in it (``https://user:secret@host/``) is masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


shown_url = _shown  # for messages of other modules that name a URL the cache fetches


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
    """The entry's metadata if it is complete and matches its archive, else None (treated as not cached).
    Metadata written before digests were recorded gets the archive's SHA-256 added."""
    try:
        raw = json.loads((entry / META).read_text())
        meta = CacheMeta(url=raw["url"], etag=raw.get("etag"), last_modified=raw.get("last_modified"),
                         size=int(raw["size"]), fetched_at=float(raw["fetched_at"]),
                         sha256=raw.get("sha256", ""))
        if meta.url != url or (entry / ARCHIVE).stat().st_size != meta.size:
            return None
        if not meta.sha256:
            with (entry / ARCHIVE).open("rb") as archive:
                digest = hashlib.file_digest(archive, "sha256").hexdigest()
            meta = CacheMeta(**{**asdict(meta), "sha256": digest})
            _store_meta(entry, meta)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def _store_meta(entry: Path, meta: CacheMeta) -> None:
    """Write meta.json atomically, after the archive it describes: a crash in between leaves the old
    metadata, whose size or validators no longer match, so at worst the next fetch downloads again."""
    part = entry / f".{META}.{uuid.uuid4().hex}"
    part.write_text(json.dumps(asdict(meta), sort_keys=True))
    os.replace(part, entry / META)

