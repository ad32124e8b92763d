"""Timestamped lines: the index ``RotatingLog`` keeps beside each log file, and ``read_lines``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from elasticjob.agent import loglines
from elasticjob.agent.loglines import LineIndexWriter, read_lines
from elasticjob.agent.tasklogs import RotatingLog


class _Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _log(path: Path, max_bytes: int = 1 << 20) -> tuple[RotatingLog, _Clock]:
    clock = _Clock()
    sink = RotatingLog(path, max_bytes, create_now=True)
    sink._index = LineIndexWriter(path, clock)
    return sink, clock


def _texts(chunk: loglines.LineChunk) -> list[str]:
    return [line.data.decode() for line in chunk.lines]


def test_each_line_has_the_time_its_first_byte_arrived(tmp_path: Path) -> None:
    sink, clock = _log(tmp_path / "stdout")
    sink.write(b"one\ntwo\nthr")
    clock.now += 2.5
    sink.write(b"ee\nfour\n")
    chunk = read_lines(tmp_path, "stdout", complete=True)
    assert _texts(chunk) == ["one", "two", "three", "four"]
    assert [line.number for line in chunk.lines] == [0, 1, 2, 3]
    base = 1_700_000_000_000
    assert [line.time_ms for line in chunk.lines] == [base, base, base, base + 2500]
    assert (chunk.first_line, chunk.next_line, chunk.eof) == (0, 4, True)


def test_paging_by_line_number(tmp_path: Path) -> None:
    sink, clock = _log(tmp_path / "stdout")
    for i in range(50):
        sink.write(f"line {i}\n".encode())
        clock.now += 1
    chunk = read_lines(tmp_path, "stdout", start=10, size=5)
    assert _texts(chunk) == [f"line {i}" for i in range(10, 15)]
    assert (chunk.next_line, chunk.eof) == (15, False)
    last = read_lines(tmp_path, "stdout", start=48, size=5)
    assert _texts(last) == ["line 48", "line 49"] and (last.next_line, last.eof) == (50, True)
    beyond = read_lines(tmp_path, "stdout", start=70)
    assert beyond.lines == [] and beyond.eof and beyond.next_line == 70


def test_negative_start_is_a_tail(tmp_path: Path) -> None:
    sink, _ = _log(tmp_path / "stdout")
    sink.write(b"".join(f"{i}\n".encode() for i in range(20)))
    assert _texts(read_lines(tmp_path, "stdout", start=-3)) == ["17", "18", "19"]
    assert _texts(read_lines(tmp_path, "stdout", start=-100, size=2)) == ["0", "1"]


def test_time_window(tmp_path: Path) -> None:
    sink, clock = _log(tmp_path / "stdout")
    for i in range(10):
        sink.write(f"t{i}\n".encode())
        clock.now += 10
    base = 1_700_000_000_000
    chunk = read_lines(tmp_path, "stdout", start_ms=base + 25_000, end_ms=base + 55_000)
    assert _texts(chunk) == ["t3", "t4", "t5"]
    assert chunk.eof and chunk.next_line == 6
    after = read_lines(tmp_path, "stdout", start_ms=base + 1_000_000)
    assert after.lines == [] and after.eof and after.next_line == 10


def test_an_unfinished_last_line_waits_until_the_task_has_ended(tmp_path: Path) -> None:
    sink, _ = _log(tmp_path / "stdout")
    sink.write(b"done\nprogress 50%")
    running = read_lines(tmp_path, "stdout")
    assert _texts(running) == ["done"] and running.next_line == 1
    ended = read_lines(tmp_path, "stdout", start=running.next_line, complete=True)
    assert _texts(ended) == ["progress 50%"] and ended.next_line == 2


def test_crlf_and_long_lines(tmp_path: Path) -> None:
    sink, _ = _log(tmp_path / "stdout")
    sink.write(b"windows\r\n" + b"x" * (loglines.MAX_LINE_BYTES + 10) + b"\nafter\n")
    chunk = read_lines(tmp_path, "stdout")
    assert chunk.lines[0].data == b"windows"
    assert len(chunk.lines[1].data) == loglines.MAX_LINE_BYTES and chunk.lines[1].truncated
    assert chunk.lines[2].data == b"after" and not chunk.lines[2].truncated


def test_line_numbers_go_on_across_a_rotation(tmp_path: Path) -> None:
    sink, clock = _log(tmp_path / "stdout", max_bytes=64)
    for i in range(30):
        sink.write(f"row {i:03}\n".encode())  # 8 bytes a line: the file rotates after every 8 lines
        clock.now += 1
    assert (tmp_path / "stdout.1").exists() and (tmp_path / "stdout.idx.1").exists()
    chunk = read_lines(tmp_path, "stdout", size=100)
    numbers = [line.number for line in chunk.lines]
    assert numbers == list(range(chunk.first_line, 30)) and chunk.first_line > 0
    assert _texts(chunk) == [f"row {i:03}" for i in numbers]
    # A line asked for by number before the rotation is the same line after it.
    assert _texts(read_lines(tmp_path, "stdout", start=28, size=1)) == ["row 028"]
    # Lines rotated away are skipped to the oldest kept.
    assert read_lines(tmp_path, "stdout", start=0, size=1).lines[0].number == chunk.first_line


def test_a_line_cut_by_a_rotation_reads_as_two(tmp_path: Path) -> None:
    sink, _ = _log(tmp_path / "stdout", max_bytes=10)
    sink.write(b"abcdefghijkl\nnext\n")
    chunk = read_lines(tmp_path, "stdout", complete=True)
    assert _texts(chunk) == ["abcdefghij", "kl", "next"]
    assert [line.number for line in chunk.lines] == [0, 1, 2]


def test_a_record_written_ahead_of_its_bytes_is_ignored(tmp_path: Path) -> None:
    sink, _ = _log(tmp_path / "stdout")
    sink.write(b"a\n")
    # The writer indexes a piece before writing it: a reader in between sees the record only.
    sink._index.before_write(2, b"b\n")
    chunk = read_lines(tmp_path, "stdout", complete=True)
    assert _texts(chunk) == ["a"] and chunk.next_line == 1


def test_a_log_without_an_index_reads_at_its_modification_time(tmp_path: Path) -> None:
    (tmp_path / "stdout").write_bytes(b"old\nagent\n")
    os.utime(tmp_path / "stdout", (1_600_000_000, 1_600_000_000))
    chunk = read_lines(tmp_path, "stdout")
    assert _texts(chunk) == ["old", "agent"]
    assert {line.time_ms for line in chunk.lines} == {1_600_000_000_000}


def test_a_stream_never_written_has_no_lines(tmp_path: Path) -> None:
    chunk = read_lines(tmp_path, "stderr")
    assert chunk.lines == [] and chunk.eof and chunk.next_line == 0


def test_answers_are_bounded(tmp_path: Path) -> None:
    sink, _ = _log(tmp_path / "stdout", max_bytes=1 << 24)
    sink.write(b"".join(b"y" * 1000 + b"\n" for _ in range(2000)))
    chunk = read_lines(tmp_path, "stdout", size=5000)
    assert 0 < len(chunk.lines) < 2000 and not chunk.eof
    assert sum(len(line.data) for line in chunk.lines) <= loglines.MAX_ANSWER_BYTES
    with pytest.raises(ValueError, match="size"):
        read_lines(tmp_path, "stdout", size=0)


def test_times_never_go_backwards(tmp_path: Path) -> None:
    sink, clock = _log(tmp_path / "stdout")
    sink.write(b"a\n")
    clock.now -= 60
    sink.write(b"b\n")
    times = [line.time_ms for line in read_lines(tmp_path, "stdout").lines]
    assert times[1] == times[0]
