"""``elasticjob dev`` (what ``make run`` starts): examples run on two agents, the seed's curls work, a second
one refuses, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from elasticjob.common.net import free_port, port_in_use
from tests.support import wait_until

SEED_REGISTER = (
    '{"jobName":"foo_job","cron":"0/5 * * * * ?","shardingTotalCount":5,"cpuCount":0.1,"memoryMB":64.0,'
    '"dockerImageName":"","appURL":"http://app_host:8080/foo-job.tar.gz","failover":true,"misfire":true}'
)


def _dev(data_dir: Path, http_port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "elasticjob",
            "dev",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(free_port()),
            "--apps-port",
            str(free_port()),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ELASTICJOB_ZK"},
    )


def _children_of(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in result.stdout.split()]


def test_dev_cluster_runs_seed_curls_refuses_twice_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "dev"
    dev = _dev(data_dir, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: port_in_use("127.0.0.1", port), 60, message="dev master listening")
        wait_until(lambda: httpx.get(f"{url}/leader", timeout=2).status_code == 200, 30)
        children = _children_of(dev.pid)
        assert len(children) == 4  # ZooKeeper, one master, two agents

        # The example jobs run for real: shards of script_job finish on both agents.
        def example_runs() -> set[str]:
            rows = httpx.get(
                f"{url}/job/events/executions",
                params={"jobName": "script_job", "state": "FINISHED", "per_page": 100},
                timeout=5,
            ).json()["rows"]
            return {row["agentId"] for row in rows}

        wait_until(
            lambda: len(example_runs()) == 2, 60, interval=0.5, message="example shards on both agents"
        )

        # The seed's two curl commands, verbatim.
        register = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-l",
                "-H",
                "Content-type: application/json",
                "-X",
                "POST",
                "-d",
                SEED_REGISTER,
                f"{url}/job/register",
            ],
            capture_output=True,
            text=True,
        )
        assert register.stdout == "204"
        unregister = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-l",
                "-H",
                "Content-type: application/text",
                "-X",
                "DELETE",
                "-d",
                "foo_job",
                f"{url}/job/unregister",
            ],
            capture_output=True,
            text=True,
        )
        assert unregister.stdout == "204"
        assert "foo_job" not in [j["jobName"] for j in httpx.get(f"{url}/job/jobs", timeout=5).json()]

        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "elasticjob",
                "dev",
                "--http-port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert "already running" in second.stderr
        assert "Traceback" not in second.stderr
        assert dev.poll() is None  # the first one is unharmed

        dev.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output, _ = dev.communicate(timeout=60)
        assert dev.returncode == 0, output
        assert "dev cluster stopped" in output
        for pid in children:
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
            )
        assert not port_in_use("127.0.0.1", port)
        assert not (data_dir / "dev.pid").exists()
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()

    # A second `make run` after the first ended works.
    again = _dev(data_dir, port)
    try:
        wait_until(lambda: port_in_use("127.0.0.1", port), 60, message="second dev run listening")
        wait_until(
            lambda: "script_job" in httpx.get(f"http://127.0.0.1:{port}/job/jobs", timeout=2).text,
            30,
            message="second dev run started with its examples",
        )
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=60)
    assert again.returncode == 0


def test_dev_cluster_stops_when_the_process_that_started_it_dies(tmp_path: Path) -> None:
    """Like `make run` killed without a terminal's Ctrl-C: the cluster must not be left running."""
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:]).wait()",
         sys.executable, "-m", "elasticjob", "dev", "--http-port", str(port), "--grpc-port", str(free_port()),
         "--apps-port", str(free_port()), "--no-examples", "--agents", "0", "--data-dir", str(tmp_path / "dev")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "ELASTICJOB_ZK"},
    )
    dev_pid = None
    try:
        wait_until(lambda: port_in_use("127.0.0.1", port), 60, message="dev master listening")
        [dev_pid] = _children_of(parent.pid)
        grandchildren = _children_of(dev_pid)
        assert len(grandchildren) == 2  # ZooKeeper and the master
        parent.kill()  # SIGKILL: no chance to pass anything on
        parent.wait(timeout=10)
        wait_until(lambda: not Path(f"/proc/{dev_pid}").exists(), 30, message="dev stopped with its parent")
        for pid in grandchildren:
            wait_until(lambda p=pid: not Path(f"/proc/{p}").exists(), 30, message=f"child {pid} stopped")
        assert not port_in_use("127.0.0.1", port)
    finally:
        if parent.poll() is None:
            parent.kill()
        if dev_pid is not None and Path(f"/proc/{dev_pid}").exists():
            os.kill(dev_pid, signal.SIGINT)  # a failed run must not leave the cluster behind


def test_dev_cluster_with_auth_makes_an_admin_and_runs_the_examples_behind_it(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "dev"
    dev = _dev(data_dir, port, "--auth", "--agents", "1")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: (data_dir / "admin-password").exists(), 60, message="the admin's password")
        password = (data_dir / "admin-password").read_text().strip()
        assert (data_dir / "admin-password").stat().st_mode & 0o777 == 0o600
        wait_until(lambda: port_in_use("127.0.0.1", port), 60, message="dev master listening")
        wait_until(lambda: httpx.get(f"{url}/ping", timeout=2).status_code == 200, 30)
        assert httpx.get(f"{url}/job/jobs", timeout=5).status_code == 401
        wait_until(lambda: "script_job" in [j["jobName"] for j in httpx.get(
            f"{url}/job/jobs", auth=("admin", password), timeout=5).json()], 60, message="examples registered")
        assert dev.stdout is not None
        # Printed once the cluster has started (the examples are registered by then).
        line = next((text for text in iter(dev.stdout.readline, "") if "log in as" in text), "")
        assert f"admin / {password}" in line
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(60)
