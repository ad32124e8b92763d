"""Execution rows' ``ip`` and the Elastic-Job-Cloud statistics API on a real cluster: ZooKeeper, a
master process and an agent process running real shards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

SCRIPT = """#!/bin/sh
if [ "$ELASTICJOB_SHARDING_ITEM" = "$FAIL_SHARD" ]; then exit 3; fi
if [ -n "$SLEEP" ]; then sleep "$SLEEP"; fi
echo done
"""

NEVER = "0 0 0 1 1 ? 2099"


def _start(cluster: Cluster, tmp_path: Path, *master: str) -> None:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "stats.tar.gz", executable=("bin/run.sh",))
    cluster.start_master(*master)
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    app = {"appName": "stats", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
           "cpuCount": 0.1, "memoryMB": 16}
    with cluster.api as client:
        assert client.post("/app", json=app).status_code == 204


def _job(name: str, shards: int, **environment: str) -> dict[str, Any]:
    return {"jobName": name, "appName": "stats", "cron": NEVER, "shardingTotalCount": shards,
            "cpuCount": 0.1, "memoryMB": 16, "environment": environment}


def _trigger(client: httpx.Client, name: str) -> None:
    response = client.post("/job/trigger", content=name.encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 204, response.text


def _ended(client: httpx.Client, name: str, count: int) -> list[dict[str, Any]] | None:
    rows = client.get("/job/events/executions", params={"jobName": name}).json()["rows"]
    done = [r for r in rows if r["state"] in ("FINISHED", "FAILED")]
    return done if len(done) >= count else None


def test_a_finished_tasks_execution_row_has_its_agents_ip(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    with cluster.api as client:
        assert client.post("/job/register", json=_job("where", 1)).status_code == 204
        _trigger(client, "where")
        rows = wait_until(lambda: _ended(client, "where", 1), 30, message="the task ends")
        assert rows[0]["state"] == "FINISHED" and rows[0]["success"] is True
        assert rows[0]["ip"] == "127.0.0.1"
        # Elastic-Job-Cloud's ip filter finds it, under /api as at the root.
        found = client.get("/api/job/events/executions", params={"jobName": "where", "ip": "127.0.0.1"})
        assert [r["taskId"] for r in found.json()["rows"]] == [rows[0]["taskId"]]
        other = client.get("/job/events/executions", params={"jobName": "where", "ip": "10.9.9.9"})
        assert other.json() == {"total": 0, "rows": []}
