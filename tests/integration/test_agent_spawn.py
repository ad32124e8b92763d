"""``spawn``: what every task process has before its program runs — without a Python preexec_fn."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import elasticjob.agent.spawn as spawn_module
from elasticjob.agent.runas import Credentials
from elasticjob.agent.spawn import check_executable, spawn

KIB_256M = 256 * 1024


def run(tmp_path: Path, argv: list[str], **limits: Any) -> tuple[int, str, str]:
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        popen = spawn(argv, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "A": "1"}, stdout=stdout.fileno(),
                      stderr=stderr.fileno(), **{"address_space_bytes": None, "cgroup_procs": None, **limits})
        code = popen.wait(15)
    return code, out.read_text(), err.read_text()


def address_space_limits(limits_text: str) -> list[str]:
    line = next(line for line in limits_text.splitlines() if line.startswith("Max address space"))
    return line.split()[3:5]


@pytest.fixture(params=["wrapper", "preexec"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of starting a task: the exec wrapper, and the preexec_fn fallback for hosts without setpriv."""
    if request.param == "preexec":
        monkeypatch.setattr(spawn_module, "_setpriv", lambda: None)
    else:
        assert spawn_module._setpriv() is not None, "this host has setpriv (util-linux): the wrapper is used"
    return str(request.param)


def test_the_address_space_limit_is_set_soft_and_hard(tmp_path: Path, mode: str) -> None:
    code, out, _ = run(tmp_path, ["cat", "/proc/self/limits"], address_space_bytes=KIB_256M * 1024)
    assert code == 0
    assert address_space_limits(out) == [str(KIB_256M * 1024)] * 2


def test_without_a_limit_none_is_set(tmp_path: Path, mode: str) -> None:
    code, out, _ = run(tmp_path, ["cat", "/proc/self/limits"])
    assert code == 0 and address_space_limits(out) == ["unlimited"] * 2


def test_the_process_joins_its_cgroup_before_its_program_runs(tmp_path: Path, mode: str) -> None:
    procs = tmp_path / "cgroup.procs"  # a plain file stands in for the cgroup's
    procs.write_text("")
    code, out, _ = run(tmp_path, ["/bin/sh", "-c", f'echo "$$ $(cat {procs})"'], cgroup_procs=procs)
    assert code == 0
    pid, joined = out.split()
    assert joined == pid  # written by the process itself, and before the program ran


def test_a_cgroup_that_cannot_be_joined_stops_the_task_with_a_message(tmp_path: Path, mode: str) -> None:
    missing = tmp_path / "no-such-cgroup" / "cgroup.procs"
    if mode == "preexec":
        with pytest.raises(subprocess.SubprocessError):
            run(tmp_path, ["/bin/echo", "ran"], cgroup_procs=missing)
        return
    code, out, err = run(tmp_path, ["/bin/echo", "ran"], cgroup_procs=missing)
    assert code == 125 and out == ""
    assert "cannot join the task's cgroup" in err


def test_the_environment_is_exactly_the_given_one(tmp_path: Path, mode: str) -> None:
    code, out, _ = run(tmp_path, ["env"])
    assert code == 0
    assert sorted(out.splitlines()) == ["A=1", "PATH=/usr/bin:/bin"]


def test_a_process_whose_agent_died_before_the_death_signal_was_set_kills_itself(tmp_path: Path) -> None:
    # The wrapper's check, run with a parent pid that is not its parent: as if the agent had died (and the
    # process had been adopted) before setpriv's prctl.
    result = subprocess.run(["/bin/sh", "-c", spawn_module._WRAPPER, "elasticjob-task", "1", "", "", "",
                             "echo", "ran"], capture_output=True, text=True, timeout=10)
    assert result.returncode == -9 and result.stdout == ""


def test_tasks_start_without_a_python_preexec_fn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real = subprocess.Popen

    def recording(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        seen.append(kwargs.get("preexec_fn"))
        return real(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording)
    code, out, _ = run(tmp_path, ["/bin/echo", "ran"], address_space_bytes=KIB_256M * 1024)
    assert (code, out) == (0, "ran\n")
    assert seen == [None]


def test_check_executable_looks_the_program_up_like_exec(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin" / "start.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        check_executable("bin/start.sh", tmp_path, "/usr/bin:/bin")
    script.chmod(0o755)
    check_executable("bin/start.sh", tmp_path, "/usr/bin:/bin")
    check_executable("start.sh", tmp_path, "/usr/bin:bin")  # a relative PATH entry is relative to cwd
    check_executable("sh", tmp_path, "/usr/bin:/bin")
    with pytest.raises(FileNotFoundError):
        check_executable("start.sh", tmp_path, "/usr/bin:/bin")
    with pytest.raises(FileNotFoundError):
        check_executable(str(tmp_path / "absent"), Path("/"), os.defpath)


def test_a_gated_spawn_runs_nothing_when_its_gate_closes_without_go(tmp_path: Path) -> None:
    gate_read, gate_write = os.pipe2(os.O_CLOEXEC)
    popen = spawn(["/bin/sh", "-c", "echo ran"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, address_space_bytes=None,
                  cgroup_procs=None, gate=gate_read)
    os.close(gate_read)
    os.close(gate_write)
    out, _ = popen.communicate(timeout=15)
    assert popen.returncode == 125 and out == b""


def test_a_gated_spawn_needs_the_wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn_module, "_setpriv", lambda: None)
    assert spawn_module.can_gate() is False
    with pytest.raises(ValueError, match="setpriv"):
        spawn(["/bin/true"], cwd=tmp_path, env={}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
              address_space_bytes=None, cgroup_procs=None, gate=0)


def test_a_shell_command_runs_as_sh_c_would_run_it(tmp_path: Path, mode: str) -> None:
    code, out, err = run(tmp_path, ["/bin/sh", "-c", 'echo "$0 $# [$*]"\nf() { echo "f $1"; }\nf x\nexit 7'])
    assert (code, out, err) == (7, "/bin/sh 0 []\nf x\n", "")


def test_the_wrapper_itself_runs_a_shell_command_without_another_exec(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, ["/bin/sh", "-c", "tr '\\0' ' ' < /proc/$$/cmdline"])
    assert code == 0
    assert "elasticjob agent: cannot" in out, "the shell running the command is the wrapper"


# --- dropping privileges (the agent's --run-as) --------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing a process's uid needs root")
OTHER = Credentials("uid-65533", 65533, 65533, (65533, 65532), "/")


def _world_writable(tmp_path: Path) -> Path:
    """A cwd the dropped process may write its output in (pytest's tmp_path is under a 0700 directory:
    the process gets it as its cwd, by the root parent's chdir, and needs no path to it)."""
    tmp_path.chmod(0o777)
    return tmp_path


@needs_root
def test_a_process_with_credentials_runs_as_that_user_with_its_groups_only(tmp_path: Path, mode: str) -> None:
    code, out, err = run(_world_writable(tmp_path), ["/bin/sh", "-c", "grep -E '^(Uid|Gid|Groups|CapEff):' "
                                                     "/proc/self/status"], credentials=OTHER)
    assert code == 0, err
    fields = {line.split(":")[0]: line.split(":")[1].split() for line in out.splitlines()}
    assert fields["Uid"] == ["65533"] * 4 and fields["Gid"] == ["65533"] * 4  # real, effective, saved, fs
    assert sorted(fields["Groups"]) == ["65532", "65533"]
    assert fields["CapEff"] == ["0000000000000000"]


@needs_root
def test_a_dropped_process_still_gets_its_limit_and_joins_its_cgroup(tmp_path: Path, mode: str) -> None:
    procs = _world_writable(tmp_path) / "cgroup.procs"  # a plain file stands in for the cgroup's (root's)
    procs.write_text("")
    procs.chmod(0o600)
    code, out, err = run(tmp_path, ["/bin/sh", "-c", 'echo "$$ $(id -u)"; cat /proc/self/limits'],
                         cgroup_procs=procs, address_space_bytes=KIB_256M * 1024, credentials=OTHER)
    assert code == 0, err
    pid, uid = out.splitlines()[0].split()
    assert uid == "65533" and procs.read_text().strip() == pid  # written while privileged
    assert address_space_limits(out) == [str(KIB_256M * 1024)] * 2


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root (CI runs as root)")
def test_the_agent_can_tell_whether_the_shards_user_can_run_a_program(tmp_path: Path) -> None:
    from elasticjob.agent.runas import check_runs_as, resolve_run_as

    nobody = resolve_run_as("nobody", euid=0)
    assert nobody is not None
    assert check_runs_as(nobody, ["/bin/sh", "-c", "test \"$(id -u)\" = " + str(nobody.uid)]) is None
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    program = hidden / "program.sh"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    problem = check_runs_as(nobody, [str(program)])
    assert problem is not None and "Permission denied" in problem
