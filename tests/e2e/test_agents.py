"""Agents as real processes: DAEMON shards, leader changes under running tasks, bad resource flags."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

NEVER = "0 0 0 1 1 ? 2099"


def _rows(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/job/events/executions", params={"per_page": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def _register(client: httpx.Client, app: dict[str, Any], job: dict[str, Any]) -> None:
    assert client.post("/app", json=app).status_code == 204
    assert client.post("/job/register", json=job).status_code == 204


def test_daemon_shards_keep_running_and_report_every_run(cluster: Cluster, tmp_path: Path) -> None:
    tarball = build_tarball({"bin/tick.sh": "#!/bin/sh\necho tick $ELASTICJOB_SHARDING_ITEM\n"},
                            tmp_path / "tick.tar.gz", executable=("bin/tick.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    with cluster.api as client:
        _register(
            client,
            {"appName": "ticker", "appURL": tarball.as_uri(), "bootstrapScript": "bin/tick.sh", "cpuCount": 0.1,
             "memoryMB": 32},
            {"jobName": "ticker", "appName": "ticker", "cron": "* * * * * ?", "shardingTotalCount": 2,
             "jobExecutionType": "DAEMON", "cpuCount": 0.1, "memoryMB": 32},
        )
        running = wait_until(lambda: client.get("/job/tasks/running").json(), 20, message="daemon shards launched")

        def runs() -> list[dict[str, Any]]:
            return [r for r in _rows(client, jobName="ticker") if "#" in r["taskId"]]

        wait_until(lambda: len(runs()) >= 6, 30, interval=0.5, message="several daemon runs")
        # The shards are the same two tasks throughout: never relaunched between runs.
        launched = {r["id"] for r in running}
        assert len(launched) == 2
        assert {r["id"] for r in client.get("/job/tasks/running").json()} == launched
        assert {r["taskId"].split("#")[0] for r in runs()} == launched
        assert all(r["state"] == "FINISHED" and r["success"] for r in runs())
        assert sorted({r["shardingItem"] for r in runs()}) == [0, 1]

        assert client.post("/job/ticker/disable").status_code == 204
        wait_until(lambda: client.get("/job/tasks/running").json() == [], 20, message="daemon shards stopped")
        states = {r["taskId"]: r["state"] for r in _rows(client, jobName="ticker") if r["taskId"] in launched}
        assert states == {task_id: "KILLED" for task_id in launched}


def test_running_task_survives_a_leader_change_and_is_recorded_by_the_new_leader(
    cluster: Cluster, tmp_path: Path,
) -> None:
    marker = tmp_path / "marker"
    script = f"#!/bin/sh\necho started > {marker}.start\nsleep 6\necho done > {marker}.done\n"
    tarball = build_tarball({"bin/slow.sh": script}, tmp_path / "slow.tar.gz", executable=("bin/slow.sh",))
    first = cluster.start_master("--history-url", str(tmp_path / "shared-history.db"))
    wait_until(lambda: httpx.get(f"{first.url}/leader", timeout=5).json().get("self"), 15)
    second = cluster.start_master("--history-url", str(tmp_path / "shared-history.db"))
    agent = cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    with cluster.api as client:
        _register(
            client,
            {"appName": "slow", "appURL": tarball.as_uri(), "bootstrapScript": "bin/slow.sh", "cpuCount": 0.1,
             "memoryMB": 32},
            {"jobName": "slow", "appName": "slow", "cron": NEVER, "shardingTotalCount": 1, "cpuCount": 0.1,
             "memoryMB": 32},
        )
        assert client.post("/job/trigger", content=b"slow", headers={"Content-Type": "text/plain"}).status_code == 204
        wait_until(lambda: Path(f"{marker}.start").exists(), 20, message="the task started")
    task_pids = subprocess.run(["pgrep", "-f", "bin/slow.sh"], capture_output=True, text=True).stdout.split()
    assert task_pids

    first.stop()  # the leader goes away while the shard runs
    with httpx.Client(base_url=second.url, timeout=10) as client:
        wait_until(lambda: client.get("/leader").json().get("self"), 15, message="second master leads")
        wait_until(lambda: Path(f"{marker}.done").exists(), 20, message="the task finished")
        rows = wait_until(lambda: _rows(client, jobName="slow", state="FINISHED"), 20,
                          message="the new leader recorded the result")
        assert len(rows) == 1
        assert client.get("/job/tasks/running").json() == []
    assert agent.process is not None and agent.process.poll() is None
    assert "connected to leader" in agent.log()
    # the agent reconnected twice (first and second leader) and never killed its task
    assert agent.log().count("connected to leader") >= 2
    assert "KILLED" not in agent.log()


def test_agent_refuses_more_resources_than_the_host_has(zk_hosts: str, tmp_path: Path) -> None:
    for flag, value, text in (("--cpus", str((os.cpu_count() or 1) + 64), "--cpus"),
                              ("--mem", str(10 ** 9), "--mem")):
        result = subprocess.run(
            [sys.executable, "-m", "elasticjob", "agent", "--zk", zk_hosts, "--work-dir", str(tmp_path), flag, value],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert text in result.stderr and "more than this host has" in result.stderr
        assert "Traceback" not in result.stderr
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "agent", "--zk", zk_hosts, "--attributes", "rack", "--work-dir",
         str(tmp_path)], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "key=value" in result.stderr
    assert time.monotonic() - started < 30
