"""``start_task`` with real processes: exit codes, env/cwd, capped logs, kill, memory limits, parent death."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from elasticjob.agent.limits import TaskCgroup, find_delegated_cgroup, group_rss_bytes
from elasticjob.agent.process import ProcessSpec, TaskProcess, TaskStartError, start_task
from elasticjob.agent.spawn import can_gate

PY = sys.executable


def spec(tmp_path: Path, argv: list[str] | str, **overrides: object) -> ProcessSpec:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "task_id": "job@-@0@-@READY@-@agent-1@-@abc", "argv": argv, "cwd": sandbox, "env": {},
        "memory_mb": 256.0, "cpus": 1.0, "log_dir": tmp_path / "logs", "kill_grace_seconds": 5.0,
    }
    values.update(overrides)
    return ProcessSpec(**values)  # type: ignore[arg-type]


def run(task: TaskProcess, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    info = task.wait(timeout)
    assert info is not None, "the task did not end in time"
    return info


def is_gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for a parent that is not us to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.05)
    return False


# The memory tests assert the fallback's behaviour (RLIMIT_AS + RSS watchdog): on a host with a delegated
# cgroup v2 the kernel enforces the limit instead, and the messages differ.
fallback_only = pytest.mark.skipif(find_delegated_cgroup() is not None,
                                   reason="a delegated cgroup v2 is available: the fallback is not used")


# --- exit, environment, logs ---------------------------------------------------------------------------


def test_exit_codes_are_reported(tmp_path: Path) -> None:
    ok = run(start_task(spec(tmp_path, [PY, "-c", "pass"])))
    failed = run(start_task(spec(tmp_path, "exit 7")))

    assert (ok.exit_code, ok.signal, ok.reason, ok.message) == (0, None, None, "exited with code 0")
    assert (failed.exit_code, failed.signal, failed.reason) == (7, None, None)


def test_env_and_cwd_are_honoured_and_the_agent_env_does_not_leak(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SECRET", "do-not-leak")
    task = start_task(spec(tmp_path, 'echo "item=$ELASTICJOB_SHARDING_ITEM secret=$AGENT_SECRET"; pwd; '
                                     'echo "path=$PATH"', env={"ELASTICJOB_SHARDING_ITEM": "3"}))
    assert run(task).exit_code == 0

    lines = (tmp_path / "logs" / "stdout").read_text().splitlines()
    assert lines == ["item=3 secret=", str(tmp_path / "sandbox"), "path=/usr/local/bin:/usr/bin:/bin"]
    assert not (tmp_path / "logs" / "stderr").exists()  # created by the first byte a task writes there


def test_stdout_and_stderr_are_captured_capped_and_rotated(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        for i in range(300):
            sys.stdout.write(f"out {i:05d}\\n")  # 10 bytes a line: 3000 bytes
        sys.stdout.flush()
        sys.stderr.write("just one error line\\n")
    """)
    task = start_task(spec(tmp_path, [PY, "-c", script], log_max_bytes=1000))
    assert run(task).exit_code == 0

    logs = tmp_path / "logs"
    expected = "".join(f"out {i:05d}\n" for i in range(300)).encode()
    current, previous = (logs / "stdout").read_bytes(), (logs / "stdout.1").read_bytes()
    assert len(current) == 1000 and len(previous) == 1000
    assert previous + current == expected[-2000:]
    assert (logs / "stderr").read_bytes() == b"just one error line\n"
    assert not (logs / "stderr.1").exists() and not (logs / "stdout.2").exists()


def test_wait_with_timeout_and_poll_while_running(tmp_path: Path) -> None:
    task = start_task(spec(tmp_path, [PY, "-c", "import time; time.sleep(0.5)"]))
    assert task.poll() is None
    assert task.wait(0.05) is None
    assert task.pid > 0 and abs(task.started_at - time.time()) < 5
    assert run(task).exit_code == 0
    assert task.poll() == task.wait(0)


def test_a_command_that_cannot_start_raises_and_says_so_in_stderr(tmp_path: Path) -> None:
    with pytest.raises(TaskStartError, match="no-such-binary"):
        start_task(spec(tmp_path, ["no-such-binary-here"]))
    assert "no-such-binary" in (tmp_path / "logs" / "stderr").read_text()


def test_a_program_that_is_not_executable_raises(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "start.sh").write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(TaskStartError, match="Permission denied"):
        start_task(spec(tmp_path, ["./start.sh"]))


def test_many_tasks_at_once_share_the_agent_s_threads_and_each_reports_its_own_end(tmp_path: Path) -> None:
    for n in range(40):
        (tmp_path / str(n)).mkdir()
    threads_before = threading.active_count()
    tasks = [start_task(spec(tmp_path / str(n), f"echo task {n}; sleep 0.5; exit {n % 3}")) for n in range(40)]
    threads_running = threading.active_count()
    ended: list[int] = []
    for task in tasks:
        task.add_done_callback(lambda info: ended.append(info.exit_code or 0))
    infos = [run(task) for task in tasks]

    assert threads_running - threads_before < 10, "a thread per task"
    assert [info.exit_code for info in infos] == [n % 3 for n in range(40)]
    assert sorted(ended) == sorted(n % 3 for n in range(40))
    assert all((tmp_path / str(n) / "logs" / "stdout").read_text() == f"task {n}\n" for n in range(40))
    late: list[object] = []
    tasks[0].add_done_callback(late.append)  # after the end: called at once
    assert late == [infos[0]]


def test_a_process_that_escaped_the_group_cannot_hold_the_exit_report(tmp_path: Path) -> None:
    # setsid takes the background sleep out of the task's process group; it keeps the stdout pipe open.
    task = start_task(spec(tmp_path, "setsid sleep 30 & echo $!; exit 3"))
    info = run(task)
    escaped = int((tmp_path / "logs" / "stdout").read_text())
    try:
        assert info.exit_code == 3
    finally:
        os.kill(escaped, signal.SIGKILL)


def test_processes_left_behind_by_a_finished_task_are_killed(tmp_path: Path) -> None:
    task = start_task(spec(tmp_path, "sleep 30 & echo $!"))
    assert run(task).exit_code == 0
    background = int((tmp_path / "logs" / "stdout").read_text())
    assert wait_gone(background, 3.0), "a background process of a finished task kept running"


# --- kill ----------------------------------------------------------------------------------------------


def test_kill_sends_term_then_kill_to_a_task_that_traps_term(tmp_path: Path) -> None:
    script = "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.05; done"
    task = start_task(spec(tmp_path, script))
    deadline = time.monotonic() + 5
    while b"ready" not in (tmp_path / "logs" / "stdout").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.02)

    started = time.monotonic()
    task.kill(grace=0.5)
    info = run(task)

    assert time.monotonic() - started >= 0.5
    assert (info.reason, info.signal, info.exit_code) == ("killed", signal.SIGKILL, None)
    assert "got TERM" in (tmp_path / "logs" / "stdout").read_text()
    task.kill()  # a no-op once ended


def test_kill_of_a_cooperative_task_ends_it_with_term_before_the_grace(tmp_path: Path) -> None:
    task = start_task(spec(tmp_path, ["sleep", "30"]))
    started = time.monotonic()
    task.kill(grace=5)
    info = run(task)
    assert (info.reason, info.signal) == ("killed", signal.SIGTERM)
    assert time.monotonic() - started < 2


# --- memory --------------------------------------------------------------------------------------------


@fallback_only
def test_allocating_past_the_limit_fails_with_reason_memory(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        chunks = []
        for _ in range(50):              # 200 MB in 4 MB steps, every page written
            chunks.append(b"x" * (4 << 20))
        print("allocated everything")
    """)
    info = run(start_task(spec(tmp_path, [PY, "-c", script], memory_mb=64)))

    assert info.reason == "memory", info
    assert info.exit_code != 0
    assert "64 MB" in info.message
    assert "allocated everything" not in (tmp_path / "logs" / "stdout").read_text()


@fallback_only
def test_process_group_over_the_limit_is_killed_by_the_watchdog(tmp_path: Path) -> None:
    # Each child stays under RLIMIT_AS (which is per process), but together they use ~150 MB of RSS.
    child = f"{PY} -c 'import time; b = b\"x\" * (40 << 20); time.sleep(20)'"
    info = run(start_task(spec(tmp_path, f"{child} & {child} & {child} & wait", memory_mb=96)))

    assert (info.reason, info.signal) == ("memory", signal.SIGKILL), info
    assert info.message.startswith("memory limit exceeded: ") and "limit 96 MB" in info.message
    used = int(info.message.split(": ")[1].split(" MB")[0])
    assert used > 96


def test_group_rss_sums_every_process_of_the_group() -> None:
    code = "import time; b = b'x' * (30 << 20); print('ready', flush=True); time.sleep(30)"
    leader = subprocess.Popen([PY, "-c", code], process_group=0, stdout=subprocess.PIPE)
    member = subprocess.Popen([PY, "-c", code], process_group=leader.pid, stdout=subprocess.PIPE)
    try:
        for process in (leader, member):
            assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        usage = group_rss_bytes({leader.pid, os.getpgid(0)})
        assert usage[leader.pid] >= 60 << 20
        assert usage[os.getpgid(0)] > 0  # this test's own group, counted apart
    finally:
        for process in (leader, member):
            process.kill()
            process.wait(5)


@fallback_only
def test_a_task_under_the_limit_runs_normally(tmp_path: Path) -> None:
    script = "import time; b = b'x' * (20 << 20); time.sleep(0.3); print(len(b))"
    info = run(start_task(spec(tmp_path, [PY, "-c", script], memory_mb=64)))
    assert (info.exit_code, info.reason) == (0, None)
    assert (tmp_path / "logs" / "stdout").read_text() == f"{20 << 20}\n"


@fallback_only
def test_non_memory_failure_is_not_reported_as_memory(tmp_path: Path) -> None:
    info = run(start_task(spec(tmp_path, [PY, "-c", "raise SystemExit('plain failure')"], memory_mb=64)))
    assert (info.exit_code, info.reason) == (1, None)


# --- parent death --------------------------------------------------------------------------------------

# A stand-in for the agent: starts one task, reports the pids to watch, then waits to be SIGKILLed.
INTERMEDIARY = """
import sys, time
from pathlib import Path
import elasticjob.agent.process as process
tmp, command = Path(sys.argv[1]), sys.argv[2]
if "--no-guard" in sys.argv:
    class NoGuard:
        def add(self, pgid): pass
        def remove(self, pgid): pass
    process._guard = NoGuard()
argv = command if command.startswith("sleep 61 &") else command.split()
from elasticjob.agent.runas import resolve_run_as
run_as = resolve_run_as(None) if "--run-as-nobody" in sys.argv else None
task = process.start_task(process.ProcessSpec("t", argv, tmp, {}, 64, 1, tmp / "logs", run_as=run_as))
child = tmp / "child.pid"
while argv is command and not child.exists():
    time.sleep(0.01)
print(task.pid, child.read_text().strip() if child.exists() else "", flush=True)
time.sleep(60)
"""


def sigkill_agent_running(tmp_path: Path, command: str, *flags: str) -> list[int]:
    """Start the stand-in agent with ``command`` as its task, SIGKILL it, return the task's pids."""
    agent = subprocess.Popen([PY, "-c", INTERMEDIARY, str(tmp_path), command, *flags], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert agent.stdout is not None
        pids = [int(pid) for pid in agent.stdout.readline().split()]
        assert pids and not any(is_gone(pid) for pid in pids)
        if "--run-as-nobody" in flags:
            status = Path(f"/proc/{pids[0]}/status").read_text()
            uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
            assert uids == [str(pwd.getpwnam("nobody").pw_uid)] * 4, uids
        agent.send_signal(signal.SIGKILL)
        agent.wait(5)
        return pids
    finally:
        agent.kill()
        agent.wait(5)


def test_task_and_its_children_die_when_the_agent_is_sigkilled(tmp_path: Path) -> None:
    # /bin/sh does not exec its last command: "sleep 61" is a grandchild of the agent, out of PDEATHSIG's
    # reach; the orphan guard must kill it.
    main, background = sigkill_agent_running(tmp_path, "sleep 61 & echo $! > child.pid; wait")
    try:
        assert wait_gone(main, 3.0), "the task's main process outlived its SIGKILLed agent"
        assert wait_gone(background, 3.0), "a child of the task outlived the SIGKILLed agent"
    finally:
        for pid in (main, background):
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)


# A stand-in agent that is SIGKILLed after forking a task but before the orphan guard heard of it (as a
# busy agent can be: the registration waits for the GIL). Nothing of the task may run: not even its first line.
DIES_BEFORE_GUARD = """
import os, signal, sys, time
from pathlib import Path
import elasticjob.agent.process as process
class Stalled:
    def add(self, pgid):
        print(pgid, flush=True)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    def remove(self, pgid): pass
process._guard = Stalled()
tmp = Path(sys.argv[1])
process.start_task(process.ProcessSpec("t", "echo ran > ran; sleep 61 & echo $! > child.pid; wait", tmp, {},
                                       64, 1, tmp / "logs"))
"""


@pytest.mark.skipif(not can_gate(), reason="needs setpriv with --pdeathsig (util-linux)")
def test_a_task_forked_by_an_agent_killed_before_the_guard_knew_of_it_never_runs(tmp_path: Path) -> None:
    agent = subprocess.Popen([PY, "-c", DIES_BEFORE_GUARD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert agent.stdout is not None
        main = int(agent.stdout.readline())
        assert agent.wait(10) == -signal.SIGKILL
        assert wait_gone(main, 3.0), "the task's main process outlived its SIGKILLed agent"
        time.sleep(0.3)
        assert not (tmp_path / "ran").exists(), "the task ran although its agent died before guarding it"
        assert not (tmp_path / "child.pid").exists()
    finally:
        agent.kill()
        agent.wait(5)
        child = tmp_path / "child.pid"
        if child.exists() and not is_gone(int(child.read_text())):
            os.kill(int(child.read_text()), signal.SIGKILL)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a process's uid needs root")
@pytest.mark.parametrize("guard", ["guard", "--no-guard"])
def test_a_task_running_as_nobody_dies_with_its_sigkilled_agent(tmp_path: Path, guard: str) -> None:
    # The kernel clears PDEATHSIG when a process's credentials change: it must be set after the drop.
    tmp_path.chmod(0o777)  # the task writes child.pid in its cwd
    pids = sigkill_agent_running(tmp_path, "sleep 61 & echo $! > child.pid; wait", "--run-as-nobody", guard)
    main, background = pids
    try:
        assert wait_gone(main, 3.0), "the task's main process outlived its SIGKILLed agent"
        if guard == "guard":
            assert wait_gone(background, 3.0), "a child of the task outlived the SIGKILLed agent"
    finally:
        for pid in pids:
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_pdeathsig_alone_kills_the_main_process(tmp_path: Path) -> None:
    (main,) = sigkill_agent_running(tmp_path, "sleep 60", "--no-guard")
    try:
        assert wait_gone(main, 3.0), "the task outlived its SIGKILLed agent"
    finally:
        if not is_gone(main):
            os.kill(main, signal.SIGKILL)


def test_task_started_from_a_short_lived_thread_survives_that_thread(tmp_path: Path) -> None:
    # PDEATHSIG follows the forking *thread*; start_task must fork from a thread that lives on.
    started: list[TaskProcess] = []
    thread = threading.Thread(target=lambda: started.append(start_task(spec(tmp_path, ["sleep", "30"]))))
    thread.start()
    thread.join(5)
    task = started[0]
    time.sleep(0.3)
    assert task.poll() is None and not is_gone(task.pid)
    task.kill(grace=0)
    assert run(task).reason == "killed"


# --- cgroup v2 plumbing, on plain directories shaped like a cgroup -------------------------------------


def test_cgroup_detection_needs_the_memory_controller(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu io pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    assert find_delegated_cgroup(tmp_path) is None
    assert find_delegated_cgroup(tmp_path / "not-a-cgroup") is None


def test_task_cgroup_writes_limits_and_reads_oom_kills(tmp_path: Path) -> None:
    group = TaskCgroup.create(tmp_path, "job@-@0@-@READY", memory_bytes=64 << 20, cpus=1.5)
    try:
        assert group.path.parent == tmp_path and group.path.name.startswith("job_-_0_-_READY-")
        assert (group.path / "memory.max").read_text() == str(64 << 20)
        assert not (group.path / "cpu.max").exists(), "cpu.max is written only where the controller has it"
        (group.path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
        assert group.oom_kills() == 1
    finally:
        for child in group.path.iterdir():
            child.unlink()
        group.path.rmdir()


@fallback_only
def test_this_host_uses_the_fallback(tmp_path: Path) -> None:
    task = start_task(spec(tmp_path, ["true"]))
    assert task.enforcement == "rlimit+watchdog"
    assert run(task).exit_code == 0


def test_a_gated_task_runs_its_command_only_once_it_reads_a_line_from_its_gate(tmp_path: Path) -> None:
    marker = tmp_path / "sandbox" / "ran"
    gate_read, gate_write = os.pipe2(os.O_CLOEXEC)
    try:
        task = start_task(spec(tmp_path, "date +%s.%N > ran; cat"), gate=gate_read)  # cat: stdin is /dev/null
        time.sleep(0.5)
        assert task.poll() is None and not marker.exists()
        released = time.time()
        os.write(gate_write, b"\n")
        info = run(task)
    finally:
        os.close(gate_read)
        os.close(gate_write)
    assert info.exit_code == 0, info
    assert released <= float(marker.read_text()) < released + 2.0


def test_a_gated_task_killed_at_its_gate_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "sandbox" / "ran"
    gate_read, gate_write = os.pipe2(os.O_CLOEXEC)
    try:
        task = start_task(spec(tmp_path, "touch ran"), gate=gate_read)
        time.sleep(0.3)
        task.kill(0)
        info = run(task)
        os.write(gate_write, b"\n")  # a line nobody reads: harmless
    finally:
        os.close(gate_read)
        os.close(gate_write)
    assert info.reason == "killed"
    time.sleep(0.3)
    assert not marker.exists()
