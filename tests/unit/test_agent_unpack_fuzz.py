"""``unpack`` against generated hostile tar archives: it refuses or unpacks, and never writes outside.

Each example builds a tar (plain or gzip) of members drawn from the shapes attackers use (absolute paths,
``..``, symlinks and hard links pointing out, through each other or at the victim, device files and FIFOs,
huge declared sizes with no data behind them, duplicate names, members below links), optionally with bytes
of the stream overwritten or cut off, and unpacks it into a sandbox that sits next to a directory of victim
files. The properties:

* ``unpack`` returns or raises ``ArchiveError`` (``UnsafeArchive`` is one); nothing else escapes;
* everything outside the sandbox is unchanged: the same paths, kinds, sizes, link counts and contents;
* a refused archive leaves no sandbox behind; an accepted one leaves only regular files, directories and
  symlinks whose targets resolve inside the sandbox, and no setuid, setgid or sticky bit.

tmp_path is per test, not per example, so every generated example makes its own temporary directory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from elasticjob.agent.unpack import ArchiveError, unpack

# The victim directory sits beside the sandbox, so "../victim/..." escapes by one level.
VICTIM_NAMES = ("secret.txt", "run.sh")
# Small limits keep each example fast and make the size checks reachable with small archives.
MAX_BYTES = 64 * 1024
MAX_MEMBERS = 12


@dataclass(frozen=True)
class Member:
    name: str
    type: bytes
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    declared_size: int | None = None  # the size in the header when it lies about the data that follows


PLAIN_NAMES = ["a", "b", "c.sh", "dir", "dir/a", "dir/sub/b", "./d", "dir/../e", "f/", "link", "dir/link"]


def _names(victim: str) -> st.SearchStrategy[str]:
    """Member names and link targets: ordinary ones, and every way of pointing at the victim files."""
    hostile = st.sampled_from([
        "../victim/secret.txt", "../../etc/passwd", "dir/../../victim/run.sh", "/etc/passwd", "..", ".", "",
        f"{victim}/secret.txt", victim, "../victim", "link/../../victim", "dir/link/../..", "a\x00b",
        "//abs", "./../victim/new-file", "../sandbox-sibling", "x" * 300, "link/x", "a/b",
    ])
    return st.one_of(st.sampled_from(PLAIN_NAMES), hostile, st.text(alphabet="ab./", min_size=1, max_size=12))


@st.composite
def benign_members(draw: st.DrawFn) -> Member:
    """What a real app archive holds; they make the hostile members' surroundings realistic and let some
    archives through, so the checks on an accepted sandbox run too."""
    names = st.sampled_from(PLAIN_NAMES)
    kind = draw(st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink"]))
    name = draw(names)
    if kind == "file":
        return Member(name, tarfile.REGTYPE, draw(st.binary(max_size=64)), mode=draw(st.sampled_from([0o644, 0o755])))
    if kind == "dir":
        return Member(name, tarfile.DIRTYPE, mode=0o755)
    return Member(name, tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE, linkname=draw(names))


@st.composite
def hostile_members(draw: st.DrawFn, victim: str) -> Member:
    names = _names(victim)
    kind = draw(st.sampled_from(["file", "dir", "symlink", "hardlink", "char", "block", "fifo", "huge",
                                 "contiguous", "unknown"]))
    name = draw(names)
    mode = draw(st.sampled_from([0o644, 0o755, 0o4755, 0o2755, 0o1777, 0o000, 0o7777]))
    if kind == "file":
        return Member(name, tarfile.REGTYPE, draw(st.binary(max_size=64)), mode=mode)
    if kind == "contiguous":
        return Member(name, tarfile.CONTTYPE, draw(st.binary(max_size=16)), mode=mode)
    if kind == "huge":  # a header that declares far more data than follows, or more than the limit
        size = draw(st.sampled_from([MAX_BYTES + 1, 8 * 1024**3, 8**11 - 1]))
        return Member(name, tarfile.REGTYPE, b"x" * draw(st.integers(0, 600)), declared_size=size)
    if kind == "dir":
        return Member(name, tarfile.DIRTYPE, mode=mode)
    if kind in ("symlink", "hardlink"):
        return Member(name, tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE, linkname=draw(names))
    code = {"char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE, "unknown": b"Z"}
    return Member(name, code[kind], mode=mode)


def _header(member: Member, tar_format: int) -> bytes:
    info = tarfile.TarInfo(member.name)
    info.type = member.type
    info.mode = member.mode
    info.linkname = member.linkname
    info.mtime = 1_700_000_000
    info.size = member.declared_size if member.declared_size is not None else len(member.data)
    if member.type not in (tarfile.REGTYPE, tarfile.CONTTYPE):
        info.size = 0
    return info.tobuf(tar_format, "utf-8", "surrogateescape")


def build_tar(entries: list[Member], tar_format: int) -> bytes:
    """The raw tar stream, written header by header so a header may lie about the data after it."""
    out = io.BytesIO()
    for member in entries:
        out.write(_header(member, tar_format))
        if member.type in (tarfile.REGTYPE, tarfile.CONTTYPE):
            out.write(member.data)
            out.write(b"\0" * (-len(member.data) % tarfile.BLOCKSIZE))
    out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    return out.getvalue()


@st.composite
def archives(draw: st.DrawFn, victim: str) -> bytes:
    entries = []
    for member in draw(st.lists(benign_members(), max_size=MAX_MEMBERS, unique_by=lambda m: os.path.normpath(m.name))):
        if member.type == tarfile.LNKTYPE:  # a real archive's hard links share an earlier file of its own
            earlier = [os.path.normpath(e.name) for e in entries if e.type == tarfile.REGTYPE]
            member = Member(member.name, tarfile.LNKTYPE, linkname=draw(st.sampled_from(earlier))) if earlier \
                else Member(member.name, tarfile.REGTYPE, b"no file to link to yet")
        entries.append(member)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        entries.insert(draw(st.integers(0, len(entries))), draw(hostile_members(victim)))
    if entries and draw(st.integers(0, 4)) == 0:
        entries.append(draw(st.sampled_from(entries)))  # a duplicate name
    if not entries:
        entries.append(draw(hostile_members(victim)))
    tar_format = draw(st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]))
    try:
        raw = build_tar(entries, tar_format)
    except ValueError:  # ustar cannot hold the name or a number: write it as GNU instead
        raw = build_tar(entries, tarfile.GNU_FORMAT)
    damage = draw(st.sampled_from(["none"] * 6 + ["overwrite", "truncate"]))
    if damage == "overwrite" and raw:
        buffer = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            buffer[draw(st.integers(0, len(buffer) - 1))] = draw(st.integers(0, 255))
        raw = bytes(buffer)
    elif damage == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    return gzip.compress(raw, mtime=0) if draw(st.booleans()) else raw


@dataclass(frozen=True)
class Seen:
    kind: int
    size: int
    links: int
    digest: str
    target: str


def snapshot(root: Path, skip: Path) -> dict[str, Seen]:
    """Every path below ``root`` except ``skip`` and what is below it, without following links."""
    seen: dict[str, Seen] = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in [*dirs, *files]:
            path = here / name
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else ""
            seen[str(path.relative_to(root))] = Seen(stat.S_IFMT(info.st_mode), info.st_size if digest else 0,
                                                     info.st_nlink, digest, target)
    return seen


def assert_sandbox_is_clean(sandbox: Path) -> None:
    real_sandbox = sandbox.resolve()
    for directory, dirs, files in os.walk(sandbox):
        for name in [*dirs, *files]:
            path = Path(directory) / name
            mode = path.lstat().st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode), f"{path}: special file"
            assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), f"{path}: {oct(mode)}"
            if stat.S_ISLNK(mode):
                assert path.resolve().is_relative_to(real_sandbox), f"{path} -> {os.readlink(path)}"


def victim_beside_sandbox(root: Path) -> Path:
    victim = root / "victim"
    victim.mkdir()
    for name in VICTIM_NAMES:
        (victim / name).write_text(f"{name} must not change\n")
    return victim


def assert_unpacked_inside_or_refused(root: Path, data: bytes) -> None:
    archive = root / "app.tar"
    archive.write_bytes(data)
    sandbox = root / "sandbox"
    before = snapshot(root, skip=sandbox)

    try:
        unpack(archive, sandbox, max_bytes=MAX_BYTES, max_members=MAX_MEMBERS)
    except ArchiveError as error:
        event(f"refused: {type(error).__name__}")
        assert not sandbox.exists(), "a refused archive must leave no sandbox behind"
    else:
        event("unpacked")
        assert_sandbox_is_clean(sandbox)
    assert snapshot(root, skip=sandbox) == before, "unpack changed something outside the sandbox"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_tar_is_refused_or_unpacked_inside_the_sandbox(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        victim = victim_beside_sandbox(root)  # its absolute path is among the generated names
        assert_unpacked_inside_or_refused(root, data.draw(archives(str(victim))))


@pytest.mark.parametrize("entries", [
    [Member("../victim/secret.txt", tarfile.REGTYPE, b"pwned")],
    [Member("l", tarfile.SYMTYPE, linkname="../victim"), Member("l/secret.txt", tarfile.REGTYPE, b"pwned")],
    [Member("p", tarfile.SYMTYPE, linkname="."), Member("q", tarfile.SYMTYPE, linkname="p/p/../victim")],
    [Member("h", tarfile.LNKTYPE, linkname="../victim/run.sh")],
    [Member("a", tarfile.REGTYPE, b"1"), Member("a", tarfile.REGTYPE, b"2")],
    [Member("big", tarfile.REGTYPE, b"", declared_size=8 * 1024**3)],
    # Found by the generator: a component over NAME_MAX was an OSError (ENAMETOOLONG), not a refusal.
    [Member("x" * 300 + "/a", tarfile.REGTYPE, b"1")],
    [Member("a", tarfile.SYMTYPE, linkname="x/" * 2100)],
], ids=["dot-dot", "write-through-symlink", "symlink-via-symlink", "hardlink-out", "duplicate", "huge",
        "long-name", "long-link-target"])
def test_known_hostile_shapes_are_refused(tmp_path: Path, entries: list[Member]) -> None:
    """The classic attacks, always run (the generator may or may not draw them in a given run)."""
    victim_beside_sandbox(tmp_path)
    archive = tmp_path / "app.tar"
    archive.write_bytes(build_tar(entries, tarfile.GNU_FORMAT))
    before = snapshot(tmp_path, skip=tmp_path / "sandbox")
    with pytest.raises(ArchiveError):
        unpack(archive, tmp_path / "sandbox", max_bytes=MAX_BYTES, max_members=MAX_MEMBERS)
    assert not (tmp_path / "sandbox").exists()
    assert snapshot(tmp_path, skip=tmp_path / "sandbox") == before
