"""Timestamped lines of a task's log: the index the writer keeps beside each file, and the line reader.

The log file itself holds the task's bytes unchanged (byte ranges stay exact). Beside ``<stream>`` the
writer keeps ``<stream>.idx``: fixed-size records ``(offset, line, time_ms)``, one per piece of output that
starts at least one line, naming the first line that starts in it — its byte offset in the file, its
line number and when the agent received it. Every line starting in that piece has that time: a line's
time is when its first byte reached the agent. Line numbers count from the task's first line and go on
across rotations (``<stream>.1`` with ``<stream>.idx.1`` holds the previous file), so ``from`` asks for
the same line before and after one; a line cut by a rotation reads as two lines. A record is written
before the bytes it describes, so a reader never finds a line without a time; times never go backwards
(a clock stepped back repeats the last time). A file without an index (written by an older agent) reads
as one piece received at the file's modification time.

``read_lines`` answers line paging (``start`` line, ``size``; a negative start counts from the end, like
``tail -n``) and time windows (``start_ms``/``end_ms``), reading only the records it bisects and the bytes
of the lines it returns (plus at most one piece before them). Thread-safe against the one writer.
"""

from __future__ import annotations

import functools
import os
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["MAX_LINE_BYTES", "MAX_LINES", "LineChunk", "LineIndexWriter", "LogLine", "read_lines"]

_RECORD = struct.Struct("<qqq")  # offset, line number, time (Unix ms)
MAX_LINE_BYTES = 64 * 1024  # a longer line is cut here (``truncated``)
MAX_LINES = 10_000  # lines per answer
MAX_ANSWER_BYTES = 1024 * 1024  # bytes of lines per answer (at least one line is always answered)
_BLOCK = 64 * 1024


def index_path(path: Path) -> Path:
    """The index beside a log file: ``stdout.idx`` for ``stdout``, ``stdout.idx.1`` for ``stdout.1``."""
    stem, dot, suffix = path.name.partition(".")
    return path.with_name(f"{stem}.idx{dot}{suffix}")


class LineIndexWriter:
    """Keeps ``<log>.idx`` for the bytes a ``RotatingLog`` writes. Call ``before_write(offset, piece)``
    before each piece goes to the file at ``offset``, ``rotated()`` after the file was renamed to ``.1``
    (the index is renamed with it, and the new file starts a new line). Not thread-safe: one writer."""

    def __init__(self, log_path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = index_path(log_path)
        self._rotated_path = index_path(log_path.with_name(log_path.name + ".1"))
        self._clock = clock
        self._file: BinaryIO | None = None
        self._lines = 0  # line starts seen so far: the number of the next line to start
        self._at_line_start = True
        self._last_ms = 0

    def resume(self, existing: bytes) -> None:
        """Continue after ``existing``, the bytes already in the file (a file opened for appending)."""
        if existing:
            self._lines = existing.count(b"\n") + (0 if existing.endswith(b"\n") else 1)
            self._at_line_start = existing.endswith(b"\n")

    def before_write(self, offset: int, piece: bytes | memoryview) -> None:
        data = bytes(piece)
        if not data:
            return
        if self._at_line_start:
            first = 0
        else:
            newline = data.find(b"\n")
            first = newline + 1 if 0 <= newline < len(data) - 1 else -1
        if first >= 0:
            now = max(self._last_ms, int(self._clock() * 1000))
            self._last_ms = now
            if self._file is None:
                self._file = self.path.open("ab", buffering=0)
            self._file.write(_RECORD.pack(offset + first, self._lines, now))
        starts = (1 if self._at_line_start else 0) + data.count(b"\n", 0, len(data) - 1)
        self._lines += starts
        self._at_line_start = data.endswith(b"\n")

    def rotated(self) -> None:
        self.close()
        if self.path.exists():
            os.replace(self.path, self._rotated_path)
        # The rest of a line cut by the rotation starts the new file's first line (the cut line was
        # numbered already, so the count stands).
        self._at_line_start = True

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class LogLine:
    number: int
    time_ms: int
    data: bytes  # without the line's end (``\n``, and a ``\r`` before it)
    truncated: bool = False  # the line was longer than MAX_LINE_BYTES


@dataclass(frozen=True)
class LineChunk:
    """``lines`` in order; ``first_line`` is the oldest line still kept, ``next_line`` the line to ask for
    next; ``eof`` is true when no further line of the query is available now (more may come while the task
    runs)."""

    lines: list[LogLine]
    first_line: int
    next_line: int
    eof: bool


@dataclass
class _Segment:
    """One log file (``<stream>.1`` or ``<stream>``) with its index, opened once for one answer."""

    data: BinaryIO
    index: BinaryIO | None
    size: int  # bytes of the data file when opened
    count: int  # index records
    fallback_ms: int  # without an index: the time of every line
    fallback_line: int = 0  # without an index: the number of the file's first line

    def record(self, i: int) -> tuple[int, int, int]:
        if self.index is None:
            return 0, self.fallback_line, self.fallback_ms
        self.index.seek(i * _RECORD.size)
        offset, line, time_ms = _RECORD.unpack(self.index.read(_RECORD.size))
        return offset, line, time_ms

    def first_line(self) -> int | None:
        return self.record(0)[1] if self.count else None

    def bisect(self, key: Callable[[tuple[int, int, int]], bool]) -> int:
        """The first record for which ``key`` is true (``count`` if none); ``key`` must be monotonic."""
        low, high = 0, self.count
        while low < high:
            mid = (low + high) // 2
            if key(self.record(mid)):
                high = mid
            else:
                low = mid + 1
        return low

    def lines(self, i: int, complete: bool) -> Iterator[LogLine]:
        """Every line from record ``i``'s on; a last line without its end only when ``complete``."""
        offset, number, time_ms = self.record(i)
        upcoming = i + 1
        next_offset = self.record(upcoming)[0] if upcoming < self.count else None
        self.data.seek(offset)
        remaining = self.size - offset
        position = offset  # of the block's first byte
        line_start = offset
        line = bytearray()
        truncated = False
        while remaining > 0:
            block = self.data.read(min(_BLOCK, remaining))
            if not block:
                break
            remaining -= len(block)
            begin = 0
            while True:
                newline = block.find(b"\n", begin)
                end = len(block) if newline < 0 else newline
                room = MAX_LINE_BYTES - len(line)
                if end - begin > room:
                    truncated = True
                line += block[begin:begin + max(0, min(room, end - begin))]
                if newline < 0:
                    break
                yield LogLine(number, time_ms, _strip_cr(line), truncated)
                number += 1
                line = bytearray()
                truncated = False
                begin = newline + 1
                line_start = position + begin
                while next_offset is not None and next_offset <= line_start:
                    if next_offset == line_start:
                        _, number, time_ms = self.record(upcoming)
                    else:
                        time_ms = self.record(upcoming)[2]
                    upcoming += 1
                    next_offset = self.record(upcoming)[0] if upcoming < self.count else None
            position += len(block)
        if complete and line_start < min(self.size, position):
            yield LogLine(number, time_ms, _strip_cr(line), truncated)

    def end_line(self, complete: bool) -> int:
        """The number one past this file's last line (its first line's number if it has none)."""
        if not self.count:
            return self.fallback_line
        end = self.record(self.count - 1)[1]
        for line in self.lines(self.count - 1, complete):
            end = line.number + 1
        return end


def _after_line(line: int, record: tuple[int, int, int]) -> bool:
    return record[1] > line


def _strip_cr(line: bytearray) -> bytes:
    return bytes(line[:-1] if line.endswith(b"\r") else line)


def _open_segment(stack: ExitStack, path: Path, first_line: int) -> _Segment | None:
    try:
        data = stack.enter_context(path.open("rb"))
    except FileNotFoundError:
        return None
    stat = os.fstat(data.fileno())
    index: BinaryIO | None
    try:
        index = stack.enter_context(index_path(path).open("rb"))
        count = os.fstat(index.fileno()).st_size // _RECORD.size
    except FileNotFoundError:
        index, count = None, 1 if stat.st_size else 0
    segment = _Segment(data, index, stat.st_size, count, int(stat.st_mtime * 1000), first_line)
    # A record written before its bytes arrived describes nothing yet.
    if index is not None:
        segment.count = segment.bisect(lambda record: record[0] >= stat.st_size)
    return segment


def read_lines(
    log_dir: Path,
    stream: str,
    *,
    start: int | None = None,
    size: int = 100,
    start_ms: int | None = None,
    end_ms: int | None = None,
    complete: bool = False,
) -> LineChunk:
    """Up to ``size`` lines (at most ``MAX_LINES``, and about ``MAX_ANSWER_BYTES``) of ``stream``.

    ``start``: the first line's number (None: the oldest kept; negative: that many lines before the end);
    a line no longer kept is skipped to the oldest kept one. ``start_ms``/``end_ms``: only lines received
    in ``[start_ms, end_ms]``. ``complete``: the task has ended, so a last line without a line end is a
    line (while it runs, such a line may still grow, and is answered once it has ended). Raises
    ``ValueError`` for a size below 1. A stream not written yet reads as no lines.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1 (got {size})")
    size = min(size, MAX_LINES)
    base = log_dir / stream
    with ExitStack() as stack:
        old = _open_segment(stack, base.with_name(base.name + ".1"), 0)
        current = _open_segment(stack, base, 0)
        if old is not None and current is not None and current.index is None:
            current.fallback_line = old.end_line(True)
        segments = [s for s in (old, current) if s is not None and s.count]
        if not segments:
            return LineChunk([], 0, max(0, start or 0), True)

        def ended(segment: _Segment) -> bool:  # a rotated file grows no more
            return complete or segment is not current

        first = segments[0].first_line() or 0
        end = segments[-1].end_line(ended(segments[-1]))
        if start is None:
            wanted = first
        elif start < 0:
            wanted = max(first, end + start)
        else:
            wanted = max(first, start)
        if start_ms is not None:
            for segment in segments:
                i = segment.bisect(lambda record: record[2] >= start_ms)
                if i < segment.count:
                    wanted = max(wanted, segment.record(i)[1])
                    break
            else:
                return LineChunk([], first, max(wanted, end), True)
        lines: list[LogLine] = []
        answered = 0
        for segment in segments:
            i = max(0, segment.bisect(functools.partial(_after_line, wanted)) - 1)
            for line in segment.lines(i, ended(segment)):
                if line.number < wanted:
                    continue
                if end_ms is not None and line.time_ms > end_ms:
                    return LineChunk(lines, first, line.number, True)
                if len(lines) >= size or (lines and answered + len(line.data) > MAX_ANSWER_BYTES):
                    return LineChunk(lines, first, line.number, False)
                lines.append(line)
                answered += len(line.data)
                wanted = line.number + 1
        return LineChunk(lines, first, max(wanted, end), True)
