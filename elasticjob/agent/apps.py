"""Unpacked apps: one unpacked copy per archive content, cloned into each sandbox instead of unpacking again.

Layout under ``root``: ``<sha256 of the archive>/`` holds the archive's files as ``unpack`` wrote them (with
all its checks and limits), with the owner's write bits taken away so that nothing writes to a shared copy by
accident; ``.staging/`` holds copies being made (emptied at start-up). A copy is published by an atomic
rename, so a directory named by a digest is always complete. Each sandbox gets a copy of its own
(``clone.clone_tree``): tasks never share a file with the unpacked copy or with each other.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from elasticjob.agent.clone import clone_tree
from elasticjob.agent.fetch import CachedArchive
from elasticjob.agent.flight import SingleFlight
from elasticjob.agent.gc import collect
from elasticjob.agent.unpack import unpack

__all__ = ["UnpackedApps"]

log = logging.getLogger(__name__)

STAGING = ".staging"


class UnpackedApps:
    """Installs app archives into sandboxes through one unpacked copy per archive content.

    ``max_bytes`` is ``unpack``'s limit on the unpacked size. Thread-safe: concurrent installs of one archive
    share one unpacking (single flight); installs of a copy already made run in parallel; ``collect`` never
    removes a copy being made or cloned. Not safe for two processes sharing one ``root``.
    """

    def __init__(self, root: Path, *, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._clock = clock
        self._staging = root / STAGING
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        shutil.rmtree(self._staging, ignore_errors=True)  # what a previous run left half-made
        self._staging.mkdir()
        self._guard = threading.Lock()
        self._ready: dict[str, float] = {}  # digest -> last used (clock)
        self._leases: Counter[str] = Counter()
        self._flights: SingleFlight[str, str] = SingleFlight(clock)

    def install(self, archive: CachedArchive, dest: Path) -> None:
        """Put the files of ``archive`` in ``dest`` (which must not exist; its parents are created).

        The first install of an archive content unpacks it (``unpack``'s ``UnsafeArchive``, ``ArchiveError``
        and ``OSError`` pass through, shared by every install waiting for that unpacking); later ones only
        clone the unpacked copy. Raises ``OSError`` if the copy cannot be made.
        """
        digest = self._lease(archive)
        try:
            clone_tree(self.root / digest, dest)
        finally:
            with self._guard:
                self._leases[digest] -= 1
                if not self._leases[digest]:
                    del self._leases[digest]

    def collect(self, *, max_age_seconds: float, max_total_bytes: int) -> list[str]:
        """Garbage-collect unpacked copies (``gc.collect``), never one being made, being cloned, or cloned
        within ``max_age_seconds``; installs wait while it runs. Returns the digests removed."""
        now = self._clock()
        with self._guard:
            keep = {STAGING, *self._leases, *self._flights.keys()}
            keep.update(d for d, used in self._ready.items() if now - used <= max_age_seconds)
            removed = collect(self.root, max_age_seconds=max_age_seconds, max_total_bytes=max_total_bytes,
                              keep=keep)
            for digest in removed:
                self._ready.pop(digest, None)
        return removed

    def _lease(self, archive: CachedArchive) -> str:
        """The digest of an unpacked copy of ``archive``'s content (made now if needed), leased: ``collect``
        leaves it alone until the caller gives the lease back."""
        digest = archive.sha256
        while True:
            with self._guard:
                if digest in self._ready:  # checked and leased at once: no collection in between
                    self._ready[digest] = self._clock()
                    self._leases[digest] += 1
                    return digest
            digest = self._flights.run(archive.sha256, lambda: self._unpack(archive))

    def _unpack(self, archive: CachedArchive) -> str:
        with self._guard:  # a collection in progress ends first; later ones keep what this flight makes
            if (self.root / archive.sha256).is_dir():  # made by an earlier run of the agent
                self._ready[archive.sha256] = self._clock()
                return archive.sha256
        work = self._staging / uuid.uuid4().hex
        work.mkdir()
        try:
            # Pin the bytes: the cache may replace its archive with a newer one at any moment.
            pinned = work / "archive"
            try:
                os.link(archive.path, pinned)
            except OSError:
                shutil.copyfile(archive.path, pinned)
            with pinned.open("rb") as source:
                digest = hashlib.file_digest(source, "sha256").hexdigest()
            if digest != archive.sha256:
                log.info("event=app_archive_replaced expected=%s found=%s", archive.sha256[:12], digest[:12])
            final = self.root / digest
            if not final.is_dir():
                tree = work / "tree"
                unpack(pinned, tree, max_bytes=self.max_bytes)
                _take_write_bits(tree)
                try:
                    os.rename(tree, final)
                except OSError:
                    if not final.is_dir():
                        raise
                log.info("event=app_unpacked sha256=%s", digest[:12])
        finally:
            shutil.rmtree(work, onerror=_make_writable_and_retry)
        with self._guard:
            self._ready[digest] = self._clock()
        return digest


def _take_write_bits(tree: Path) -> None:
    """Owner write bits off every file and directory (``clone_tree`` gives them back to each copy)."""
    for directory, _dirs, files in os.walk(tree, topdown=False):
        for name in files:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                os.chmod(path, stat.S_IMODE(mode) & ~stat.S_IWUSR)
        os.chmod(directory, stat.S_IMODE(os.lstat(directory).st_mode) & ~stat.S_IWUSR)


def _make_writable_and_retry(func, failed, _exc_info):  # type: ignore[no-untyped-def]
    parent = os.path.dirname(failed)
    os.chmod(parent, 0o700)
    func(failed)
