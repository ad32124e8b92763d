"""ISO 8601 repeating schedules and the schedule switch on a real cluster (ZooKeeper, master, agent)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

SCRIPT = """#!/bin/sh
echo "$ELASTICJOB_FIRING_ID" >> "$OUT/$ELASTICJOB_JOB_NAME"
"""


def _runs(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    response = client.get(f"/job/jobs/{name}/runs", params={"per_page": 100})
    assert response.status_code == 200, response.text
    return response.json()["runs"]


def _start(cluster: Cluster, tmp_path: Path) -> str:
    """A master and an agent; the URL of the app's tarball."""
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "iso.tar.gz", executable=("bin/run.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    return tarball.as_uri()


def _app(client: httpx.Client, url: str) -> None:
    app = {"appName": "iso", "appURL": url, "bootstrapScript": "bin/run.sh", "cpuCount": 0.1, "memoryMB": 32}
    response = client.post("/app", json=app)
    assert response.status_code == 204, response.text


def _job(name: str, cron: str, out: Path, **extra: Any) -> dict[str, Any]:
    return {"jobName": name, "appName": "iso", "cron": cron, "shardingTotalCount": 1, "cpuCount": 0.1,
            "memoryMB": 32, "environment": {"OUT": str(out)}, **extra}


def test_an_r3_schedule_runs_exactly_three_times_then_never_again(
    cluster: Cluster, tmp_path: Path, shard_dir: Path
) -> None:
    out = shard_dir
    url = _start(cluster, tmp_path)
    with cluster.api as client:
        _app(client, url)
        # Far enough ahead that the registration and the read below end before it, on a loaded machine too.
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=8)
        schedule = f"R3/{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/PT1S"
        assert client.post("/job/register", json=_job("thrice", schedule, out)).status_code == 204
        assert dt.datetime.fromisoformat(client.get("/job/jobs/thrice").json()["nextFireTime"]) == start

        def three_done() -> list[dict[str, Any]] | None:
            runs = _runs(client, "thrice")
            return runs if len(runs) == 3 and all(r["status"] == "SUCCESS" for r in runs) else None

        runs = wait_until(three_done, 40, message="three runs of the R3 schedule succeeded")
        assert sorted(r["cause"] for r in runs) == ["SCHEDULED"] * 3
        # One run per repetition: the start instant and the two after it, a second apart.
        assert sorted(r["firingId"] for r in runs) == [
            (start + dt.timedelta(seconds=i)).strftime("cron-%Y%m%dT%H%M%S.000Z") for i in range(3)]
        time.sleep(3)  # well past where a fourth repetition would have been
        assert len(_runs(client, "thrice")) == 3
        assert len((out / "thrice").read_text().split()) == 3  # the shard itself ran three times
        detail = client.get("/job/jobs/thrice").json()
        assert "nextFireTime" not in detail and detail["missedFirings"] == 0
        assert client.get("/job/jobs/thrice/firings").json()["firings"] == []


def test_a_switched_off_schedule_fires_nothing_but_runs_when_triggered(
    cluster: Cluster, tmp_path: Path, shard_dir: Path
) -> None:
    out = shard_dir
    url = _start(cluster, tmp_path)
    with cluster.api as client:
        _app(client, url)
        every_second = _job("paused", "* * * * * ?", out, scheduleActive=False)
        assert client.post("/job/register", json=every_second).status_code == 204
        time.sleep(3)  # three instants of its schedule pass
        assert _runs(client, "paused") == [] and not (out / "paused").exists()
        trigger = client.post("/job/trigger", content=b"paused", headers={"Content-Type": "text/plain"})
        assert trigger.status_code == 204, trigger.text
        run = wait_until(lambda: next((r for r in _runs(client, "paused") if r["status"] == "SUCCESS"), None), 30,
                         message="the manual run succeeded")
        assert run["cause"] == "MANUAL" and len(_runs(client, "paused")) == 1
        assert len((out / "paused").read_text().split()) == 1
