"""A task's artifacts: files fetched into its working directory once its app is there.

Each artifact (``model/artifact.py``) is fetched by the app cache (``fetch``: same schemes, limits and
timeouts as an app's archive), through its cache when ``cache`` is true (revalidated as an app's archive is)
or as a download of its own otherwise. With ``extract`` and without ``executable``, a tar or zip archive (told
by its content) is unpacked with ``unpack``'s checks — into a scratch directory of the sandbox, then moved
into the working directory, whose existing entries are never overwritten nor written through (a name both
have is an error, unless both are real directories, whose contents are merged the same way). Any other
file is kept as downloaded under the last segment of its URL's path; ``executable`` gives it mode 0755
(else 0644). Artifacts are installed in the order given.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticjob.agent.apps import UnpackedApps
from elasticjob.agent.fetch import AppCache, FetchError, shown_url
from elasticjob.agent.unpack import ArchiveError, UnsafeArchive, is_archive, unpack
from elasticjob.model.artifact import file_name

__all__ = ["ArtifactFailed", "ArtifactInstaller"]

_EXECUTABLE = 0o755
_PLAIN = 0o644


class ArtifactFailed(Exception):
    """An artifact could not be put in the working directory. ``reason`` is the task's machine-readable
    failure reason (``fetch``, ``unpack``, ``sandbox``); the message names the artifact's URL."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ArtifactInstaller:
    """Installs artifacts with the agent's app cache and unpacked copies (thread-safe as they are)."""

    cache: AppCache
    apps: UnpackedApps
    max_unpacked_bytes: int

    def install(self, artifacts: list[dict[str, Any]], workdir: Path, scratch: Path) -> None:
        """Install ``artifacts`` (``{"uri", "extract", "executable", "cache"}`` each) into ``workdir``, an
        existing directory, using ``scratch`` (which must not exist; removed afterwards) for unpacking.
        Raises ``ArtifactFailed`` for the first that cannot be installed."""
        try:
            for i, artifact in enumerate(artifacts):
                self._install_one(artifact, workdir, scratch / str(i))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _install_one(self, artifact: dict[str, Any], workdir: Path, tree: Path) -> None:
        uri = str(artifact["uri"])
        shown = shown_url(uri)
        cached = bool(artifact.get("cache"))
        try:
            name = file_name(uri)
        except ValueError as exc:
            raise ArtifactFailed("sandbox", f"artifact {shown}: {exc}") from None
        try:
            fetched = self.cache.fetch_app(uri, use_cache=cached)
        except FetchError as exc:
            raise ArtifactFailed("fetch", f"cannot fetch artifact {shown}: {exc}") from None
        try:
            unpacks = bool(artifact.get("extract", True)) and not artifact.get("executable")
            if unpacks and is_archive(fetched.path):
                if cached:
                    self.apps.install(fetched, tree)  # one unpacked copy per content, cloned
                else:
                    unpack(fetched.path, tree, max_bytes=self.max_unpacked_bytes)
                _merge(tree, workdir)
            else:
                target = workdir / name
                _copy_new(fetched.path, target)
                os.chmod(target, _EXECUTABLE if artifact.get("executable") else _PLAIN)
        except UnsafeArchive as exc:
            raise ArtifactFailed("unpack", f"refused the artifact archive {shown}: {exc}") from None
        except ArchiveError as exc:
            raise ArtifactFailed("unpack", f"cannot unpack the artifact archive {shown}: {exc}") from None
        except OSError as exc:
            raise ArtifactFailed("sandbox", f"cannot install artifact {shown}: {exc}") from None
        finally:
            if not cached:
                fetched.path.unlink(missing_ok=True)


def _copy_new(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, which must not exist (not even as a dangling symlink: O_EXCL)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(target, flags, _PLAIN)
    except FileExistsError:
        raise FileExistsError(f"{target.name} already exists in the working directory") from None
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1024 * 1024)


def _merge(source: Path, dest: Path, prefix: str = "") -> None:
    """Move the entries of ``source`` into ``dest``: an entry ``dest`` lacks is renamed into it; two real
    directories (neither a symlink) are merged; any other clash raises ``FileExistsError``."""
    for entry in sorted(os.listdir(source)):
        src, dst = source / entry, dest / entry
        try:
            dst_mode = os.lstat(dst).st_mode
        except FileNotFoundError:
            os.rename(src, dst)
            continue
        if stat.S_ISDIR(dst_mode) and stat.S_ISDIR(os.lstat(src).st_mode):
            _merge(src, dst, f"{prefix}{entry}/")
        else:
            raise FileExistsError(f"{prefix}{entry} already exists in the working directory")


