"""End-to-end latency from a firing's scheduled instant to its shards running, on loopback.

Starts a real ZooKeeper, one master and two agents (processes), registers a job firing every second
with 4 shards, lets it fire ``--firings`` times, then reads the execution history: for each shard,
latency = the time its process started (reported by the agent) minus the firing's scheduled instant
(encoded in the firing id). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import register_script_job  # noqa: E402
from elasticjob.common.net import free_port  # noqa: E402
from elasticjob.dev.zookeeper import LocalZooKeeper  # noqa: E402
from tests.support import AgentProcess, MasterProcess, wait_until  # noqa: E402

SCRIPT = "#!/bin/sh\necho shard $ELASTICJOB_SHARDING_ITEM\n"


def firing_instant(firing_id: str) -> dt.datetime:
    return dt.datetime.strptime(firing_id.removeprefix("cron-"), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firings", type=int, default=20)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ej-bench-") as tmp:
        root = Path(tmp)
        zk = LocalZooKeeper(root / "zk", free_port()).start()
        master = MasterProcess(zk.hosts, "bench", root / "master").start()
        agents = [
            AgentProcess(zk.hosts, "bench", root / f"agent-{i}", cpus=1, mem=1024).start() for i in range(2)
        ]
        try:
            with httpx.Client(base_url=master.url, timeout=10) as client:
                wait_until(lambda: "elasticjob_registered_agents 2.0" in client.get("/metrics").text, 30)
                register_script_job(
                    client, root, "latency", SCRIPT, cron="* * * * * ?", shardingTotalCount=args.shards
                )

                def rows() -> list[dict]:  # type: ignore[type-arg]
                    return client.get(
                        "/job/events/executions",
                        params={"jobName": "latency", "state": "FINISHED", "per_page": 1000},
                    ).json()["rows"]

                wait_until(
                    lambda: len(rows()) >= (args.firings + 1) * args.shards,
                    args.firings * 3 + 30,
                    interval=1.0,
                )
                client.post("/job/latency/disable")
                finished = rows()
        finally:
            for agent in agents:
                agent.stop()
            master.stop()
            zk.stop()
    # The first firing pays for the first fetch of the app: report it separately.
    by_firing: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for row in finished:
        by_firing.setdefault(row["firingId"], []).append(row)
    ordered = sorted(by_firing)
    warm = [r for f in ordered[1:] for r in by_firing[f] if r["startTime"]]
    latencies = [
        (dt.datetime.fromisoformat(r["startTime"]) - firing_instant(r["firingId"])).total_seconds()
        for r in warm
    ]
    first = [
        (dt.datetime.fromisoformat(r["startTime"]) - firing_instant(r["firingId"])).total_seconds()
        for r in by_firing[ordered[0]]
        if r["startTime"]
    ]
    print(
        json.dumps(
            {
                "benchmark": "firing_to_running_latency",
                "firings": len(ordered) - 1,
                "shards_per_firing": args.shards,
                "agents": 2,
                "samples": len(latencies),
                "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "max_ms": round(max(latencies) * 1000, 1),
                "mean_ms": round(statistics.mean(latencies) * 1000, 1),
                "first_firing_max_ms": round(max(first) * 1000, 1) if first else None,
                "python": platform.python_version(),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            }
        )
    )


if __name__ == "__main__":
    main()
