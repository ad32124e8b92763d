"""``--run-as``: which user shards run as, resolved at start-up (agent/runas.py). Reads the host's passwd."""

from __future__ import annotations

import os
import pwd

import pytest

from elasticjob.agent.runas import resolve_run_as

NOBODY = pwd.getpwnam("nobody")


def test_a_root_agent_runs_shards_as_nobody_by_default() -> None:
    found = resolve_run_as(None, euid=0)
    assert found is not None and (found.user, found.uid, found.gid) == ("nobody", NOBODY.pw_uid, NOBODY.pw_gid)
    assert NOBODY.pw_gid in found.groups


def test_run_as_root_keeps_root() -> None:
    assert resolve_run_as("root", euid=0) is None
    assert resolve_run_as("0", euid=0) is None


def test_a_uid_without_a_name_is_its_own_group() -> None:
    found = resolve_run_as("65533", euid=0)
    assert found is not None and (found.uid, found.gid, found.groups) == (65533, 65533, (65533,))


def test_an_unknown_user_is_refused() -> None:
    with pytest.raises(ValueError, match="no such user"):
        resolve_run_as("no-such-user-here", euid=0)


def test_an_agent_that_is_not_root_runs_shards_as_itself_only() -> None:
    assert resolve_run_as(None, euid=NOBODY.pw_uid) is None
    assert resolve_run_as("nobody", euid=NOBODY.pw_uid) is None
    with pytest.raises(ValueError, match="runs shards as its own user only"):
        resolve_run_as("root", euid=NOBODY.pw_uid)


def test_the_real_euid_is_used_by_default() -> None:
    expected = None if os.geteuid() != 0 else NOBODY.pw_uid
    found = resolve_run_as(None)
    assert (found.uid if found else None) == expected
