"""Build the example apps' tarballs: ``python examples/build.py OUTDIR``.

Writes ``OUTDIR/script-app.tar.gz`` and ``OUTDIR/python-app.tar.gz`` from ``examples/script-app/`` and
``examples/python-app/`` and prints their paths, one a line. The app directory's contents are the
tarball's root (``bin/start.sh``, ``orders/jobs.py``), which is the sandbox layout the agent runs them in.

The archives are reproducible: members sorted by path, a fixed mtime, owner root (uid/gid 0, no names),
modes normalised to 0755 for directories and executables and 0644 for other files, and a gzip header
without name or time. Byte-identical sources give byte-identical tarballs, so an agent's cache keyed on
content never sees a spurious change. ``__pycache__`` and ``*.pyc`` are left out; a symlink is an error
(the agent refuses links that could point outside the sandbox, so the example must not rely on them).
"""

from __future__ import annotations

import gzip
import io
import stat
import sys
import tarfile
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
APPS = ("script-app", "python-app")
FIXED_MTIME = 315_532_800  # 1980-01-01T00:00:00Z, the earliest time every archive format can store
_SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def build_app(source: Path, target: Path) -> Path:
    """Write the reproducible ``.tar.gz`` of the app directory ``source`` to ``target`` and return it.

    Raises ``ValueError`` if ``source`` holds a symlink or anything that is not a file or directory.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for path in _members(source):
            relative = path.relative_to(source).as_posix()
            mode = path.lstat().st_mode
            info = tarfile.TarInfo(relative)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if stat.S_ISDIR(mode):
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                data = path.read_bytes()
                info.size = len(data)
                info.mode = 0o755 if mode & 0o111 else 0o644
                archive.addfile(info, io.BytesIO(data))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
        packed.write(buffer.getvalue())
    return target


def build_all(outdir: Path, examples_dir: Path = EXAMPLES_DIR) -> dict[str, Path]:
    """Build every example app into ``outdir`` (created if needed); return ``{appName: tarball path}``."""
    return {name: build_app(examples_dir / name, outdir / f"{name}.tar.gz") for name in APPS}


def _members(source: Path) -> list[Path]:
    """Every directory and file below ``source``, sorted by path so parents come before children."""
    if not source.is_dir():
        raise ValueError(f"{source} is not a directory")
    found: list[Path] = []
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if any(part in _SKIPPED_DIRS for part in relative.parts) or path.name.endswith(_SKIPPED_SUFFIXES):
            continue
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise ValueError(f"{path} is a symlink; example apps must contain only files and directories")
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise ValueError(f"{path} is neither a file nor a directory")
        found.append(path)
    return sorted(found, key=lambda p: p.relative_to(source).as_posix())


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python examples/build.py OUTDIR", file=sys.stderr)
        return 2
    for path in build_all(Path(argv[0])).values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
