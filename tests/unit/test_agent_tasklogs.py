"""``read_log`` byte ranges, and the capped, rotating writer the task's pipes feed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from elasticjob.agent.tasklogs import MAX_CHUNK, LogPipe, RotatingLog, read_log


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    (tmp_path / "stdout").write_bytes(b"0123456789")
    return tmp_path


def test_reads_a_range_from_the_start(log_dir: Path) -> None:
    chunk = read_log(log_dir, "stdout", 2, 3)
    assert (chunk.data, chunk.offset, chunk.next_offset, chunk.size, chunk.eof) == (b"234", 2, 5, 10, False)


def test_read_to_the_end_reports_eof(log_dir: Path) -> None:
    chunk = read_log(log_dir, "stdout", 7, 100)
    assert (chunk.data, chunk.next_offset, chunk.eof) == (b"789", 10, True)


def test_offset_at_the_end_is_empty_and_eof(log_dir: Path) -> None:
    chunk = read_log(log_dir, "stdout", 10, 5)
    assert (chunk.data, chunk.offset, chunk.next_offset, chunk.eof) == (b"", 10, 10, True)


def test_negative_offset_counts_from_the_end_like_tail(log_dir: Path) -> None:
    chunk = read_log(log_dir, "stdout", -4, 100)
    assert (chunk.data, chunk.offset, chunk.next_offset, chunk.eof) == (b"6789", 6, 10, True)


def test_negative_offset_longer_than_the_file_starts_at_zero(log_dir: Path) -> None:
    chunk = read_log(log_dir, "stdout", -1000, 3)
    assert (chunk.data, chunk.offset) == (b"012", 0)


def test_length_is_clamped(tmp_path: Path) -> None:
    (tmp_path / "stderr").write_bytes(b"e" * (MAX_CHUNK + 10))
    chunk = read_log(tmp_path, "stderr", 0, 10 * MAX_CHUNK)
    assert len(chunk.data) == MAX_CHUNK and chunk.next_offset == MAX_CHUNK and not chunk.eof


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    chunk = read_log(tmp_path, "stderr", 0, 10)
    assert (chunk.data, chunk.size, chunk.eof) == (b"", 0, True)


@pytest.mark.parametrize(("stream", "offset", "length", "match"), [
    ("stdout", 11, 1, "beyond the end"),
    ("stdout", 0, -1, "length"),
    ("journal", 0, 1, "stream"),
])
def test_invalid_ranges_raise_value_error(log_dir: Path, stream: str, offset: int, length: int,
                                          match: str) -> None:
    with pytest.raises(ValueError, match=match):
        read_log(log_dir, stream, offset, length)  # type: ignore[arg-type]


def test_rotating_log_caps_the_current_file_and_keeps_one_previous(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "stdout", max_bytes=100)
    for index in range(5):
        log.write(bytes([65 + index]) * 70)  # 350 bytes: AAA.. BBB.. CCC.. DDD.. EEE..
    log.close()

    current = (tmp_path / "stdout").read_bytes()
    previous = (tmp_path / "stdout.1").read_bytes()
    assert len(current) == 50 and len(previous) == 100
    assert previous + current == (b"C" * 70 + b"D" * 70 + b"E" * 70)[-150:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stdout", "stdout.1", "stdout.idx", "stdout.idx.1"]


def test_offsets_after_rotation_refer_to_the_current_file(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "stdout", max_bytes=10)
    log.write(b"0123456789")
    before = read_log(tmp_path, "stdout", 0, 100)
    log.write(b"abc")
    log.close()

    assert before.next_offset == 10
    with pytest.raises(ValueError, match="rotated"):
        read_log(tmp_path, "stdout", 11, 100)
    assert read_log(tmp_path, "stdout", 0, 100).data == b"abc"


def test_a_log_is_created_by_its_first_write(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "stderr", max_bytes=100)
    assert not (tmp_path / "stderr").exists()  # a task that never writes to stderr costs no file
    assert read_log(tmp_path, "stderr", 0, 100) == read_log(tmp_path, "stdout", 0, 100)
    log.write(b"")
    assert not (tmp_path / "stderr").exists()
    log.write(b"late\n")
    log.close()
    assert (tmp_path / "stderr").read_bytes() == b"late\n"


def test_an_existing_log_is_appended_to(tmp_path: Path) -> None:
    (tmp_path / "stdout").write_bytes(b"x" * 8)
    log = RotatingLog(tmp_path / "stdout", max_bytes=10)
    log.write(b"abc")
    log.close()
    assert (tmp_path / "stdout.1").read_bytes() == b"x" * 8 + b"ab"  # the cap counts what was there
    assert (tmp_path / "stdout").read_bytes() == b"c"


def test_log_pipe_copies_a_pipe_until_eof_and_keeps_a_tail(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    pipe = LogPipe(read_fd, RotatingLog(tmp_path / "stderr", max_bytes=1000), tail_bytes=8)
    os.write(write_fd, b"hello ")
    assert pipe.on_readable()
    os.write(write_fd, b"MemoryError\n")
    os.close(write_fd)
    while pipe.on_readable():
        pass
    os.fstat(read_fd)  # still open at the end of the pipe: the owner closes it
    pipe.close()

    assert (tmp_path / "stderr").read_bytes() == b"hello MemoryError\n"
    assert pipe.tail.get() == b"hello MemoryError\n"[-8:]
    with pytest.raises(OSError):
        os.fstat(read_fd)


def test_log_pipe_drains_the_pipe_when_the_log_cannot_be_written(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    pipe = LogPipe(read_fd, RotatingLog(Path("/dev/full"), max_bytes=1 << 30))  # every write: ENOSPC
    for _ in range(3):
        os.write(write_fd, b"x" * 30_000)
        assert pipe.on_readable()
    os.close(write_fd)
    while pipe.on_readable():
        pass
    pipe.close()

    assert pipe.tail.get() == b"x" * 65_536
