"""ZooKeeper faults with a real three-node ensemble: lose one node, lose the quorum and get it back.

Scheduling must go on without one node; without a quorum nothing may be launched (the masters cannot
know the state is current) while agents keep running what they run; when the quorum returns,
scheduling resumes by itself and the results of the shards that ran meanwhile are recorded.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from elasticjob.history import ExecutionQuery, SqlHistoryStore
from tests.e2e.conftest import Cluster, Ensemble
from tests.e2e.test_chaos import assert_exactly_once, rows, running, setup_job, trigger
from tests.support import ApiUsers, wait_until

SLOW = """#!/bin/sh
sleep "${SLEEP:-0.3}"
echo "$ELASTICJOB_TASK_ID" >> "$OUT/$ELASTICJOB_FIRING_ID-$ELASTICJOB_SHARDING_ITEM"
"""


@pytest.fixture
def ha_cluster(
    ensemble: Ensemble, namespace: str, tmp_path: Path, api_users: ApiUsers | None
) -> Iterator[Cluster]:
    made = Cluster(ensemble.hosts, namespace, tmp_path / "cluster", api_users)
    yield made
    made.stop()


def _rows_once_served(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    """``rows``, or none while the master answers 503 (no leader yet: ZooKeeper has just come back)."""
    response = client.get("/job/events/executions", params={"jobName": job, "per_page": 1000})
    if response.status_code == 503:
        return []
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def finished_firings(history: list[dict[str, Any]], shards: int) -> set[str]:
    done = collections.Counter(r["firingId"] for r in history if r["state"] == "FINISHED")
    return {firing for firing, n in done.items() if n == shards}


def test_losing_one_zookeeper_node_does_not_interrupt_scheduling(
    ensemble: Ensemble, ha_cluster: Cluster, tmp_path: Path, shard_dir: Path,
) -> None:
    ha_cluster.start_master("--history-url", str(tmp_path / "history.db"))
    ha_cluster.start_master("--history-url", str(tmp_path / "history.db"))
    ha_cluster.start_agent(cpus=1, mem=512)
    ha_cluster.wait_agents(1)
    client, out = setup_job(ha_cluster, tmp_path, shard_dir, SLOW, {"jobName": "steady", "cron": "0/2 * * * * ?",
                                                         "shardingTotalCount": 2})
    wait_until(lambda: len(finished_firings(rows(client, "steady"), 2)) >= 2, 30, message="firings before")
    ensemble.kill(1)
    killed_at = time.time()
    wait_until(lambda: len([f for f in finished_firings(rows(client, "steady"), 2)
                            if _instant(f) > killed_at + 1]) >= 3, 40, interval=0.5,
               message="three complete firings after losing a node")
    assert client.post("/job/steady/disable").status_code == 204
    wait_until(lambda: running(client) == [], 20)
    assert_exactly_once(rows(client, "steady"), 2, out)
    client.close()


def test_without_quorum_nothing_launches_and_scheduling_resumes_when_it_returns(
    ensemble: Ensemble, ha_cluster: Cluster, tmp_path: Path, shard_dir: Path,
) -> None:
    master = ha_cluster.start_master()
    ha_cluster.start_agent(cpus=1, mem=512)
    ha_cluster.wait_agents(1)
    client, out = setup_job(ha_cluster, tmp_path, shard_dir, SLOW, {"jobName": "long", "cron": "0 0 0 1 1 ? 2099",
                                                         "shardingTotalCount": 1,
                                                         "environment": {"SLEEP": "8"}})
    setup = master.post("/job/register", json={
        "jobName": "ticker", "appName": "chaos", "cron": "* * * * * ?", "shardingTotalCount": 1,
        "cpuCount": 0.1, "memoryMB": 32, "environment": {"OUT": str(out)}}, timeout=10)
    assert setup.status_code == 204
    trigger(client, "long")
    wait_until(lambda: any(t["metaInfo"]["jobName"] == "long" for t in running(client)), 20)
    wait_until(lambda: finished_firings(rows(client, "ticker"), 1), 20, message="ticker runs before the outage")

    ensemble.kill(2)
    ensemble.kill(3)
    lost_at = time.time()
    time.sleep(6)  # no quorum: nothing may be launched (the long shard keeps running on its agent)
    # The API needs ZooKeeper to find the leader: without a quorum it answers 503, promptly.
    started = time.monotonic()
    assert master.get("/job/events/executions", timeout=30).status_code == 503
    assert time.monotonic() - started < 15
    # What the master recorded meanwhile, read from its history store directly.
    with SqlHistoryStore(f"sqlite:///{master.work_dir / 'data' / 'history.db'}") as history:
        recent = history.executions(ExecutionQuery(job_name="ticker", per_page=1000)).rows
    during = [r for r in recent if r.started_at and r.started_at.timestamp() > lost_at + 1.0]
    assert during == [], f"launched without a quorum: {during}"
    ensemble.start(2, 3)
    restored_at = time.time()

    # Until the master has its session back and leads again it answers 503 ("try again shortly").
    wait_until(lambda: [f for f in finished_firings(_rows_once_served(client, "ticker"), 1)
                        if _instant(f) > restored_at],
               60, interval=0.5, message="ticker runs again after the quorum returned")
    long_rows = wait_until(lambda: [r for r in _rows_once_served(client, "long") if r["state"] == "FINISHED"], 60,
                           message="the long shard's result was recorded after the outage")
    assert len(long_rows) == 1
    assert (out / f"{long_rows[0]['firingId']}-0").read_text().count("\n") == 1
    for job in ("ticker", "long"):
        assert client.post(f"/job/{job}/disable").status_code == 204
    wait_until(lambda: running(client) == [], 20)
    assert_exactly_once(rows(client, "long"), 1, out)
    assert_exactly_once(rows(client, "ticker"), 1, out)
    client.close()


def _instant(firing_id: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(firing_id.removeprefix("cron-"), "%Y%m%dT%H%M%S.%fZ").replace(
        tzinfo=dt.UTC).timestamp()
