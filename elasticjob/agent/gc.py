"""Garbage collection of an agent's work directories: old or excess sandboxes and cache entries."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RemovalJournal", "collect"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Usage:
    name: str
    size: int  # bytes of the regular files inside (apparent size; hard links counted per link)
    last_modified: float  # newest mtime of the directory or anything inside it


def collect(root: Path, *, max_age_seconds: float, max_total_bytes: int, keep: Collection[str],
            now: float | None = None) -> list[str]:
    """Remove subdirectories of ``root`` and return their names, in the order removed.

    First every subdirectory not modified for more than ``max_age_seconds`` goes; then, while the total
    size of all subdirectories (kept ones included) is above ``max_total_bytes``, the least recently
    modified remaining one goes. A directory's age is ``now`` (default: ``time.time()``) minus the newest
    mtime of the directory *or anything inside it*, so a sandbox whose task wrote its logs until a minute
    ago is a minute old, however long ago it was created. Names in ``keep`` (running tasks) are never
    removed, nor are plain files or symlinks directly in ``root``; symlinks inside are not followed.

    A directory that cannot be removed entirely is logged, left out of the result and keeps counting
    towards the total. A missing ``root`` means nothing to do. Not safe against concurrent use of a
    directory that is not in ``keep``; safe to run while other directories are being written.
    """
    now = time.time() if now is None else now
    try:
        entries = [entry for entry in os.scandir(root) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    usages = [_measure(Path(entry.path), entry.name) for entry in entries]
    total = sum(usage.size for usage in usages)
    removed: list[str] = []
    remaining: list[_Usage] = []
    for usage in usages:
        expired = usage.name not in keep and now - usage.last_modified > max_age_seconds
        if expired and _remove(root / usage.name):
            removed.append(usage.name)
            total -= usage.size
        else:
            remaining.append(usage)
    for usage in sorted(remaining, key=lambda u: (u.last_modified, u.name)):
        if total <= max_total_bytes:
            break
        if usage.name not in keep and _remove(root / usage.name):
            removed.append(usage.name)
            total -= usage.size
    return removed


def _measure(path: Path, name: str) -> _Usage:
    size = 0
    newest = 0.0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            newest = max(newest, current.lstat().st_mtime)
            children = list(os.scandir(current))
        except OSError:
            continue  # vanished or unreadable: count what can be seen
        for child in children:
            try:
                info = child.stat(follow_symlinks=False)
            except OSError:
                continue
            newest = max(newest, info.st_mtime)
            if stat.S_ISDIR(info.st_mode):
                stack.append(Path(child.path))
            elif stat.S_ISREG(info.st_mode):
                size += info.st_size
    return _Usage(name, size, newest)


def _remove(path: Path) -> bool:
    def make_writable_and_retry(func, failed, _exc_info):  # type: ignore[no-untyped-def]
        # A task may leave a directory without read or write permission; the agent owns it and may fix
        # that (the directory being listed, or the parent of the entry being removed).
        for candidate in (failed, os.path.dirname(failed)):
            if os.path.isdir(candidate) and not os.path.islink(candidate):
                os.chmod(candidate, 0o700)
        func(failed)

    try:
        shutil.rmtree(path, onerror=make_writable_and_retry)
    except OSError as exc:
        log.warning("event=gc_remove_failed path=%s error=%s", path, exc)
        return False
    return True


class RemovalJournal:
    """Which sandboxes ``collect`` removed, and when: how the agent tells a task whose logs its retention
    removed ("gone") from one it never ran. Kept in a file of ``name<TAB>unix_ms`` lines so that it
    survives agent restarts; bounded to the newest ``limit`` names (the file is rewritten when it holds
    twice that). Thread-safe."""

    def __init__(self, path: Path, limit: int = 100_000) -> None:
        self.path = path
        self.limit = limit
        self._lock = threading.Lock()
        self._removed: dict[str, int] = {}
        self._lines = 0
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            name, _, when = line.partition("\t")
            if name and when.isdigit():
                self._removed.pop(name, None)
                self._removed[name] = int(when)
                self._lines += 1
        self._trim()

    def add(self, names: Collection[str], when_ms: int | None = None) -> None:
        if not names:
            return
        when = int(time.time() * 1000) if when_ms is None else when_ms
        with self._lock:
            for name in names:
                self._removed.pop(name, None)
                self._removed[name] = when
            self._lines += len(names)
            try:
                with self.path.open("a", encoding="utf-8") as journal:
                    journal.writelines(f"{name}\t{when}\n" for name in names)
            except OSError as exc:
                log.warning("event=gc_journal_write_failed path=%s error=%s", self.path, exc)
            self._trim()

    def removed_at(self, name: str) -> int | None:
        """When ``name`` was removed (Unix ms), or None if this journal does not know it."""
        with self._lock:
            return self._removed.get(name)

    def _trim(self) -> None:
        while len(self._removed) > self.limit:
            del self._removed[next(iter(self._removed))]
        if self._lines > 2 * self.limit:
            fresh = self.path.with_name(self.path.name + ".new")
            try:
                fresh.write_text("".join(f"{n}\t{w}\n" for n, w in self._removed.items()), encoding="utf-8")
                os.replace(fresh, self.path)
                self._lines = len(self._removed)
            except OSError as exc:
                log.warning("event=gc_journal_write_failed path=%s error=%s", self.path, exc)
