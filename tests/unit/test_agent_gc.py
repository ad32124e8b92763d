"""``gc.collect`` on real directories in tmp_path, with mtimes set explicitly and an injected ``now``."""

from __future__ import annotations

import os
from pathlib import Path

from elasticjob.agent.gc import collect

NOW = 1_800_000_000.0
HOUR = 3600.0


def make_dir(root: Path, name: str, size: int, age: float) -> Path:
    """A directory holding ``size`` bytes in a nested file, everything last modified ``age`` seconds ago."""
    path = root / name
    (path / "logs").mkdir(parents=True)
    (path / "logs" / "stdout").write_bytes(b"x" * size)
    for item in (path / "logs" / "stdout", path / "logs", path):
        os.utime(item, (NOW - age, NOW - age))
    return path


def test_removes_directories_older_than_max_age(tmp_path: Path) -> None:
    make_dir(tmp_path, "old", 10, age=5 * HOUR)
    make_dir(tmp_path, "new", 10, age=HOUR)

    removed = collect(tmp_path, max_age_seconds=2 * HOUR, max_total_bytes=10**9, keep=(), now=NOW)

    assert removed == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


def test_never_removes_kept_directories(tmp_path: Path) -> None:
    make_dir(tmp_path, "running", 1000, age=100 * HOUR)
    make_dir(tmp_path, "done", 1000, age=100 * HOUR)

    removed = collect(tmp_path, max_age_seconds=HOUR, max_total_bytes=0, keep={"running"}, now=NOW)

    assert removed == ["done"]
    assert (tmp_path / "running" / "logs" / "stdout").exists()


def test_removes_oldest_first_until_under_the_size_limit(tmp_path: Path) -> None:
    make_dir(tmp_path, "a", 400, age=4 * HOUR)
    make_dir(tmp_path, "b", 400, age=3 * HOUR)
    make_dir(tmp_path, "c", 400, age=2 * HOUR)
    make_dir(tmp_path, "kept", 400, age=9 * HOUR)  # counts towards the total, but stays

    removed = collect(tmp_path, max_age_seconds=24 * HOUR, max_total_bytes=1000, keep=["kept"], now=NOW)

    # 1600 bytes in all: removing a (1200) is not enough, removing b too (800) is.
    assert removed == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "kept"]


def test_age_counts_from_the_newest_file_inside(tmp_path: Path) -> None:
    path = make_dir(tmp_path, "long-task", 10, age=48 * HOUR)
    recent = path / "logs" / "stderr"
    recent.write_bytes(b"still writing")
    os.utime(recent, (NOW - 60, NOW - 60))
    os.utime(path / "logs", (NOW - 48 * HOUR, NOW - 48 * HOUR))  # the new file must not count via the dir

    assert collect(tmp_path, max_age_seconds=HOUR, max_total_bytes=10**9, keep=(), now=NOW) == []
    assert path.exists()


def test_ignores_plain_files_and_symlinks_in_root_and_does_not_follow_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = make_dir(tmp_path, "outside", 5000, age=100 * HOUR)
    (root / "note.txt").write_text("not a sandbox")
    os.utime(root / "note.txt", (NOW - 100 * HOUR, NOW - 100 * HOUR))
    (root / "link-to-outside").symlink_to(outside)
    sandbox = make_dir(root, "sandbox", 10, age=100 * HOUR)
    (sandbox / "escape").symlink_to(outside)
    os.utime(sandbox / "escape", (NOW - 100 * HOUR, NOW - 100 * HOUR), follow_symlinks=False)
    os.utime(sandbox, (NOW - 100 * HOUR, NOW - 100 * HOUR))

    removed = collect(root, max_age_seconds=HOUR, max_total_bytes=10**9, keep=(), now=NOW)

    assert removed == ["sandbox"]
    assert (root / "note.txt").exists() and (root / "link-to-outside").is_symlink()
    assert (outside / "logs" / "stdout").stat().st_size == 5000


def test_size_of_link_targets_is_not_counted(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    big_outside = make_dir(tmp_path, "outside", 5000, age=0)
    sandbox = make_dir(root, "sandbox", 10, age=0)
    (sandbox / "big").symlink_to(big_outside / "logs" / "stdout")

    assert collect(root, max_age_seconds=HOUR, max_total_bytes=100, keep=(), now=NOW) == []


def test_removes_directories_without_write_permission(tmp_path: Path) -> None:
    path = make_dir(tmp_path, "locked", 10, age=10 * HOUR)
    (path / "logs").chmod(0o500)
    os.utime(path / "logs", (NOW - 10 * HOUR, NOW - 10 * HOUR))

    assert collect(tmp_path, max_age_seconds=HOUR, max_total_bytes=10**9, keep=(), now=NOW) == ["locked"]
    assert not path.exists()


def test_missing_root_is_nothing_to_do(tmp_path: Path) -> None:
    assert collect(tmp_path / "absent", max_age_seconds=0, max_total_bytes=0, keep=()) == []


def test_the_removal_journal_remembers_across_restarts_and_stays_bounded(tmp_path: Path) -> None:
    from elasticjob.agent.gc import RemovalJournal

    journal = RemovalJournal(tmp_path / "removed", limit=3)
    journal.add(["a", "b"], when_ms=1000)
    journal.add(["c", "d"], when_ms=2000)
    assert journal.removed_at("a") is None  # the oldest went beyond the limit
    assert (journal.removed_at("b"), journal.removed_at("d")) == (1000, 2000)
    again = RemovalJournal(tmp_path / "removed", limit=3)
    assert (again.removed_at("a"), again.removed_at("b"), again.removed_at("c")) == (None, 1000, 2000)
    for i in range(10):
        again.add([f"x{i}"], when_ms=3000 + i)
    assert len((tmp_path / "removed").read_text().splitlines()) <= 6  # rewritten at twice the limit
    assert RemovalJournal(tmp_path / "removed", limit=3).removed_at("x9") == 3009
