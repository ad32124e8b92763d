"""``UnpackedApps``: one unpacked copy per archive content, a copy of it per sandbox, collected like the cache."""

from __future__ import annotations

import hashlib
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest

import elasticjob.agent.apps as apps_module
from elasticjob.agent.apps import UnpackedApps
from elasticjob.agent.fetch import CachedArchive
from elasticjob.agent.unpack import UnsafeArchive
from tests.unit.test_agent_unpack import Member, make_tar


def archive_of(path: Path, members: list[Member]) -> CachedArchive:
    make_tar(path, members)
    return CachedArchive(path, hashlib.sha256(path.read_bytes()).hexdigest())


APP = [Member("run.sh", b"#!/bin/sh\necho hi\n", mode=0o755), Member("conf/a.properties", b"a=1\n")]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def unpacks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every archive ``UnpackedApps`` unpacks."""
    seen: list[Path] = []
    real = apps_module.unpack

    def counting(archive: Path, dest: Path, **limits: int) -> None:
        seen.append(archive)
        real(archive, dest, **limits)

    monkeypatch.setattr(apps_module, "unpack", counting)
    return seen


def test_an_archive_is_unpacked_once_and_cloned_into_every_sandbox(tmp_path: Path, unpacks: list[Path]) -> None:
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20)
    archive = archive_of(tmp_path / "app.tar.gz", APP)

    store.install(archive, tmp_path / "s1" / "app")
    store.install(archive, tmp_path / "s2" / "app")

    assert len(unpacks) == 1
    for sandbox in ("s1", "s2"):
        assert (tmp_path / sandbox / "app" / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
        assert os.access(tmp_path / sandbox / "app" / "run.sh", os.X_OK)
    (tmp_path / "s1" / "app" / "run.sh").write_text("changed by a task\n")
    store.install(archive, tmp_path / "s3" / "app")
    assert (tmp_path / "s3" / "app" / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert sorted(p.name for p in store.root.iterdir()) == [".staging", archive.sha256]


def test_concurrent_installs_of_a_new_archive_share_one_unpacking(tmp_path: Path, unpacks: list[Path]) -> None:
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20)
    archive = archive_of(tmp_path / "app.tar.gz", APP)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def install(number: int) -> None:
        barrier.wait()
        try:
            store.install(archive, tmp_path / f"s{number}" / "app")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=install, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == [] and len(unpacks) == 1
    assert all((tmp_path / f"s{n}" / "app" / "run.sh").exists() for n in range(6))


def test_an_unsafe_archive_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20)
    archive = archive_of(tmp_path / "bad.tar.gz", [Member("../escape.txt", b"x")])

    for _ in range(2):
        with pytest.raises(UnsafeArchive, match="escapes"):
            store.install(archive, tmp_path / "s" / "app")
    assert not (tmp_path / "s" / "app").exists() and not (tmp_path / "escape.txt").exists()
    assert [p.name for p in store.root.iterdir()] == [".staging"]
    assert list((store.root / ".staging").iterdir()) == []


def test_the_size_limit_holds_for_the_unpacked_copy(tmp_path: Path) -> None:
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1000)
    archive = archive_of(tmp_path / "big.tar.gz", [Member("big.bin", b"x" * 5000)])
    with pytest.raises(UnsafeArchive, match="exceeds the limit"):
        store.install(archive, tmp_path / "s" / "app")


def test_an_archive_replaced_after_the_fetch_installs_what_is_there(tmp_path: Path) -> None:
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20)
    archive = archive_of(tmp_path / "app.tar.gz", APP)
    claimed = CachedArchive(archive.path, "0" * 64)  # the cache replaced the file after answering

    store.install(claimed, tmp_path / "s" / "app")

    assert (tmp_path / "s" / "app" / "run.sh").exists()
    assert (store.root / archive.sha256).is_dir() and not (store.root / claimed.sha256).exists()


def test_a_restarted_agent_reuses_copies_and_clears_half_made_ones(tmp_path: Path) -> None:
    archive = archive_of(tmp_path / "app.tar.gz", APP)
    UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20).install(archive, tmp_path / "s1" / "app")
    (tmp_path / "unpacked" / ".staging" / "left-over").mkdir()
    archive.path.unlink()  # only the unpacked copy can serve now

    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20)
    store.install(archive, tmp_path / "s2" / "app")

    assert (tmp_path / "s2" / "app" / "run.sh").exists()
    assert list((store.root / ".staging").iterdir()) == []


def test_collect_removes_idle_copies_only(tmp_path: Path, unpacks: list[Path]) -> None:
    clock = Clock()
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20, clock=clock)
    old = archive_of(tmp_path / "old.tar.gz", APP)
    new = archive_of(tmp_path / "new.tar.gz", [*APP, Member("VERSION", b"2\n")])
    store.install(old, tmp_path / "s1" / "app")
    clock.now += 1000
    store.install(new, tmp_path / "s2" / "app")
    long_ago = time.time() - 2000
    for path in sorted((store.root / old.sha256).rglob("*"), reverse=True) + [store.root / old.sha256]:
        os.utime(path, (long_ago, long_ago), follow_symlinks=False)

    removed = store.collect(max_age_seconds=500, max_total_bytes=1 << 30)

    assert removed == [old.sha256]
    assert sorted(p.name for p in store.root.iterdir()) == [".staging", new.sha256]
    store.install(old, tmp_path / "s3" / "app")  # unpacked again
    assert len(unpacks) == 3


def test_a_directory_archive_member_cannot_hold_the_sandbox_back(tmp_path: Path) -> None:
    store = UnpackedApps(tmp_path / "unpacked", max_bytes=1 << 20)
    archive = archive_of(tmp_path / "app.tar.gz", [Member("ro/", type=tarfile.DIRTYPE, mode=0o555),
                                                   Member("ro/f.txt", b"f", mode=0o444)])
    store.install(archive, tmp_path / "s" / "app")
    (tmp_path / "s" / "app" / "ro" / "new.txt").write_text("the owner may write in its own copy\n")
