"""Limits of the master's HTTP server below the ASGI application: request header size and connections.

The body's size is the application's to limit (``api.bodies.BodyLimitMiddleware``, ``--max-body-bytes``):
it reads the body as a stream. Headers arrive before the application sees anything, and uvicorn's
httptools protocol — the one it picks when httptools is installed, as here — has no limit of its own
(``h11_max_incomplete_event_size`` is the h11 protocol's only): a client could send headers for ever and
the master would keep them all. ``header_limited_protocol`` is the httptools protocol with that limit:
once a request's line and headers pass ``max_header_bytes`` without ending, the answer is 431 (a JSON
error like every other) and the connection is closed.

Concurrent connections are limited by uvicorn itself (``limit_concurrency``): beyond the limit a request
is answered 503 at once, by uvicorn, as plain text. Thread-safety: a protocol instance lives on the event
loop of its one connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_CONNECTIONS = 1024


def header_limited_protocol(max_header_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol refusing a request line plus headers over ``max_header_bytes``."""
    if max_header_bytes < 1024:
        raise ValueError(f"--max-header-bytes must be at least 1024 (got {max_header_bytes})")
    body = json.dumps({"message": f"request headers exceed the limit of {max_header_bytes} bytes",
                       "details": []}).encode()
    refusal = b"".join([
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
        body,
    ])

    class HeaderLimitedProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # waiting for (the rest of) a request line and headers
            self._head_bytes = 0
            self._tail = b""  # the last bytes of the head so far: its blank line may span two chunks

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                # Only the head's bytes count: a chunk may carry the blank line that ends it, then body.
                window = self._tail + data
                end = window.find(b"\r\n\r\n")
                used = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                self._head_bytes += used
                if self._head_bytes > max_header_bytes:
                    self.transport.write(refusal)
                    self.transport.close()
                    return
                self._tail = window[-3:]
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._tail = b""
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head = True
            super().on_message_complete()

    return HeaderLimitedProtocol
