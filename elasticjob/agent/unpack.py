"""Path-safe unpacking of an app archive (tar, tar.gz/bz2/xz, zip) into a sandbox directory.

The archive comes from a URL an app owner controls, so it is treated as hostile. ``unpack`` reads the whole
member list first, refuses the archive if any member is unsafe, and only then writes, member by member,
with its own code (never ``extractall``): regular files are created with ``O_CREAT | O_EXCL | O_NOFOLLOW``,
directories with ``mkdir``, hard links with ``os.link`` to an already written member, and symlinks last, so
no write ever goes through a link. Thread-safe: calls share no state (two calls must not share ``dest``).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Protocol

__all__ = ["ArchiveError", "UnsafeArchive", "is_archive", "unpack"]

MIB = 1024 * 1024
GIB = 1024 * MIB
_COPY_CHUNK = 256 * 1024
# The kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS); more means a loop.
_MAX_LINK_HOPS = 40
# A zip symlink stores its target as the member's data; no sane target is longer than PATH_MAX.
_MAX_LINK_TARGET = 4096
# Linux refuses longer names (NAME_MAX) with ENAMETOOLONG; refusing them up front keeps that an UnsafeArchive.
_MAX_NAME_BYTES = 255
# Member paths are joined to dest, and the kernel takes at most PATH_MAX (4096) bytes per path: this leaves
# dest 3 KiB, and no real app needs deeper paths.
_MAX_PATH_BYTES = 1024
# Only the permission bits survive; setuid, setgid and sticky never do.
_PERMISSION_BITS = 0o777


class ArchiveError(Exception):
    """The archive cannot be read: neither tar nor zip, truncated, corrupt, or encrypted."""


class UnsafeArchive(ArchiveError):
    """The archive is readable but refused: the message names the offending member and the reason."""


class _Kind(Enum):
    FILE = "file"
    DIR = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hard link"


@dataclass(frozen=True)
class _Entry:
    """One validated member: ``parts`` is its normalised path below dest, ``link`` the normalised
    link target (hard link: parts of the target member; symlink: the raw relative target)."""

    name: str
    parts: tuple[str, ...]
    kind: _Kind
    size: int
    mode: int
    mtime: float | None
    link: str = ""


def unpack(archive: Path, dest: Path, *, max_bytes: int = GIB, max_members: int = 100_000) -> None:
    """Unpack ``archive`` into ``dest``, which must be absent or an empty directory.

    The format is detected from the content (``tarfile.is_tarfile``, then ``zipfile.is_zipfile``), not the
    name. Raises ``UnsafeArchive`` — before anything is written — for a member with an absolute path, a
    ``..`` that escapes, a symlink whose target resolves outside ``dest`` (through the archive's other
    links too), a hard link to anything but an earlier regular file of the archive, a device file or FIFO,
    a member below a file or symlink, a duplicate name, a name the file system cannot hold (a component over
    255 bytes, a path over 1024), more than ``max_members`` members, or a declared
    total size over ``max_bytes``. The bytes actually written are counted as well (a zip header or a
    compressed stream may lie), and exceeding ``max_bytes`` while writing also raises ``UnsafeArchive``.
    Raises ``ArchiveError`` for an unreadable archive and ``ValueError`` for a non-empty ``dest``.

    On any error, everything written is removed (``dest`` too if this call created it). Files keep their
    permission bits, executable bits included, but never setuid/setgid/sticky; the owner always keeps read
    and write (directories: rwx) so the agent can clean up. Owners are not restored: every file belongs to
    the agent's user. Regular files keep their modification time.
    """
    if max_bytes < 0 or max_members < 0:
        raise ValueError("max_bytes and max_members must not be negative")
    created = _prepare_dest(dest)
    try:
        if _is_tar(archive):
            _unpack_tar(archive, dest, max_bytes, max_members)
        elif zipfile.is_zipfile(archive):
            _unpack_zip(archive, dest, max_bytes, max_members)
        else:
            raise ArchiveError(f"{archive.name}: not a tar or zip archive")
    except BaseException:
        _clean(dest, remove_dest=created)
        raise


# --- destination -------------------------------------------------------------------------------------


def _prepare_dest(dest: Path) -> bool:
    """Create ``dest`` (returns True) or accept an existing empty real directory (returns False)."""
    if dest.is_symlink():
        raise ValueError(f"{dest} is a symlink; unpack needs a real directory")
    if dest.exists():
        if not dest.is_dir():
            raise ValueError(f"{dest} exists and is not a directory")
        if any(dest.iterdir()):
            # An existing entry could be a symlink planted to redirect a write; only empty is safe.
            raise ValueError(f"{dest} is not empty")
        return False
    dest.mkdir(parents=True)
    return True


def _clean(dest: Path, *, remove_dest: bool) -> None:
    # No permission fixing needed: directories keep owner rwx throughout (see _finish).
    if remove_dest:
        shutil.rmtree(dest)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


# --- validation ----------------------------------------------------------------------------------------


def _normalise(path: str, name: str) -> tuple[str, ...]:
    """Member path (or hard-link target) -> parts below dest; ``..`` is resolved lexically and may not
    climb above. ``name`` is the member the errors are about."""
    if path.startswith("/") or "\x00" in path:
        raise UnsafeArchive(f"member {name!r}: absolute path {path!r}")
    if len(path.encode("utf-8", "surrogateescape")) > _MAX_PATH_BYTES:
        raise UnsafeArchive(f"member {name[:64]!r}...: path longer than {_MAX_PATH_BYTES} bytes")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if len(part.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
            raise UnsafeArchive(f"member {name[:64]!r}...: a path component is longer than {_MAX_NAME_BYTES} "
                                "bytes")
        if part == "..":
            if not parts:
                raise UnsafeArchive(f"member {name!r}: path {path!r} escapes the destination ('..')")
            parts.pop()
        else:
            parts.append(part)
    return tuple(parts)


def _check_symlink_target(entry: _Entry, symlinks: dict[tuple[str, ...], str]) -> None:
    """Resolve the link the way the kernel will, following the archive's other symlinks, and refuse it if
    it ever climbs above dest. A lexical check alone is not enough: with ``p -> .``, the target
    ``p/p/..`` is lexically inside but ``..`` applies to what ``p/p`` resolves to."""
    if not entry.link:
        raise UnsafeArchive(f"member {entry.name!r}: symlink without a target")
    if entry.link.startswith("/"):
        raise UnsafeArchive(f"member {entry.name!r}: symlink to absolute path {entry.link!r}")
    resolved: list[str] = list(entry.parts[:-1])
    pending = entry.link.split("/")
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise UnsafeArchive(f"member {entry.name!r}: symlink target {entry.link!r} escapes the "
                                    "destination")
            resolved.pop()
            continue
        target = symlinks.get((*resolved, part))
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > _MAX_LINK_HOPS:
            raise UnsafeArchive(f"member {entry.name!r}: symlink loop")
        if target.startswith("/"):
            raise UnsafeArchive(f"member {entry.name!r}: symlink resolves through an absolute link")
        pending = target.split("/") + pending


def _validate(entries: list[_Entry]) -> None:
    """Checks that need the whole member list: duplicates, nesting, hard-link and symlink targets."""
    kinds: dict[tuple[str, ...], _Kind] = {}
    files_so_far: set[tuple[str, ...]] = set()
    for entry in entries:
        if not entry.parts and entry.kind is not _Kind.DIR:
            raise UnsafeArchive(f"member {entry.name!r}: a {entry.kind.value} cannot replace the destination")
        previous = kinds.get(entry.parts)
        if previous is not None and not (previous is _Kind.DIR and entry.kind is _Kind.DIR):
            raise UnsafeArchive(f"member {entry.name!r}: duplicate name")
        kinds[entry.parts] = entry.kind
        if entry.kind is _Kind.HARDLINK:
            # A hard link may only share an earlier regular file, so it can never reach outside dest.
            if tuple(entry.link.split("/")) not in files_so_far:
                raise UnsafeArchive(f"member {entry.name!r}: hard link to {entry.link!r}, which is not an "
                                    "earlier regular file of the archive")
        elif entry.kind is _Kind.FILE:
            files_so_far.add(entry.parts)
    for entry in entries:
        for depth in range(1, len(entry.parts)):
            kind = kinds.get(entry.parts[:depth])
            if kind is not None and kind is not _Kind.DIR:
                # Below a symlink the write would follow the link; below a file it would just fail.
                raise UnsafeArchive(f"member {entry.name!r}: lies below a {kind.value} "
                                    f"{'/'.join(entry.parts[:depth])!r}")
    symlinks = {entry.parts: entry.link for entry in entries if entry.kind is _Kind.SYMLINK}
    for entry in entries:
        if entry.kind is _Kind.SYMLINK:
            _check_symlink_target(entry, symlinks)


def _check_limits(name: str, count: int, total: int, max_bytes: int, max_members: int) -> None:
    if count > max_members:
        raise UnsafeArchive(f"member {name!r}: more than {max_members} members")
    if total > max_bytes:
        raise UnsafeArchive(f"member {name!r}: unpacked size exceeds the limit of {max_bytes} bytes")


# --- writing -------------------------------------------------------------------------------------------


class _Budget:
    """Bytes still allowed to be written; guards against sizes that lie."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, name: str, amount: int) -> None:
        self.left -= amount
        if self.left < 0:
            raise UnsafeArchive(f"member {name!r}: unpacked size exceeds the limit (more data than declared)")


def _path(dest: Path, parts: tuple[str, ...]) -> Path:
    return dest.joinpath(*parts)


def _write_file(dest: Path, entry: _Entry, source: IO[bytes], budget: _Budget) -> None:
    path = _path(dest, entry.parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL + O_NOFOLLOW: never overwrite and never follow anything that is already there.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            budget.spend(entry.name, len(chunk))
            out.write(chunk)
    os.chmod(path, (entry.mode & _PERMISSION_BITS) | 0o600)
    if entry.mtime is not None:
        os.utime(path, (entry.mtime, entry.mtime), follow_symlinks=False)


def _write_dir(dest: Path, entry: _Entry) -> None:
    if entry.parts:
        _path(dest, entry.parts).mkdir(parents=True, exist_ok=True)


def _finish(dest: Path, entries: list[_Entry]) -> None:
    """Symlinks last (so nothing was written through them), then directory modes (so a read-only
    directory did not block its own children)."""
    for entry in entries:
        if entry.kind is _Kind.SYMLINK:
            path = _path(dest, entry.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(entry.link, path)
    for entry in reversed(entries):
        if entry.kind is _Kind.DIR and entry.parts:
            os.chmod(_path(dest, entry.parts), (entry.mode & _PERMISSION_BITS) | 0o700)


# --- tar -----------------------------------------------------------------------------------------------


def is_archive(path: Path) -> bool:
    """True when ``unpack`` would read ``path`` as a tar (plain or compressed) or zip archive (by content,
    as ``unpack`` decides; whether it is also safe and intact only ``unpack`` tells)."""
    if _is_tar(path):
        return True
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _is_tar(archive: Path) -> bool:
    try:
        return tarfile.is_tarfile(archive)
    except OSError:
        return False


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader:
    """The decompressed tar stream, cut off after ``limit`` bytes so a compression bomb (even one hidden
    in a pax header, which tarfile reads into memory) cannot make us read or allocate without bound."""

    def __init__(self, raw: _Readable, limit: int, archive: str) -> None:
        self._raw = raw
        self._left = limit
        self._archive = archive

    def read(self, size: int = -1) -> bytes:
        want = self._left + 1 if size < 0 else min(size, self._left + 1)
        data = self._raw.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise UnsafeArchive(f"{self._archive}: decompressed stream exceeds the size limit")
        return data


@contextmanager
def _open_tar_stream(archive: Path, max_bytes: int, max_members: int) -> Iterator[tarfile.TarFile]:
    """Yield a streaming TarFile over the decompressed content; the compression is found by magic."""
    with archive.open("rb") as probe:
        magic = probe.read(6)
    with ExitStack() as stack:
        raw: _Readable
        if magic.startswith(b"\x1f\x8b"):
            raw = stack.enter_context(gzip.open(archive, "rb"))
        elif magic.startswith(b"BZh"):
            raw = stack.enter_context(bz2.open(archive, "rb"))
        elif magic.startswith(b"\xfd7zXZ\x00"):
            raw = stack.enter_context(lzma.open(archive, "rb"))
        else:
            raw = stack.enter_context(archive.open("rb"))
        # Headers cost at most a few 512-byte blocks per member (name and pax extensions) plus end padding.
        limit = max_bytes + 4 * 512 * (max_members + 1) + MIB
        reader = _CountingReader(raw, limit, archive.name)
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            yield tar


def _tar_entry(member: tarfile.TarInfo) -> _Entry:
    name = member.name
    parts = _normalise(name, name)
    mtime = float(member.mtime) if isinstance(member.mtime, int | float) else None
    if member.isreg():
        kind = _Kind.FILE
    elif member.isdir():
        kind = _Kind.DIR
    elif member.issym():
        if len(member.linkname.encode("utf-8", "surrogateescape")) > _MAX_LINK_TARGET:
            raise UnsafeArchive(f"member {name!r}: symlink target too long")
        return _Entry(name, parts, _Kind.SYMLINK, 0, 0o777, None, member.linkname)
    elif member.islnk():
        target = member.linkname
        if target.startswith("/"):
            raise UnsafeArchive(f"member {name!r}: hard link to absolute path {target!r}")
        link_parts = _normalise(target, name)
        return _Entry(name, parts, _Kind.HARDLINK, 0, 0, None, "/".join(link_parts))
    elif member.ischr() or member.isblk():
        raise UnsafeArchive(f"member {name!r}: device file")
    elif member.isfifo():
        raise UnsafeArchive(f"member {name!r}: FIFO")
    else:
        raise UnsafeArchive(f"member {name!r}: unsupported member type {member.type!r}")
    return _Entry(name, parts, kind, member.size if kind is _Kind.FILE else 0, member.mode, mtime)


def _unpack_tar(archive: Path, dest: Path, max_bytes: int, max_members: int) -> None:
    entries: list[_Entry] = []
    total = 0
    try:
        with _open_tar_stream(archive, max_bytes, max_members) as tar:
            # Streaming read: each check runs right after the header, before the member's data is read.
            for member in tar:
                entry = _tar_entry(member)
                total += entry.size
                entries.append(entry)
                _check_limits(member.name, len(entries), total, max_bytes, max_members)
        _validate(entries)
        budget = _Budget(max_bytes)
        seen = 0
        with _open_tar_stream(archive, max_bytes, max_members) as tar:
            for member in tar:
                # The file is read twice; refuse if the second pass does not see what was validated.
                if seen >= len(entries) or _tar_entry(member) != entries[seen]:
                    raise ArchiveError(f"{archive.name}: archive changed while unpacking")
                entry = entries[seen]
                seen += 1
                if entry.kind is _Kind.FILE:
                    source = tar.extractfile(member)
                    if source is None:
                        raise ArchiveError(f"member {member.name!r}: no data")
                    with source:
                        _write_file(dest, entry, source, budget)
                elif entry.kind is _Kind.DIR:
                    _write_dir(dest, entry)
                elif entry.kind is _Kind.HARDLINK:
                    path = _path(dest, entry.parts)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.link(_path(dest, tuple(entry.link.split("/"))), path, follow_symlinks=False)
        if seen != len(entries):
            raise ArchiveError(f"{archive.name}: archive changed while unpacking")
        _finish(dest, entries)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise ArchiveError(f"{archive.name}: corrupt tar archive: {exc}") from exc


# --- zip -----------------------------------------------------------------------------------------------


def _zip_entry(info: zipfile.ZipInfo, archive: zipfile.ZipFile) -> _Entry:
    name = info.filename
    parts = _normalise(name, name)
    # Unix zips keep st_mode in the high 16 bits of external_attr; other zips have none (0).
    unix_mode = (info.external_attr >> 16) & 0xFFFF
    file_type = stat.S_IFMT(unix_mode)
    mtime = _zip_mtime(info)
    if info.is_dir() or file_type == stat.S_IFDIR:
        return _Entry(name, parts, _Kind.DIR, 0, unix_mode or 0o755, None)
    if file_type == stat.S_IFLNK:
        if info.file_size > _MAX_LINK_TARGET:
            raise UnsafeArchive(f"member {name!r}: symlink target too long")
        with archive.open(info) as source:
            target = source.read(_MAX_LINK_TARGET + 1).decode("utf-8", "surrogateescape")
        return _Entry(name, parts, _Kind.SYMLINK, 0, 0o777, None, target)
    if file_type in (stat.S_IFCHR, stat.S_IFBLK):
        raise UnsafeArchive(f"member {name!r}: device file")
    if file_type == stat.S_IFIFO:
        raise UnsafeArchive(f"member {name!r}: FIFO")
    if file_type not in (0, stat.S_IFREG):
        raise UnsafeArchive(f"member {name!r}: unsupported file type {oct(file_type)}")
    return _Entry(name, parts, _Kind.FILE, info.file_size, unix_mode or 0o644, mtime)


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return None


def _unpack_zip(archive: Path, dest: Path, max_bytes: int, max_members: int) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > max_members:
                raise UnsafeArchive(f"member {infos[max_members].filename!r}: more than {max_members} "
                                    "members")
            entries: list[_Entry] = []
            total = 0
            for info in infos:
                entry = _zip_entry(info, zf)
                total += entry.size
                entries.append(entry)
                _check_limits(info.filename, len(entries), total, max_bytes, max_members)
            _validate(entries)
            budget = _Budget(max_bytes)
            for info, entry in zip(infos, entries, strict=True):
                if entry.kind is _Kind.FILE:
                    with zf.open(info) as source:
                        _write_file(dest, entry, source, budget)
                elif entry.kind is _Kind.DIR:
                    _write_dir(dest, entry)
            _finish(dest, entries)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError,
            zlib.error, lzma.LZMAError) as exc:
        # RuntimeError: encrypted member; NotImplementedError: unknown compression method.
        raise ArchiveError(f"{archive.name}: unreadable zip archive: {exc}") from exc
