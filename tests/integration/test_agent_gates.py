"""``StartGates``: every shard of an instant is held by its wrapper until one write lets them all go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from elasticjob.agent.gates import FALLBACK_AFTER, StartGates
from elasticjob.agent.process import ProcessSpec, TaskProcess, start_task
from elasticjob.agent.reactor import Reactor


def gated_task(tmp_path: Path, name: str, fd: int) -> TaskProcess:
    sandbox = tmp_path / name
    sandbox.mkdir()
    spec = ProcessSpec(task_id=name, argv="date +%s.%N > ran", cwd=sandbox, env={}, memory_mb=64.0, cpus=1.0,
                       log_dir=sandbox / "logs")
    return start_task(spec, gate=fd)


def ran_at(tmp_path: Path, name: str) -> float | None:
    marker = tmp_path / name / "ran"
    return float(marker.read_text()) if marker.exists() else None


@pytest.mark.parametrize("keeper", [True, False], ids=["keeper", "agent-alone"])
def test_one_write_lets_every_member_go_at_the_instant_and_a_late_spawn_still_gets_its_line(
    tmp_path: Path, keeper: bool
) -> None:
    opened: list[list[str]] = []
    opened_at: list[float] = []
    done = threading.Event()

    def on_open(members: list[str], at: float) -> None:
        opened.append(list(members))
        opened_at.append(at)
        done.set()

    gates: StartGates[str] = StartGates(Reactor("test-gates"), on_open, keeper=keeper)
    start_at = time.time() + 1.5
    tasks = {}
    for name in ("a", "b", "c"):
        gate = gates.enter(start_at)
        assert gate is not None
        tasks[name] = gated_task(tmp_path, name, gate.read_fd)
        assert gates.join(gate, name) is True
    late_gate = gates.enter(start_at)  # reserved before the instant, spawned after it
    assert late_gate is not None and late_gate is gate
    time.sleep(0.5)
    assert all(ran_at(tmp_path, n) is None for n in tasks), "nothing runs before the instant"
    assert done.wait(5)
    assert opened == [["a", "b", "c"]]
    assert start_at <= opened_at[0] < start_at + 1.0
    late = gated_task(tmp_path, "late", late_gate.read_fd)
    assert gates.join(late_gate, "late") is False  # the gate opened: its line is waiting in the pipe
    for task in [*tasks.values(), late]:
        info = task.wait(10)
        assert info is not None and info.exit_code == 0, info
    for name in ("a", "b", "c", "late"):
        started = ran_at(tmp_path, name)
        assert started is not None and start_at <= started < start_at + 2.0, (name, started, start_at)
    assert late_gate.read_fd == -1, "the read end is closed once no spawn needs it"
    assert gates.enter(time.time() - 1) is None, "an instant that has come has no gate"


def test_a_member_killed_at_the_gate_does_not_take_another_member_s_line(tmp_path: Path) -> None:
    done = threading.Event()
    gates: StartGates[str] = StartGates(Reactor("test-gates"), lambda members, at: done.set())
    start_at = time.time() + 1.0
    tasks = {}
    for name in ("kept", "killed"):
        gate = gates.enter(start_at)
        assert gate is not None
        tasks[name] = gated_task(tmp_path, name, gate.read_fd)
        gates.join(gate, name)
    tasks["killed"].kill(0)
    assert done.wait(5)
    kept, killed = tasks["kept"].wait(10), tasks["killed"].wait(10)
    assert kept is not None and kept.exit_code == 0
    assert killed is not None and killed.reason == "killed"
    assert ran_at(tmp_path, "kept") is not None and ran_at(tmp_path, "killed") is None


def test_a_gate_whose_spawns_all_failed_closes_its_pipe() -> None:
    gates: StartGates[str] = StartGates(Reactor("test-gates"), lambda members, at: None)
    gate = gates.enter(time.time() + 0.3)
    assert gate is not None
    gates.leave(gate)
    time.sleep(0.8)
    assert gate.opened and gate.read_fd == -1


def test_a_keeper_that_died_is_replaced_and_gates_still_open(tmp_path: Path) -> None:
    done = threading.Event()
    gates: StartGates[str] = StartGates(Reactor("test-gates"), lambda members, at: done.set())
    first = gates.enter(time.time() + 0.3)  # starts the keeper
    assert first is not None
    gates.leave(first)
    assert done.wait(5)
    done.clear()
    keeper = gates._keeper
    assert keeper is not None
    keeper.kill()
    keeper.wait(5)
    start_at = time.time() + 1.0
    gate = gates.enter(start_at)
    assert gate is not None
    task = gated_task(tmp_path, "a", gate.read_fd)
    assert gates.join(gate, "a") is True
    info = task.wait(10)
    assert info is not None and info.exit_code == 0, info
    started = ran_at(tmp_path, "a")
    assert started is not None and start_at <= started < start_at + FALLBACK_AFTER + 1.0
