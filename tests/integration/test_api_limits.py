"""Hostile clients against a real master: oversized headers, too many connections, pages beyond the caps.

The master under test has small limits (``--max-header-bytes 4096 --max-connections 4``) so the tests
reach them cheaply; raw sockets send what no well-behaved client would.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ApiUsers, MasterProcess

pytestmark = pytest.mark.zk

HEADER_LIMIT = 4096
CONNECTIONS = 4


@pytest.fixture(scope="module")
def master(
    zk_hosts: str, tmp_path_factory: pytest.TempPathFactory, api_users: ApiUsers | None
) -> Iterator[MasterProcess]:
    started = MasterProcess(zk_hosts, f"limits-{uuid.uuid4().hex[:10]}", Path(tmp_path_factory.mktemp("m")),
                            "--max-header-bytes", str(HEADER_LIMIT), "--max-connections", str(CONNECTIONS),
                            auth=api_users).start()
    yield started
    started.stop()


def connect(master: MasterProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", master.http_port), timeout=10)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length (all the master's error answers have one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def test_an_oversized_header_is_a_431_json_error_not_a_hang(master: MasterProcess) -> None:
    with connect(master) as sock:
        began = time.monotonic()
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * HEADER_LIMIT) + b"\r\n\r\n")
        status, headers, body = read_response(sock)
    assert status == 431 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": f"request headers exceed the limit of {HEADER_LIMIT} bytes",
                                "details": []}
    assert time.monotonic() - began < 5


def test_headers_that_never_end_are_cut_off_at_the_limit(master: MasterProcess) -> None:
    with connect(master) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        with contextlib.suppress(ConnectionError):  # the master may close while we still send
            while sent < 50 * HEADER_LIMIT:
                sock.sendall(f"X-H{sent}: {'b' * 200}\r\n".encode())
                sent += 210
        status, _, _ = read_response(sock)
    assert status == 431


def test_headers_under_the_limit_and_a_body_after_them_are_served(master: MasterProcess) -> None:
    big_header = {"X-Fill": "c" * (HEADER_LIMIT - 512)}
    assert master.get("/ping", headers=big_header, timeout=10).status_code == 200
    # One send with small headers and a large body: only the head counts against the header limit.
    body = json.dumps({"appName": "x" * 300_000}).encode()
    credentials = f"Authorization: {master.authorization}\r\n".encode() if master.authorization else b""
    with connect(master) as sock:
        sock.sendall(b"POST /app HTTP/1.1\r\nHost: x\r\n" + credentials
                     + b"Content-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        status, _, answer = read_response(sock)
    assert status == 422, answer


def test_connections_beyond_the_limit_get_503_until_others_close(master: MasterProcess) -> None:
    idle = []
    try:
        for _ in range(CONNECTIONS):  # keep-alive connections that have been served and stay open
            sock = connect(master)
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            idle.append((sock, read_response(sock)[0]))
        statuses = [status for _, status in idle]
        assert statuses[:CONNECTIONS - 1] == [200] * (CONNECTIONS - 1)
        assert statuses[-1] == 503  # uvicorn counts the asking connection too: N-1 others fill it
        with connect(master) as extra:
            extra.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(extra)[0] == 503
    finally:
        for sock, _ in idle:
            sock.close()
    deadline = time.monotonic() + 10
    while master.get("/ping", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "closed connections must free their places"
        time.sleep(0.1)


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/app/list", {"per_page": "1001"}, "per_page"),
    ("/job/jobs", {"per_page": "1001"}, "per_page"),
    ("/job/summaries", {"per_page": "1001"}, "per_page"),
    ("/job/jobs/some_job/runs", {"per_page": "1001"}, "per_page"),
    ("/job/jobs", {"page": str(2**31 + 1)}, "page"),
    ("/job/jobs/some_job/runs", {"page": str(2**31 + 1)}, "page"),
    ("/job/jobs/some_job/runs", {"page": "744227791586196608"}, "page"),  # found by the fuzzer: a 500
    # "²".isdigit() holds but int("²") raises: a non-ASCII digit is refused, not a 500
    ("/app/list", {"page": "²"}, "page"),
    ("/job/jobs", {"per_page": "²"}, "per_page"),
    ("/job/summaries", {"page": "²"}, "page"),
    ("/cluster/registry", {"from": "²"}, "from"),
    ("/v1/jobs", {"namespace": "default", "page": "²"}, "page"),
])
def test_pages_beyond_the_caps_are_refused(master: MasterProcess, path: str, params: dict[str, str],
                                           field: str) -> None:
    response = master.get(path, params=params, timeout=10)
    assert response.status_code == 422, response.text
    assert [d["path"] for d in response.json()["details"]] == [field]


def test_history_pages_are_capped_at_1000_rows(master: MasterProcess) -> None:
    answer = master.get("/job/events/executions", params={"per_page": "100000"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["total"] == 0 and answer.json()["rows"] == []
