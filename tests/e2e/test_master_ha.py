"""Master processes: restart survival and leader failover, with SIGKILL and real ZooKeeper sessions."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from elasticjob.common.net import free_port
from elasticjob.dev.zookeeper import LocalZooKeeper
from tests.support import ApiUsers, MasterProcess, wait_until

SEED_JOB = {
    "jobName": "foo_job",
    "cron": "0/5 * * * * ?",
    "shardingTotalCount": 5,
    "cpuCount": 0.1,
    "memoryMB": 64.0,
    "dockerImageName": "",
    "appURL": "http://app_host:8080/foo-job.tar.gz",
    "failover": True,
    "misfire": True,
}


def _leader(master: MasterProcess) -> dict | None:  # type: ignore[type-arg]
    try:
        response = master.get("/leader", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def test_job_survives_kill_9_of_every_process_including_zookeeper(tmp_path: Path, api_users: ApiUsers | None) -> None:
    zk = LocalZooKeeper(tmp_path / "zk", free_port()).start()
    masters = [MasterProcess(zk.hosts, "survival", tmp_path / f"m{i}", auth=api_users).start() for i in range(2)]
    try:
        response = masters[1].post("/job/register", json=SEED_JOB, timeout=10)
        assert response.status_code == 204
        # Another master's state follows by its watches, a moment later.
        wait_until(lambda: masters[0].get("/job/jobs/foo_job", timeout=10).status_code == 200, 10)
        assert masters[0].post("/job/foo_job/disable", timeout=10).status_code == 204
        for master in masters:
            master.kill()
        zk.stop(kill=True)

        zk = LocalZooKeeper(tmp_path / "zk", zk.port).start()  # same data directory
        fresh = MasterProcess(zk.hosts, "survival", tmp_path / "m-new", auth=api_users).start()
        masters.append(fresh)
        job = fresh.get("/job/jobs/foo_job", timeout=10)
        assert job.status_code == 200
        assert {k: job.json()[k] for k in SEED_JOB} == SEED_JOB
        assert fresh.get("/app/foo_job", timeout=10).json()["appURL"] == SEED_JOB["appURL"]
        assert fresh.get("/job/foo_job/disable", timeout=10).json() is True
    finally:
        for master in masters:
            master.stop()
        zk.stop()


def test_leader_failover_after_sigkill(master_factory, namespace: str) -> None:  # type: ignore[no-untyped-def]
    first = master_factory(namespace, session_timeout=4.0)
    wait_until(lambda: (_leader(first) or {}).get("self"), 15, message="first master leads")
    second = master_factory(namespace, session_timeout=4.0)

    # Each master records into a SQLite file of its own: both say the run history is split.
    for master in (first, second):
        warnings = wait_until(lambda m=master: (_leader(m) or {}).get("warnings"), 10, message="the warning")
        assert "history is split" in warnings[0]
    seen_by_second, seen_by_first = _leader(second), _leader(first)
    seen_by_second.pop("warnings")
    seen_by_first.pop("warnings")
    assert seen_by_second == {"leader": first.address, "grpc": f"127.0.0.1:{first.grpc_port}", "self": False}
    assert seen_by_first == {"leader": first.address, "grpc": f"127.0.0.1:{first.grpc_port}", "self": True}

    # A follower serves writes too (versioned ZooKeeper writes, no forwarding needed).
    assert second.post("/job/register", json=SEED_JOB, timeout=10).status_code == 204
    wait_until(lambda: first.get("/job/jobs/foo_job", timeout=10).status_code == 200, 10)

    first.kill()
    killed_at = time.monotonic()
    wait_until(lambda: (_leader(second) or {}).get("self"), 15, message="second master takes over")
    elapsed = time.monotonic() - killed_at
    assert elapsed <= 4.0 + 4.0, f"takeover took {elapsed:.1f}s with a 4s session timeout"
    # Alone again, the second master has nothing to warn about.
    assert _leader(second) == {
        "leader": second.address,
        "grpc": f"127.0.0.1:{second.grpc_port}",
        "self": True,
    }
    metrics = second.get("/metrics", timeout=10).text
    assert "elasticjob_master_is_leader 1.0" in metrics


def test_graceful_stop_hands_over_at_once(master_factory, namespace: str) -> None:  # type: ignore[no-untyped-def]
    first = master_factory(namespace, session_timeout=30.0)
    wait_until(lambda: (_leader(first) or {}).get("self"), 15)
    second = master_factory(namespace, session_timeout=30.0)
    wait_until(lambda: _leader(second), 10)
    first.stop()  # SIGTERM: the master deletes its election node instead of waiting for session expiry
    stopped_at = time.monotonic()
    wait_until(lambda: (_leader(second) or {}).get("self"), 10, message="second master takes over")
    assert time.monotonic() - stopped_at < 10  # far below the 30 s session timeout


def test_bad_flags_and_unreachable_zookeeper_exit_clearly(zk_hosts: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "master", "--zk", zk_hosts, "--http", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--http must be HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr

    dead = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "elasticjob",
            "master",
            "--zk",
            dead,
            "--data-dir",
            str(tmp_path),
            "--zk-connect-timeout",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"could not connect to ZooKeeper at {dead}" in result.stderr


def test_identical_http_and_grpc_addresses_are_refused(zk_hosts: str, tmp_path: Path) -> None:
    for http, grpc_address in (("127.0.0.1:47469", "127.0.0.1:47469"), ("0.0.0.0:47469", "127.0.0.1:47469")):
        result = subprocess.run(
            [sys.executable, "-m", "elasticjob", "master", "--zk", zk_hosts, "--http", http,
             "--grpc", grpc_address, "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=30,
        )
        assert result.returncode == 2
        assert "are the same address" in result.stderr
        assert "Traceback" not in result.stderr


def test_port_zero_binds_free_ports_and_reports_them(master_factory, namespace: str) -> None:  # type: ignore[no-untyped-def]
    master = master_factory(namespace)  # started with --http 127.0.0.1:0 --grpc 127.0.0.1:0
    assert master.http_port and master.grpc_port and master.http_port != master.grpc_port
    reported = json.loads((master.data_dir / "master.json").read_text())
    assert reported == {"http": master.address, "grpc": f"127.0.0.1:{master.grpc_port}", "pid": master.pid}
    info = wait_until(lambda: _leader(master), 15)
    assert info == {"leader": master.address, "grpc": f"127.0.0.1:{master.grpc_port}", "self": True}
    master.stop()
    assert not (master.data_dir / "master.json").exists()


def test_a_taken_port_is_a_clear_error(zk_hosts: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "elasticjob", "master", "--zk", zk_hosts, "--http", f"127.0.0.1:{port}",
             "--grpc", "127.0.0.1:0", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} (--http)" in result.stderr
    assert "Traceback" not in result.stderr
