"""``AppCache`` against a real HTTP server on 127.0.0.1: ETag/Last-Modified and 304, errors, slow and huge
bodies, ``file://`` and refused schemes, revalidation periods, app versions, single flight and GC."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from elasticjob.agent.fetch import AppCache, CachedArchive, FetchError
from elasticjob.security.urls import PERMISSIVE, UrlPolicy

MIB = 1024 * 1024


@dataclass
class Resource:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Seen:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    body_bytes: int  # for answers with a fixed body


@dataclass
class ArtifactServer:
    """What the handler serves, and a record of every request it answered."""

    resources: dict[str, Resource] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def requests_for(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]


def make_handler(state: ArtifactServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            status, body, headers = self.answer(inm, ims)
            # Recorded before answering: once the client has its answer, the test may look at the record.
            with state.lock:
                state.seen.append(Seen(self.path, inm, ims, status, len(body)))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                if self.path == "/drip":
                    for _ in range(20):
                        self.wfile.write(b"x" * 100)
                        self.wfile.flush()
                        time.sleep(0.1)
                elif self.path == "/endless":
                    for _ in range(800):  # 50 MiB
                        self.wfile.write(b"y" * 65536)
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should for oversized bodies

        def answer(self, inm: str | None, ims: str | None) -> tuple[int, bytes, dict[str, str]]:
            if self.path == "/slow":
                time.sleep(1.5)
            if self.path == "/error":
                return 500, b"boom", {"Content-Length": "4"}
            if self.path.startswith("/redirect/"):  # /redirect/<percent-encoded Location>
                return 302, b"", {"Location": unquote(self.path.removeprefix("/redirect/")), "Content-Length": "0"}
            if self.path == "/huge":
                return 200, b"", {"Content-Length": str(100 * MIB)}
            if self.path in ("/drip", "/endless"):
                return 200, b"", {}  # no Content-Length: HTTP/1.0, the body ends when the connection does
            with state.lock:
                resource = state.resources.get(self.path)
            if resource is None:
                return 404, b"not found", {"Content-Length": "9"}
            validators = {}
            if resource.etag:
                validators["ETag"] = resource.etag
            if resource.last_modified:
                validators["Last-Modified"] = resource.last_modified
            if (inm is not None and inm == resource.etag) or \
                    (inm is None and ims is not None and ims == resource.last_modified):
                return 304, b"", validators
            return 200, resource.body, {**validators, "Content-Length": str(len(resource.body))}

    return Handler


@contextlib.contextmanager
def serving(state: ArtifactServer) -> Iterator[ArtifactServer]:
    """Serve ``state`` on a free port of 127.0.0.1 (its ``url``) while the block runs."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[ArtifactServer]:
    with serving(ArtifactServer()) as state:
        yield state


@pytest.fixture
def cache(tmp_path: Path) -> AppCache:
    return AppCache(tmp_path / "cache", timeout=5, max_download_bytes=MIB, url_policy=PERMISSIVE)


def statuses(server: ArtifactServer, path: str) -> list[int]:
    return [s.status for s in server.requests_for(path)]


# --- http ----------------------------------------------------------------------------------------------


def test_downloads_and_records_metadata(server: ArtifactServer, cache: AppCache) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')

    path = cache.fetch(f"{server.url}/app.tgz")

    assert path.read_bytes() == b"archive v1"
    meta = json.loads((path.parent / "meta.json").read_text())
    assert meta["etag"] == '"v1"' and meta["size"] == 10 and meta["url"] == f"{server.url}/app.tgz"
    assert statuses(server, "/app.tgz") == [200]


def test_cached_copy_is_revalidated_with_etag_and_reused_on_304(server: ArtifactServer,
                                                                cache: AppCache) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    first = cache.fetch(f"{server.url}/app.tgz")

    second = cache.fetch(f"{server.url}/app.tgz")

    assert second == first and second.read_bytes() == b"archive v1"
    conditional = server.requests_for("/app.tgz")[1]
    assert (conditional.if_none_match, conditional.status, conditional.body_bytes) == ('"v1"', 304, 0)


def test_cached_copy_is_revalidated_with_last_modified(server: ArtifactServer, cache: AppCache) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    server.resources["/lm.tgz"] = Resource(b"dated", last_modified=stamp)
    cache.fetch(f"{server.url}/lm.tgz")

    assert cache.fetch(f"{server.url}/lm.tgz").read_bytes() == b"dated"
    conditional = server.requests_for("/lm.tgz")[1]
    assert conditional.if_modified_since == stamp
    assert (conditional.if_none_match, conditional.status) == (None, 304)


def test_changed_etag_replaces_the_cached_copy(server: ArtifactServer, cache: AppCache) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    cache.fetch(f"{server.url}/app.tgz")
    server.resources["/app.tgz"] = Resource(b"archive version 2", etag='"v2"')

    path = cache.fetch(f"{server.url}/app.tgz")

    assert path.read_bytes() == b"archive version 2"
    assert statuses(server, "/app.tgz") == [200, 200]
    assert server.requests_for("/app.tgz")[1].if_none_match == '"v1"'
    assert json.loads((path.parent / "meta.json").read_text())["etag"] == '"v2"'
    assert cache.fetch(f"{server.url}/app.tgz").read_bytes() == b"archive version 2"
    assert statuses(server, "/app.tgz") == [200, 200, 304]


def test_without_cache_every_fetch_downloads_to_its_own_path(server: ArtifactServer, cache: AppCache) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    cached = cache.fetch(f"{server.url}/app.tgz")

    one = cache.fetch(f"{server.url}/app.tgz", use_cache=False)
    two = cache.fetch(f"{server.url}/app.tgz", use_cache=False)

    assert len({one, two, cached}) == 3
    assert one.read_bytes() == two.read_bytes() == b"archive v1"
    assert statuses(server, "/app.tgz") == [200, 200, 200]
    assert all(s.if_none_match is None for s in server.requests_for("/app.tgz"))
    one.unlink()  # the caller's to delete; the others are untouched
    assert two.exists() and cached.exists()


@pytest.mark.parametrize(("path", "status"), [("/missing.tgz", "404"), ("/error", "500")])
def test_http_error_status_is_a_fetch_error(server: ArtifactServer, cache: AppCache, path: str,
                                            status: str) -> None:
    with pytest.raises(FetchError, match=f"HTTP {status}"):
        cache.fetch(f"{server.url}{path}")


def test_http_error_on_revalidation_does_not_fall_back_to_the_cache(server: ArtifactServer,
                                                                    cache: AppCache) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    cache.fetch(f"{server.url}/app.tgz")
    del server.resources["/app.tgz"]

    with pytest.raises(FetchError, match="HTTP 404"):
        cache.fetch(f"{server.url}/app.tgz")


def test_unreachable_server_on_revalidation_uses_the_stale_copy_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = ArtifactServer(resources={"/app.tgz": Resource(b"archive v1", etag='"v1"')})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    url = f"http://127.0.0.1:{httpd.server_address[1]}/app.tgz"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    cache = AppCache(tmp_path / "cache", timeout=2)
    cached = cache.fetch(url)
    httpd.shutdown()
    httpd.server_close()  # the port now refuses connections

    with caplog.at_level(logging.WARNING, logger="elasticjob.agent.fetch"):
        assert cache.fetch(url) == cached
    assert cached.read_bytes() == b"archive v1"
    assert "app_fetch_stale" in caplog.text
    with pytest.raises(FetchError, match="ConnectError"):
        cache.fetch(url, use_cache=False)  # no cached copy to fall back on


def test_password_in_the_url_is_masked_in_errors(server: ArtifactServer, cache: AppCache) -> None:
    url = server.url.replace("http://", "http://deployer:s3cret@") + "/missing.tgz"
    with pytest.raises(FetchError, match="HTTP 404") as raised:
        cache.fetch(url)
    assert "s3cret" not in str(raised.value) and "deployer:***@127.0.0.1" in str(raised.value)


def test_timeout_is_a_fetch_error(server: ArtifactServer, tmp_path: Path) -> None:
    cache = AppCache(tmp_path / "cache", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        cache.fetch(f"{server.url}/slow")
    assert time.monotonic() - started < 1.4


def test_total_timeout_bounds_a_trickling_download(server: ArtifactServer, tmp_path: Path) -> None:
    cache = AppCache(tmp_path / "cache", timeout=1, total_timeout=0.5)
    with pytest.raises(FetchError, match="longer than 0.5 s"):
        cache.fetch(f"{server.url}/drip")


def test_oversized_content_length_is_refused_before_the_body(server: ArtifactServer, cache: AppCache) -> None:
    with pytest.raises(FetchError, match="too large: Content-Length 104857600"):
        cache.fetch(f"{server.url}/huge")


def test_oversized_body_without_content_length_is_refused_while_streaming(server: ArtifactServer,
                                                                         cache: AppCache) -> None:
    with pytest.raises(FetchError, match=f"too large: more than {MIB} bytes"):
        cache.fetch(f"{server.url}/endless")
    leftovers = [p.name for p in cache.root.rglob("*") if p.is_file()]
    assert leftovers == [], "a refused download must not leave partial files"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def revalidating_cache(tmp_path: Path, seconds: float) -> tuple[AppCache, Clock]:
    clock = Clock()
    return AppCache(tmp_path / "cache", timeout=5, max_download_bytes=MIB, revalidate_seconds=seconds,
                    clock=clock, url_policy=PERMISSIVE), clock


def fetch_concurrently(cache: AppCache, url: str, count: int, version: str = "") -> list[CachedArchive]:
    results: list[CachedArchive] = []
    barrier = threading.Barrier(count)

    def fetch() -> None:
        barrier.wait()
        results.append(cache.fetch_app(url, version=version))

    threads = [threading.Thread(target=fetch) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_fetches_of_one_url_share_one_download(server: ArtifactServer, tmp_path: Path) -> None:
    server.resources["/app.tgz"] = Resource(b"shared archive", etag='"s"')
    cache, _ = revalidating_cache(tmp_path, 60)

    results = fetch_concurrently(cache, f"{server.url}/app.tgz", 8)

    assert len(results) == 8 and len(set(results)) == 1
    assert statuses(server, "/app.tgz") == [200]


def test_concurrent_fetches_revalidating_every_time_never_repeat_a_download(server: ArtifactServer,
                                                                           cache: AppCache) -> None:
    server.resources["/app.tgz"] = Resource(b"shared archive", etag='"s"')

    results = fetch_concurrently(cache, f"{server.url}/app.tgz", 8)

    # Each caller gets a revalidation that began after it asked; callers that asked together share one.
    assert len(results) == 8 and len(set(results)) == 1
    seen = statuses(server, "/app.tgz")
    assert seen[0] == 200 and set(seen[1:]) <= {304} and len(seen) <= 8


def test_fetch_reports_the_sha256_of_the_archive(server: ArtifactServer, cache: AppCache, tmp_path: Path) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    local = tmp_path / "local.tgz"
    local.write_bytes(b"local archive")

    fetched = cache.fetch_app(f"{server.url}/app.tgz")
    again = cache.fetch_app(f"{server.url}/app.tgz")  # 304: the digest comes from the metadata
    fresh = cache.fetch_app(f"{server.url}/app.tgz", use_cache=False)

    assert fetched.sha256 == again.sha256 == fresh.sha256 == hashlib.sha256(b"archive v1").hexdigest()
    assert cache.fetch_app(local.as_uri()).sha256 == hashlib.sha256(b"local archive").hexdigest()
    assert statuses(server, "/app.tgz") == [200, 304, 200]


def test_a_url_is_revalidated_at_most_once_per_period(server: ArtifactServer, tmp_path: Path) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    cache, clock = revalidating_cache(tmp_path, 60)
    url = f"{server.url}/app.tgz"
    first = cache.fetch_app(url)

    clock.now += 59
    assert cache.fetch_app(url) == first
    assert statuses(server, "/app.tgz") == [200]

    clock.now += 2
    server.resources["/app.tgz"] = Resource(b"archive version 2", etag='"v2"')
    second = cache.fetch_app(url)
    assert second.path.read_bytes() == b"archive version 2" and second.sha256 != first.sha256
    assert statuses(server, "/app.tgz") == [200, 200]


def test_a_new_app_version_forces_a_revalidation(server: ArtifactServer, tmp_path: Path) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    cache, _ = revalidating_cache(tmp_path, 3600)
    url = f"{server.url}/app.tgz"
    cache.fetch_app(url, version="config-1")

    assert cache.fetch_app(url, version="config-1").path.read_bytes() == b"archive v1"
    assert cache.fetch_app(url).path.read_bytes() == b"archive v1"  # unknown version: no reason to ask
    assert statuses(server, "/app.tgz") == [200]

    server.resources["/app.tgz"] = Resource(b"archive version 2", etag='"v2"')
    assert cache.fetch_app(url, version="config-2").path.read_bytes() == b"archive version 2"
    assert cache.fetch_app(url, version="config-2").path.read_bytes() == b"archive version 2"
    assert statuses(server, "/app.tgz") == [200, 200]
    assert server.requests_for("/app.tgz")[1].if_none_match == '"v1"'


def test_concurrent_launches_of_a_new_version_share_one_revalidation(server: ArtifactServer,
                                                                    tmp_path: Path) -> None:
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')
    cache, _ = revalidating_cache(tmp_path, 3600)
    url = f"{server.url}/app.tgz"
    cache.fetch_app(url, version="config-1")

    results = fetch_concurrently(cache, url, 8, version="config-2")

    assert len(results) == 8 and len(set(results)) == 1
    assert statuses(server, "/app.tgz") == [200, 304]


def test_a_failed_revalidation_is_retried_by_the_next_fetch(server: ArtifactServer, tmp_path: Path) -> None:
    cache, _ = revalidating_cache(tmp_path, 3600)
    url = f"{server.url}/app.tgz"
    with pytest.raises(FetchError, match="HTTP 404"):
        cache.fetch_app(url)
    server.resources["/app.tgz"] = Resource(b"archive v1", etag='"v1"')

    assert cache.fetch_app(url).path.read_bytes() == b"archive v1"
    assert statuses(server, "/app.tgz") == [404, 200]


def test_one_http_client_serves_every_fetch(server: ArtifactServer, cache: AppCache,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server.resources["/a.tgz"] = Resource(b"a", etag='"a"')
    server.resources["/b.tgz"] = Resource(b"b", etag='"b"')
    built: list[httpx.Client] = []
    real_client = httpx.Client

    def counting_client(*args: Any, **kwargs: Any) -> httpx.Client:
        built.append(real_client(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(httpx, "Client", counting_client)
    for _ in range(3):
        cache.fetch(f"{server.url}/a.tgz")
        cache.fetch(f"{server.url}/b.tgz", use_cache=False).unlink()

    assert len(built) == 1
    assert statuses(server, "/a.tgz") == [200, 304, 304] and statuses(server, "/b.tgz") == [200] * 3


def test_collect_removes_idle_entries_and_forgets_them(server: ArtifactServer, tmp_path: Path) -> None:
    server.resources["/old.tgz"] = Resource(b"old", etag='"o"')
    server.resources["/new.tgz"] = Resource(b"new", etag='"n"')
    cache, clock = revalidating_cache(tmp_path, 3600)
    old = cache.fetch_app(f"{server.url}/old.tgz")
    clock.now += 500
    new = cache.fetch_app(f"{server.url}/new.tgz")
    long_ago = time.time() - 1000
    for path in (*old.path.parent.iterdir(), old.path.parent):
        os.utime(path, (long_ago, long_ago))

    removed = cache.collect(max_age_seconds=300, max_total_bytes=MIB)

    assert removed == [old.path.parent.name]
    assert not old.path.exists() and new.path.exists()
    assert cache.fetch_app(f"{server.url}/old.tgz").path.read_bytes() == b"old"  # downloaded again
    assert statuses(server, "/old.tgz") == [200, 200]


# --- file:// and schemes -------------------------------------------------------------------------------


def test_file_url_is_copied_and_recopied_when_the_file_changes(tmp_path: Path, cache: AppCache) -> None:
    source = tmp_path / "app.tar.gz"
    source.write_bytes(b"local v1")

    first = cache.fetch(source.as_uri())
    assert first != source and first.read_bytes() == b"local v1"
    assert cache.fetch(source.as_uri()) == first

    source.write_bytes(b"local version 2")
    assert cache.fetch(source.as_uri()).read_bytes() == b"local version 2"
    fresh = cache.fetch(source.as_uri(), use_cache=False)
    assert fresh.read_bytes() == b"local version 2" and fresh != first
    fresh.unlink()
    assert source.exists()


def test_file_url_errors(tmp_path: Path, cache: AppCache) -> None:
    with pytest.raises(FetchError, match="no such file"):
        cache.fetch((tmp_path / "absent.tgz").as_uri())
    big = tmp_path / "big.tgz"
    big.write_bytes(b"z" * (MIB + 1))
    with pytest.raises(FetchError, match="too large"):
        cache.fetch(big.as_uri())
    with pytest.raises(FetchError, match="not a regular file"):
        cache.fetch(tmp_path.as_uri())
    with pytest.raises(FetchError, match="host 'elsewhere'"):
        cache.fetch("file://elsewhere/app.tgz")


@pytest.mark.parametrize("url", ["ftp://example.com/app.tgz", "s3://bucket/app.tgz", "app.tgz"])
def test_unsupported_scheme_is_refused(cache: AppCache, url: str) -> None:
    with pytest.raises(FetchError, match="unsupported URL scheme"):
        cache.fetch(url)


# --- the agent's URL allow-list (--allow-file-urls, --url-hosts) ------------------------------------------


def test_file_urls_are_refused_without_allow_file_urls(tmp_path: Path) -> None:
    source = tmp_path / "app.tar.gz"
    source.write_bytes(b"local")
    cache = AppCache(tmp_path / "cache")  # the default policy: http and https only
    with pytest.raises(FetchError, match="--allow-file-urls"):
        cache.fetch(source.as_uri())
    with pytest.raises(FetchError, match="--allow-file-urls"):
        cache.fetch(source.as_uri(), use_cache=False)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("archive*"))


def test_hosts_outside_url_hosts_are_refused_even_through_a_redirect(tmp_path: Path,
                                                                    server: ArtifactServer) -> None:
    server.resources["/app.tgz"] = Resource(b"app")
    cache = AppCache(tmp_path / "cache", timeout=5, url_policy=UrlPolicy.from_flags(False, "127.0.0.1"))
    assert cache.fetch(f"{server.url}/app.tgz").read_bytes() == b"app"

    elsewhere = server.url.replace("127.0.0.1", "localhost")
    with pytest.raises(FetchError, match="'localhost' is not in --url-hosts"):
        cache.fetch(f"{elsewhere}/app.tgz")
    # An allowed host that redirects to another: the redirect is not followed.
    with pytest.raises(FetchError, match="'localhost' is not in --url-hosts"):
        cache.fetch(f"{server.url}/redirect/{quote(elsewhere + '/app.tgz', safe='')}")
    assert statuses(server, "/app.tgz") == [200]  # only the allowed request reached the server
