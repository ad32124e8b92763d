"""``unpack``: real archives written to tmp_path, good ones unpacked, hostile ones refused without a trace."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from elasticjob.agent.unpack import ArchiveError, UnsafeArchive, unpack


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    mode: int = 0o644
    linkname: str = ""
    size: int | None = None  # a declared size different from len(data): the header lies


def make_tar(path: Path, members: list[Member], mode: Literal["w:gz", "w"] = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.mode = member.mode
            info.linkname = member.linkname
            info.mtime = 1_700_000_000
            if member.type == tarfile.REGTYPE:
                info.size = len(member.data)
                tar.addfile(info, io.BytesIO(member.data))
            else:
                tar.addfile(info)
    return path


def make_zip(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
            # mode 0: only the MS-DOS "archive" attribute, as zips written on other systems have.
            info.external_attr = mode << 16 if mode else 0x20
            info.create_system = 3 if mode else 0
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def assert_refused(archive: Path, dest: Path, match: str, **limits: int) -> None:
    with pytest.raises(UnsafeArchive, match=match):
        unpack(archive, dest, **limits)
    assert not dest.exists(), "a refused archive must leave no destination behind"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# --- good archives -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["w:gz", "w"])
def test_tar_unpacks_with_exec_bits_kept_and_setuid_dropped(tmp_path: Path,
                                                            mode: Literal["w:gz", "w"]) -> None:
    archive = make_tar(tmp_path / "app.archive", [
        Member("app/", type=tarfile.DIRTYPE, mode=0o755),
        Member("app/bin/start.sh", b"#!/bin/sh\necho hi\n", mode=0o755),
        Member("app/bin/suid", b"x", mode=0o4755),
        Member("app/conf/app.properties", b"a=1\n", mode=0o640),
        Member("app/lib", type=tarfile.SYMTYPE, linkname="bin"),
        Member("app/start-again.sh", type=tarfile.LNKTYPE, linkname="app/bin/start.sh"),
    ], mode)
    dest = tmp_path / "sandbox"

    unpack(archive, dest)

    start = dest / "app/bin/start.sh"
    assert start.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert mode_of(start) == 0o755
    assert os.access(start, os.X_OK)
    assert mode_of(dest / "app/bin/suid") == 0o755, "setuid must be dropped, exec bits kept"
    assert mode_of(dest / "app/conf/app.properties") == 0o640
    assert os.readlink(dest / "app/lib") == "bin"
    assert (dest / "app/lib/start.sh").read_bytes() == start.read_bytes()
    assert (dest / "app/start-again.sh").stat().st_ino == start.stat().st_ino
    assert start.stat().st_mtime == 1_700_000_000


def test_format_is_detected_by_content_not_name(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "looks-like.zip", [Member("run.sh", b"x", mode=0o700)])
    unpack(archive, tmp_path / "d")
    assert mode_of(tmp_path / "d/run.sh") == 0o700


def test_zip_unpacks_with_exec_bits_kept_and_setuid_dropped(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "app.tgz", [
        ("bin/", b"", stat.S_IFDIR | 0o755),
        ("bin/start.sh", b"#!/bin/sh\n", stat.S_IFREG | 0o755),
        ("bin/suid", b"x", stat.S_IFREG | 0o6755),
        ("README", b"read me", 0),  # no Unix mode at all, as written on other systems
    ])
    dest = tmp_path / "sandbox"
    dest.mkdir()  # an existing empty directory is accepted too

    unpack(archive, dest)

    assert mode_of(dest / "bin/start.sh") == 0o755
    assert mode_of(dest / "bin/suid") == 0o755
    assert (dest / "README").read_bytes() == b"read me"
    assert mode_of(dest / "README") == 0o644


def test_non_empty_destination_is_rejected(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("f", b"x")])
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / "already").write_text("here")
    with pytest.raises(ValueError, match="not empty"):
        unpack(archive, dest)
    assert (dest / "already").read_text() == "here"


def test_not_an_archive_is_an_archive_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not an archive" * 100)
    with pytest.raises(ArchiveError, match="not a tar or zip"):
        unpack(junk, tmp_path / "d")
    assert not (tmp_path / "d").exists()


# --- hostile tar archives ------------------------------------------------------------------------------


def test_dot_dot_escape_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("ok.txt", b"fine"), Member("../escaped", b"pwned")])
    assert_refused(archive, tmp_path / "dest", r"'\.\./escaped'.*escapes")
    assert not (tmp_path / "escaped").exists()


def test_absolute_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "absolute-target"
    archive = make_tar(tmp_path / "a.tgz", [Member(str(target), b"pwned")])
    assert_refused(archive, tmp_path / "dest", "absolute path")
    assert not target.exists()


def test_symlink_to_absolute_path_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("etc", type=tarfile.SYMTYPE, linkname="/etc")])
    assert_refused(archive, tmp_path / "dest", "'etc'.*absolute")


def test_symlink_without_a_target_is_refused(tmp_path: Path) -> None:
    # Found by the fuzzer: os.symlink("", path) fails with FileNotFoundError, which is no refusal.
    archive = make_tar(tmp_path / "a.tgz", [Member("a", type=tarfile.SYMTYPE, linkname="")])
    assert_refused(archive, tmp_path / "dest", "'a'.*without a target")


def test_relative_symlink_escaping_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [
        Member("sub/", type=tarfile.DIRTYPE, mode=0o755),
        Member("sub/a", type=tarfile.SYMTYPE, linkname="../../x"),
    ])
    assert_refused(archive, tmp_path / "dest", "'sub/a'.*escapes")
    assert not (tmp_path / "x").exists()


def test_symlink_escaping_only_through_another_symlink_is_refused(tmp_path: Path) -> None:
    # 'p/p/..' is lexically inside dest, but p -> . so the kernel resolves it to dest's parent.
    archive = make_tar(tmp_path / "a.tgz", [
        Member("p", type=tarfile.SYMTYPE, linkname="."),
        Member("q", type=tarfile.SYMTYPE, linkname="p/p/.."),
    ])
    assert_refused(archive, tmp_path / "dest", "'q'.*escapes")


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [
        Member("a", type=tarfile.SYMTYPE, linkname="b"),
        Member("b", type=tarfile.SYMTYPE, linkname="a"),
    ])
    assert_refused(archive, tmp_path / "dest", "'a'.*symlink loop")


def test_symlink_replacing_the_destination_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("./", type=tarfile.SYMTYPE, linkname="sub")])
    assert_refused(archive, tmp_path / "dest", "symlink cannot replace the destination")


def test_member_written_through_a_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = make_tar(tmp_path / "a.tgz", [
        Member("link", type=tarfile.SYMTYPE, linkname="inner"),
        Member("link/file", b"through the link"),
    ])
    assert_refused(archive, tmp_path / "dest", "'link/file'.*below a symlink")
    assert list(outside.iterdir()) == []


def test_hard_link_to_outside_file_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd")])
    assert_refused(archive, tmp_path / "dest", "'passwd'.*hard link to absolute")


def test_hard_link_escaping_with_dot_dot_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("secret")
    archive = make_tar(tmp_path / "a.tgz", [Member("v", type=tarfile.LNKTYPE, linkname="../victim")])
    assert_refused(archive, tmp_path / "dest", "'v'.*escapes")
    assert victim.stat().st_nlink == 1


def test_hard_link_to_non_member_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("h", type=tarfile.LNKTYPE, linkname="not/there")])
    assert_refused(archive, tmp_path / "dest", "'h'.*not an earlier regular file")


def test_device_file_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("ok", b"x"), Member("null", type=tarfile.CHRTYPE)])
    assert_refused(archive, tmp_path / "dest", "'null'.*device")


def test_fifo_is_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("pipe", type=tarfile.FIFOTYPE)])
    assert_refused(archive, tmp_path / "dest", "'pipe'.*FIFO")


def test_member_declaring_a_huge_size_is_refused_before_reading_it(tmp_path: Path) -> None:
    # A header claiming 8 GiB followed by no data at all: only the declared size can refuse it.
    info = tarfile.TarInfo("huge.bin")
    info.size = 8 * 1024**3
    archive = tmp_path / "bomb.tar"
    archive.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT))
    assert_refused(archive, tmp_path / "dest", "'huge.bin'.*exceeds the limit")


def test_many_small_members_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member(f"f{i}", b"x" * 100) for i in range(20)])
    assert_refused(archive, tmp_path / "dest", "'f10'.*exceeds the limit", max_bytes=1000)


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member(f"f{i}") for i in range(11)])
    assert_refused(archive, tmp_path / "dest", "'f10'.*more than 10 members", max_members=10)


def test_refusal_empties_an_existing_destination(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tgz", [Member("good", b"x"), Member("../bad", b"y")])
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchive):
        unpack(archive, dest)
    assert dest.is_dir() and list(dest.iterdir()) == []


# --- hostile zip archives ------------------------------------------------------------------------------


def test_zip_bomb_is_refused_by_declared_size(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", [("zeros", bytes(4 * 1024 * 1024), stat.S_IFREG | 0o644)])
    assert archive.stat().st_size < 64 * 1024, "the test needs a highly compressible member"
    assert_refused(archive, tmp_path / "dest", "'zeros'.*exceeds the limit", max_bytes=1024 * 1024)


def test_zip_with_lying_size_header_writes_no_more_than_declared(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "liar.zip", [("zeros", bytes(1024 * 1024), stat.S_IFREG | 0o644)])
    raw = bytearray(archive.read_bytes())
    # Patch the uncompressed size in the local header (offset 22) and the central directory (offset 24).
    raw[22:26] = (100).to_bytes(4, "little")
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 24:central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))

    with pytest.raises(ArchiveError):
        unpack(archive, tmp_path / "dest", max_bytes=1000)
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(("name", "mode", "data", "match"), [
    ("../x", stat.S_IFREG | 0o644, b"pwned", "escapes"),
    ("link", stat.S_IFLNK | 0o777, b"/etc", "absolute"),
    ("link", stat.S_IFLNK | 0o777, b"../../x", "escapes"),
    ("dev", stat.S_IFCHR | 0o644, b"", "device"),
    ("fifo", stat.S_IFIFO | 0o644, b"", "FIFO"),
])
def test_zip_hostile_members_are_refused(tmp_path: Path, name: str, mode: int, data: bytes,
                                        match: str) -> None:
    archive = make_zip(tmp_path / "a.zip", [("ok", b"fine", stat.S_IFREG | 0o644), (name, data, mode)])
    assert_refused(archive, tmp_path / "deep" / "dest", match)
    assert not (tmp_path / "x").exists() and not (tmp_path / "deep" / "x").exists()


def test_zip_with_too_many_members_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", [(f"f{i}", b"", stat.S_IFREG | 0o644) for i in range(6)])
    assert_refused(archive, tmp_path / "dest", "more than 5 members", max_members=5)
