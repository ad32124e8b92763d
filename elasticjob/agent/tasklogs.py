"""A task's log files: ``stdout`` and ``stderr`` in its log directory, size-capped with one rotation.

Layout: ``<log_dir>/stdout`` is the current file and ``<log_dir>/stdout.1`` the previous one (likewise
for stderr), each with the index of its lines' times beside it (``stdout.idx``, ``stdout.idx.1``: see
``loglines``). ``RotatingLog`` writes them, ``LogPipe`` feeds one from a pipe (driven by an event loop),
``read_log`` serves byte ranges of the current file to the API, ``loglines.read_lines`` its lines.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from elasticjob.agent.loglines import LineIndexWriter

__all__ = ["MAX_CHUNK", "LogChunk", "LogPipe", "LogTail", "RotatingLog", "Stream", "read_log"]

log = logging.getLogger(__name__)

Stream = Literal["stdout", "stderr"]
STREAMS: tuple[Stream, ...] = ("stdout", "stderr")
MAX_CHUNK = 1024 * 1024
_PIPE_READ = 64 * 1024


@dataclass(frozen=True)
class LogChunk:
    """``data`` is the bytes at ``[offset, next_offset)`` of the current file, whose size was ``size`` when
    read; ``eof`` is true when ``next_offset`` reached that size (more may be appended later)."""

    data: bytes
    offset: int
    next_offset: int
    size: int
    eof: bool


def read_log(log_dir: Path, stream: Stream, offset: int, length: int) -> LogChunk:
    """Read up to ``length`` bytes (clamped to ``MAX_CHUNK``) of the current ``stream`` file.

    ``offset >= 0`` counts from the start of the current file; a negative offset counts from its end, like
    ``tail -c`` (``-1000``: the last 1000 bytes, or the whole file if it is shorter). Offsets always refer to
    the *current* file: after a rotation the file starts again at 0 and the old bytes are in ``<stream>.1``
    (not served here), so a reader following ``next_offset`` may find it beyond the end — that raises
    ``ValueError`` mentioning rotation, and the reader should start again at 0. A file not yet created
    reads as empty. Raises ``ValueError`` for an unknown stream, a negative length or an offset beyond the
    end. Thread-safe and safe while the file is being written or rotated: size and data come from one open
    file description, so they are consistent with each other.
    """
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)} (got {stream!r})")
    if length < 0:
        raise ValueError(f"length must not be negative (got {length})")
    length = min(length, MAX_CHUNK)
    try:
        handle = (log_dir / stream).open("rb")
    except FileNotFoundError:
        if offset > 0:
            raise ValueError(f"offset {offset} is beyond the end of {stream} (size 0)") from None
        return LogChunk(b"", 0, 0, 0, True)
    with handle:
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size + offset) if offset < 0 else offset
        if start > size:
            raise ValueError(f"offset {offset} is beyond the end of {stream} (size {size}); "
                             "the log may have been rotated, read again from 0")
        handle.seek(start)
        # Never read past the size just taken, so eof and next_offset agree with ``size``.
        data = handle.read(min(length, size - start))
    end = start + len(data)
    return LogChunk(data, start, end, size, end >= size)


class RotatingLog:
    """Append-only log file capped at ``max_bytes``: a write that would pass the cap fills the file up to it,
    renames it to ``<name>.1`` (replacing the previous one) and continues in a fresh file, so the current
    file never exceeds ``max_bytes`` and at most ``2 * max_bytes`` are kept (plus their lines' index: 24
    bytes per piece of output that starts a line). The file is opened (created,
    or appended to) at once with ``create_now``, else by the first write of at least one byte: a stream a
    task never writes to then costs no file, and ``read_log`` reads it as empty. Writes are unbuffered so
    readers see them at once; ``write`` raises ``OSError`` if the file cannot be created or written. Not
    thread-safe: one writer per file.
    """

    def __init__(self, path: Path, max_bytes: int, *, create_now: bool = False) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive (got {max_bytes})")
        self.path = path
        self.max_bytes = max_bytes
        self._file: BinaryIO | None = None
        self._size = 0
        self._index = LineIndexWriter(path)
        if create_now:
            self._open()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._file is None:
                self._open()
                assert self._file is not None
            room = self.max_bytes - self._size
            if room <= 0:
                self._rotate()
                continue
            piece = view[:room]
            self._index.before_write(self._size, piece)
            self._file.write(piece)
            self._size += len(piece)
            view = view[len(piece):]

    def _open(self) -> None:
        self._file = self.path.open("ab", buffering=0)
        self._size = self._file.tell()
        if self._size:  # appending to a file written before: its lines count
            self._index.resume(self.path.read_bytes())

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._index.rotated()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._index.close()


class LogTail:
    """The last ``limit`` bytes written, for looking at how a task ended (e.g. a MemoryError)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = b""
        self._lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self._lock:
            self._data = (self._data + data)[-self._limit:]

    def get(self) -> bytes:
        with self._lock:
            return self._data


class LogPipe:
    """Copies a pipe into a ``RotatingLog``, one read per call, keeping a tail of the last ``tail_bytes``.

    ``on_readable()`` reads once (at most 64 KiB) and returns False at end of file; call it when the pipe is
    readable (it blocks otherwise). ``close()`` then closes the pipe and the sink — after the pipe was taken
    out of any epoll set: a descriptor closed while registered can leave its file in the set under a number
    that is soon another descriptor's. ``close`` may also end the copy early (a process that left the group
    but kept the pipe open). The child never holds the log file itself, so the cap holds whatever it
    writes. If the file cannot be written (disk full), the pipe is still drained — a task must never block
    on its own output — and the rest is lost. Not thread-safe: one reader.
    """

    def __init__(self, fd: int, sink: RotatingLog, tail_bytes: int = 64 * 1024) -> None:
        self.fd = fd
        self.sink = sink
        self.tail = LogTail(tail_bytes)
        self._writable = True
        self._open = True

    def on_readable(self) -> bool:
        try:
            chunk = os.read(self.fd, _PIPE_READ)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            return False
        self.tail.add(chunk)
        if self._writable:
            try:
                self.sink.write(chunk)
            except OSError as exc:
                self._writable = False
                log.warning("event=task_log_write_failed path=%s error=%s", self.sink.path, exc)
        return True

    def close(self) -> None:
        if self._open:
            self._open = False
            os.close(self.fd)
            self.sink.close()
