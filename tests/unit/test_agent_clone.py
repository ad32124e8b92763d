"""``clone_tree``: a sandbox's own copy of an unpacked app, equal to unpacking it there, sharing nothing."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from elasticjob.agent.clone import clone_tree
from elasticjob.agent.unpack import unpack
from tests.unit.test_agent_unpack import Member, make_tar

APP = [
    Member("app/", type=tarfile.DIRTYPE, mode=0o750),
    Member("app/bin/start.sh", b"#!/bin/sh\necho hi\n", mode=0o755),
    Member("app/conf/app.properties", b"a=1\n", mode=0o640),
    Member("app/conf/shared.txt", b"group-writable\n", mode=0o666),
    Member("app/empty", b"", mode=0o600),
    Member("app/lib", type=tarfile.SYMTYPE, linkname="bin"),
    Member("app/start-again.sh", type=tarfile.LNKTYPE, linkname="app/bin/start.sh"),
    Member("app/locked/", type=tarfile.DIRTYPE, mode=0o500),
    Member("app/locked/inside.txt", b"in a read-only directory\n", mode=0o400),
]


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes | str, int]]:
    """Every entry below ``root``: kind, permission bits, content (or link target), mtime (files)."""
    found: dict[str, tuple[str, int, bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        name = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            found[name] = ("link", 0, os.readlink(path), 0)
        elif stat.S_ISDIR(info.st_mode):
            found[name] = ("dir", stat.S_IMODE(info.st_mode), "", 0)
        else:
            found[name] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes(), int(info.st_mtime))
    return found


def read_only(root: Path) -> None:
    """What ``UnpackedApps`` does to its shared copy: the owner's write bits off."""
    for path in sorted(root.rglob("*"), reverse=True):
        if not path.is_symlink():
            path.chmod(stat.S_IMODE(path.lstat().st_mode) & ~stat.S_IWUSR)
    root.chmod(stat.S_IMODE(root.stat().st_mode) & ~stat.S_IWUSR)


def test_a_clone_equals_unpacking_into_the_sandbox(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "app.tar.gz", APP)
    unpack(archive, tmp_path / "direct")
    unpack(archive, tmp_path / "shared")
    read_only(tmp_path / "shared")

    clone_tree(tmp_path / "shared", tmp_path / "sandbox" / "app")

    assert snapshot(tmp_path / "sandbox" / "app") == snapshot(tmp_path / "direct")
    assert (tmp_path / "sandbox" / "app").stat().st_mode == (tmp_path / "direct").stat().st_mode


def test_a_clone_shares_no_file_with_its_source(tmp_path: Path) -> None:
    unpack(make_tar(tmp_path / "app.tar.gz", APP), tmp_path / "shared")
    clone_tree(tmp_path / "shared", tmp_path / "one")
    clone_tree(tmp_path / "shared", tmp_path / "two")

    start = Path("app/bin/start.sh")
    again = Path("app/start-again.sh")
    inodes = {(tmp_path / tree / start).stat().st_ino for tree in ("shared", "one", "two")}
    assert len(inodes) == 3
    # hard links of the archive stay hard links, within each copy
    assert (tmp_path / "one" / again).stat().st_ino == (tmp_path / "one" / start).stat().st_ino
    (tmp_path / "one" / start).write_text("changed by a task\n")
    assert (tmp_path / "shared" / start).read_text() == "#!/bin/sh\necho hi\n"
    assert (tmp_path / "two" / start).read_text() == "#!/bin/sh\necho hi\n"


def test_anything_but_files_directories_and_symlinks_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "shared"
    source.mkdir()
    (source / "a.txt").write_text("a")
    os.mkfifo(source / "fifo")

    with pytest.raises(OSError, match="not a file, directory or symlink"):
        clone_tree(source, tmp_path / "sandbox" / "app")
    assert not (tmp_path / "sandbox" / "app").exists()


def test_an_existing_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "app").mkdir()
    with pytest.raises(FileExistsError):
        clone_tree(tmp_path / "shared", tmp_path / "app")
