"""Light HTTP load for benchmarks: clients that do not spend the CPU they measure.

A benchmark's clients share the machine with the processes they measure. httpx spends ~0.7–1.9 ms of CPU
per request on the 2-core machines here (and eight httpx threads in one process also share one GIL);
``Connection`` — HTTP/1.1 keep-alive GETs and POSTs over a socket, reading ``Content-Length`` answers, which
is what a master sends — spends ~0.05 ms.

``post_all(url, path, bodies, clients)`` POSTs JSON bodies from ``clients`` worker processes
(``python -m elasticjob.dev.httpload``), each on one keep-alive connection, started together once every
worker is connected; it returns the seconds from the start to the last answer and raises if any answer
was not a 2xx. Both take ``authorization``, an ``Authorization`` header value sent with every request (for
a master with an auth file); the workers get it through their environment, not their command line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_AUTHORIZATION_ENV = "ELASTICJOB_HTTPLOAD_AUTHORIZATION"


class Connection:
    """One keep-alive HTTP/1.1 connection to ``url``'s host; ``authorization``: sent with every request."""

    def __init__(self, url: str, timeout: float = 60.0, authorization: str | None = None) -> None:
        address = urlsplit(url)
        host, port = address.hostname or "127.0.0.1", address.port or 80
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = f"{host}:{port}".encode()
        self.authorization = b"Authorization: " + authorization.encode() + b"\r\n" if authorization else b""
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def get(self, target: str) -> tuple[int, bytes]:
        return self.request(b"GET", target)

    def post_json(self, target: str, body: bytes) -> tuple[int, bytes]:
        return self.request(b"POST", target, body, b"application/json")

    def request(
        self, method: bytes, target: str, body: bytes = b"", content_type: bytes = b""
    ) -> tuple[int, bytes]:
        head = method + b" " + target.encode() + b" HTTP/1.1\r\nHost: " + self.host + b"\r\n"
        head += self.authorization
        if body or method == b"POST":
            head += b"Content-Type: " + content_type + b"\r\n"
            head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        self.sock.sendall(head + b"\r\n" + body)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, answer

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk


def post_all(
    url: str, path: str, bodies: Iterable[dict[str, Any]], clients: int = 8, authorization: str | None = None
) -> float:
    """POST every body to ``url + path`` from ``clients`` processes; the seconds it took."""
    env = {**os.environ, _AUTHORIZATION_ENV: authorization or ""}
    with tempfile.TemporaryDirectory(prefix="httpload-") as tmp:
        source = Path(tmp) / "bodies.jsonl"
        count = 0
        with source.open("w") as out:
            for body in bodies:
                out.write(json.dumps(body, separators=(",", ":")) + "\n")
                count += 1
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "elasticjob.dev.httpload", "--url", url, "--path", path,
                 "--bodies", str(source), "--worker", str(index), "--workers", str(clients)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            )
            for index in range(min(clients, max(count, 1)))
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None
                if worker.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"a load worker could not connect to {url}")
            started = time.monotonic()
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            reports = [json.loads(worker.communicate()[0].strip().splitlines()[-1]) for worker in workers]
            elapsed = time.monotonic() - started
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
    failed = sum(report["failed"] for report in reports)
    if failed:
        first = next(f for report in reports for f in report["first"])
        raise RuntimeError(f"{failed} POST {path} failed, the first: {first}")
    return elapsed


def _worker(url: str, path: str, bodies: Path, index: int, workers: int) -> None:
    lines = bodies.read_text().splitlines()[index::workers]
    connection = Connection(url, authorization=os.environ.get(_AUTHORIZATION_ENV) or None)
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    failed = 0
    first: list[str] = []
    for line in lines:
        status, answer = connection.post_json(path, line.encode())
        if not 200 <= status < 300:
            failed += 1
            if not first:
                first.append(f"{status} {answer[:300]!r} for {line[:200]}")
    connection.close()
    print(json.dumps({"sent": len(lines), "failed": failed, "first": first}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="one worker of post_all")
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="JSON lines")
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    _worker(args.url, args.path, args.bodies, args.worker, args.workers)


if __name__ == "__main__":
    main()
