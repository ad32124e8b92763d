"""Cheap copies of an unpacked app into a sandbox: a real copy of every file, by reflink where possible.

The source is a tree written by ``unpack`` (directories, regular files, symlinks whose targets were checked,
hard links between its own files). The copy shares nothing with it that a task could change: every file is
a file of its own (a reflink — ``FICLONE`` on btrfs, XFS, ... — shares blocks copy-on-write, so a write to
the copy never reaches the source), never a hard link into the source.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
from pathlib import Path

__all__ = ["clone_tree"]

_FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
# Errors meaning "this file system (pair) cannot do that here": fall back to the next way of copying.
_UNSUPPORTED = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EBADF,
                errno.ETXTBSY}
_CHUNK = 1024 * 1024
_OWNER_FILE = 0o600
_OWNER_DIR = 0o700


def clone_tree(source: Path, dest: Path) -> None:
    """Copy the tree ``source`` to ``dest``, which must not exist (its parents are created).

    Directories, regular files and symlinks are copied; anything else (a device, a FIFO, a socket) raises
    ``OSError`` — ``unpack`` never writes one. Files keep their permission bits and modification time, and
    the owner always gets read and write on files and rwx on directories, as ``unpack`` gives them (so a
    source made read-only yields the same copy). Files hard-linked to each other in ``source`` are hard-linked
    to each other in ``dest``, never to ``source``. Symlinks are created last and nothing is written through
    one. On any error everything written is removed. Thread-safe for distinct ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.mkdir(mode=_OWNER_DIR)
    try:
        _copy(source, dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _copy(source: Path, dest: Path) -> None:
    directories: list[tuple[Path, int]] = [(dest, os.lstat(source).st_mode)]
    symlinks: list[tuple[str, Path]] = []
    linked: dict[tuple[int, int], Path] = {}
    pending = [(source, dest)]
    while pending:
        src_dir, dst_dir = pending.pop()
        with os.scandir(src_dir) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                target = dst_dir / entry.name
                if stat.S_ISDIR(info.st_mode):
                    target.mkdir(mode=_OWNER_DIR)
                    directories.append((target, info.st_mode))
                    pending.append((Path(entry.path), target))
                elif stat.S_ISREG(info.st_mode):
                    first = linked.get((info.st_dev, info.st_ino)) if info.st_nlink > 1 else None
                    if first is not None:
                        os.link(first, target, follow_symlinks=False)
                    else:
                        _copy_file(entry.path, target, info)
                        linked[(info.st_dev, info.st_ino)] = target
                elif stat.S_ISLNK(info.st_mode):
                    symlinks.append((os.readlink(entry.path), target))
                else:
                    raise OSError(errno.EINVAL, f"not a file, directory or symlink: {entry.path}")
    for link_target, path in symlinks:
        os.symlink(link_target, path)
    for path, mode in reversed(directories):  # deepest first, like unpack
        os.chmod(path, stat.S_IMODE(mode) | _OWNER_DIR)


def _copy_file(source: str, target: Path, info: os.stat_result) -> None:
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      _OWNER_FILE)
        try:
            if info.st_size and not _reflink(src, dst):
                _copy_data(src, dst)
            os.fchmod(dst, stat.S_IMODE(info.st_mode) | _OWNER_FILE)
            os.utime(dst, ns=(info.st_mtime_ns, info.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _reflink(src: int, dst: int) -> bool:
    try:
        fcntl.ioctl(dst, _FICLONE, src)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return False
        raise
    return True


def _copy_data(src: int, dst: int) -> None:
    """Until the end of ``src``: ``copy_file_range`` (in the kernel, and a reflink on some file systems),
    else read and write."""
    try:
        while os.copy_file_range(src, dst, 1 << 30):
            pass
        return
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED or os.lseek(dst, 0, os.SEEK_CUR):
            raise
    while chunk := os.read(src, _CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]
