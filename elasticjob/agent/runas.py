"""The user shards run as (``--run-as``), resolved once when the agent starts.

An agent running as root runs its shards as an unprivileged user: ``nobody`` unless ``--run-as`` names
another; ``--run-as root`` keeps root, explicitly (the agent warns). An agent that is not root can only run
shards as itself: naming any other user is a start-up error. The user may be a name or a numeric uid (a
uid without a passwd entry gets its own number as group and no supplementary groups).

``Credentials`` carries what ``spawn`` needs to drop privileges with no lookup per shard: uid, gid and the
supplementary groups (``initgroups``' list, resolved here), and the home directory shards get as ``HOME``.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_RUN_AS", "Credentials", "check_runs_as", "resolve_run_as", "sdk_probe"]

DEFAULT_RUN_AS = "nobody"


@dataclass(frozen=True)
class Credentials:
    """Who a shard runs as when that is not the agent's own user."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def resolve_run_as(name: str | None, euid: int | None = None) -> Credentials | None:
    """The credentials shards are to take, or None when they run as the agent's own user. ``name``: the
    ``--run-as`` value (None: the default). ``ValueError`` with a sentence for an unknown user, for a
    non-root agent asked to run shards as someone else, and for root given as a number other than 0."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        if name is None:
            return None
        entry = _lookup(name)
        if (entry.pw_uid if entry is not None else _uid(name)) != euid:
            raise ValueError(f"--run-as {name}: an agent that is not root runs shards as its own user only "
                             f"(it runs as uid {euid}); start it as root to run them as another user")
        return None
    wanted = DEFAULT_RUN_AS if name is None else name
    entry = _lookup(wanted)
    if entry is None:
        uid = _uid(wanted)
        if uid == 0:
            return None
        return Credentials(wanted, uid, uid, (uid,), "/")
    if entry.pw_uid == 0:
        return None
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return Credentials(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir or "/")


def _lookup(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        return None


def _uid(name: str) -> int:
    if not name.isdigit():
        raise ValueError(f"--run-as {name}: no such user on this host")
    return int(name)


def sdk_probe() -> list[str]:
    """What a SIMPLE or DATAFLOW shard needs to run: this interpreter, importing this package."""
    return [sys.executable, "-c", "import elasticjob.sdk.runner"]


def check_runs_as(credentials: Credentials, argv: Sequence[str], timeout: float = 30.0) -> str | None:
    """Run ``argv`` as ``credentials`` (from ``/``) and say why it failed, or None when it ran: an agent
    installed where its user cannot reach (a virtualenv under ``/root``) would fail every SDK shard."""
    groups = ",".join(str(g) for g in credentials.groups)
    drop = ["setpriv", f"--reuid={credentials.uid}", f"--regid={credentials.gid}",
            f"--groups={groups}" if groups else "--clear-groups"]
    try:
        done = subprocess.run([*drop, *argv], cwd="/", capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
