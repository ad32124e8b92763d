"""The leader's scheduling metrics on a real cluster: how late firings launch and start, how long cycles
take, how many jobs wait for room (README, "Monitoring")."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

EVERY_SECOND = "* * * * * ?"


def _sample(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_lateness_cycles_and_waiting_jobs_are_measured_on_the_leader(cluster: Cluster, tmp_path: Path) -> None:
    tarball = build_tarball({"bin/run.sh": "#!/bin/sh\nexit 0\n"}, tmp_path / "m.tar.gz", executable=("bin/run.sh",))
    leader = cluster.start_master()
    cluster.start_agent(cpus=1, mem=256)
    cluster.wait_agents(1)
    app = {"appName": "m", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh", "cpuCount": 0.1,
           "memoryMB": 16}
    with cluster.api as client:
        assert client.post("/app", json=app).status_code == 204
        job = {"jobName": "ticking", "appName": "m", "cron": EVERY_SECOND, "shardingTotalCount": 2,
               "cpuCount": 0.1, "memoryMB": 16}
        assert client.post("/job/register", json=job).status_code == 204

        def measured() -> str | None:
            text = leader.get("/metrics", timeout=5).text
            counts = [_sample(text, f"elasticjob_{name}_count")
                      for name in ("launch_lateness_seconds", "start_lateness_seconds", "scheduler_cycle_seconds")]
            return text if all(c is not None and c >= 2 for c in counts) else None

        text = wait_until(measured, 30, message="launches, starts and cycles measured")
        # Launched ahead of its instant or just after: on an idle cluster nothing is seconds late.
        assert _sample(text, 'elasticjob_launch_lateness_seconds_bucket{le="1.0"}') == _sample(
            text, "elasticjob_launch_lateness_seconds_count")
        assert _sample(text, "elasticjob_waiting_jobs") == 0.0

        # A job no agent has room for waits, and is counted as waiting.
        big = {**job, "jobName": "too_big", "cpuCount": 4.0, "shardingTotalCount": 1}
        assert client.post("/job/register", json=big).status_code == 204
        wait_until(lambda: _sample(leader.get("/metrics", timeout=5).text, "elasticjob_waiting_jobs") == 1.0, 30,
                   message="the job without room counted as waiting")
        gone = client.request("DELETE", "/job/deregister", content=b"too_big",
                              headers={"Content-Type": "text/plain"})
        assert gone.status_code == 204, gone.text
        wait_until(lambda: _sample(leader.get("/metrics", timeout=5).text, "elasticjob_waiting_jobs") == 0.0, 30,
                   message="no job waiting once it is gone")
