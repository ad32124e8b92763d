"""Chaos: kill real processes mid-run and check the recorded history for exactly-once execution.

Every scenario asserts on the execution history (and on the shards' own side-effect files): for a job
with failover=true, each shard of each firing that started FINISHED exactly once; and on the runs: each
firing is one run with one final status, whose tasks are exactly the executions recorded for it.
"""

from __future__ import annotations

import collections
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import MasterProcess, build_tarball, wait_until

NEVER = "0 0 0 1 1 ? 2099"
# Waits for $OUT/go (so the test decides when shards may finish), then records its run once.
GATED = """#!/bin/sh
while [ ! -f "$OUT/go" ]; do sleep 0.1; done
echo "$ELASTICJOB_TASK_ID" >> "$OUT/$ELASTICJOB_FIRING_ID-$ELASTICJOB_SHARDING_ITEM"
"""
QUICK = """#!/bin/sh
sleep 0.5
echo "$ELASTICJOB_TASK_ID" >> "$OUT/$ELASTICJOB_FIRING_ID-$ELASTICJOB_SHARDING_ITEM"
"""


def rows(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    response = client.get("/job/events/executions", params={"jobName": job, "per_page": 1000})
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def assert_exactly_once(history: list[dict[str, Any]], shards: int, out: Path) -> set[str]:
    """Each firing that started has every shard FINISHED exactly once, in the history and in the
    shards' own output; returns the firing ids."""
    finished = collections.Counter(
        (r["firingId"], r["shardingItem"]) for r in history if r["state"] == "FINISHED"
    )
    assert not [k for k, n in finished.items() if n > 1], f"shards finished twice: {finished}"
    firings = {r["firingId"] for r in history if r["state"] != "MISSED"}
    for firing in firings:
        for item in range(shards):
            assert finished[(firing, item)] == 1, (firing, item, [
                (r["shardingItem"], r["state"], r["failureCause"]) for r in history if r["firingId"] == firing])
            lines = (out / f"{firing}-{item}").read_text().splitlines()
            assert len(lines) == 1, f"{firing} shard {item} ran {len(lines)} times: {lines}"
    return firings


def assert_runs(client: httpx.Client, job: str, history: list[dict[str, Any]]) -> None:
    """Each firing is one run with one final status — SUCCESS when every shard finished — whose tasks are
    exactly the executions recorded for it."""
    response = client.get(f"/job/jobs/{job}/runs", params={"per_page": 100})
    assert response.status_code == 200, response.text
    listed = response.json()
    runs = listed["runs"]
    assert listed["total"] == len(runs) and len({r["runId"] for r in runs}) == len(runs)
    by_firing = {r["firingId"]: r for r in runs}
    assert len(by_firing) == len(runs), "a firing shows as two runs"
    assert set(by_firing) == {r["firingId"] for r in history}
    for firing, run in by_firing.items():
        recorded = sorted((r["taskId"], r["state"]) for r in history if r["firingId"] == firing)
        assert sorted((t["taskId"], t["state"]) for t in run["tasks"]) == recorded, run
        assert run["status"] in ("SUCCESS", "FAILED") and run["finishedAt"], run
        started = any(state != "MISSED" for _, state in recorded)
        assert run["status"] == ("SUCCESS" if started else "FAILED"), (
            f"{run['status']} ({run['reason']}): " + "; ".join(
                f"shard {t['shardingItem']} {t['state']} created {t['createdAt']} {t['message']!r}"
                for t in run["tasks"]))


def setup_job(cluster: Cluster, tmp_path: Path, out: Path, script: str,
              job: dict[str, Any]) -> tuple[httpx.Client, Path]:
    """Registers ``job`` running ``script``; its shards write to ``out`` (a ``shard_dir``: they may run as nobody)."""
    tarball = build_tarball({"bin/run.sh": script}, tmp_path / "app.tar.gz", executable=("bin/run.sh",))
    client = cluster.masters[0].http()
    assert client.post("/app", json={"appName": "chaos", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
                                     "cpuCount": 0.1, "memoryMB": 16}).status_code == 204
    body = {"appName": "chaos", "cpuCount": 0.1, "memoryMB": 32, "failover": True, **job,
            "environment": {**job.get("environment", {}), "OUT": str(out)}}
    assert client.post("/job/register", json=body).status_code == 204
    return client, out


def drain(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    """Disable ``job``, wait until nothing of it runs or waits for failover, and return its executions,
    having checked that each firing is one run whose tasks are exactly those recorded (``assert_runs``)."""
    assert client.post(f"/job/{job}/disable").status_code == 204
    wait_until(lambda: running(client) == [] and client.get("/job/tasks/failover").json() == [], 40,
               message="the last firings drained")
    time.sleep(1)  # the leader's history writer: the last events in
    history = rows(client, job)
    assert_runs(client, job, history)
    return history


def trigger(client: httpx.Client, job: str) -> None:
    assert client.post("/job/trigger", content=job.encode(), headers={"Content-Type": "text/plain"}).status_code == 204


def running(client: httpx.Client) -> list[dict[str, Any]]:
    return client.get("/job/tasks/running").json()


def test_sigkill_an_agent_mid_shard_fails_its_shards_over(cluster: Cluster, tmp_path: Path, shard_dir: Path) -> None:
    cluster.start_master()
    victim = cluster.start_agent(cpus=1, mem=512, agent_id="victim")
    cluster.start_agent(cpus=1, mem=512, agent_id="survivor")
    cluster.wait_agents(2)
    client, out = setup_job(cluster, tmp_path, shard_dir, GATED, {"jobName": "gated", "cron": NEVER, "shardingTotalCount": 4})
    trigger(client, "gated")
    wait_until(lambda: len(running(client)) == 4 and all(
        r["state"] == "RUNNING" for r in rows(client, "gated") if r["taskId"] in {t["id"] for t in running(client)}),
        20, message="four shards running")
    on_victim = [t for t in running(client) if t["slaveId"] == "victim"]
    assert on_victim, "spread placement put shards on both agents"
    victim.kill()
    wait_until(lambda: len(client.get("/job/tasks/failover").json()) + sum(
        t["type"] == "FAILOVER" for t in running(client)) >= len(on_victim), 30, message="victim's shards failed over")
    (out / "go").touch()
    wait_until(lambda: running(client) == [], 30, message="all shards done")
    history = rows(client, "gated")
    firings = assert_exactly_once(history, 4, out)
    assert len(firings) == 1
    assert_runs(client, "gated", history)
    lost = [r for r in history if r["state"] == "LOST"]
    assert sorted(r["taskId"] for r in lost) == sorted(t["id"] for t in on_victim)
    assert all(r["agentId"] == "survivor" for r in history if r["state"] == "FINISHED")
    metrics = cluster.masters[0].get("/metrics").text
    assert 'elasticjob_failovers_total{cause="LOST"}' in metrics


def test_sigstopped_agent_kills_its_stale_copy_after_sigcont(cluster: Cluster, tmp_path: Path, shard_dir: Path) -> None:
    cluster.start_master()
    frozen = cluster.start_agent(cpus=1, mem=512, agent_id="frozen")
    cluster.wait_agents(1)
    client, out = setup_job(cluster, tmp_path, shard_dir, GATED, {"jobName": "stale", "cron": NEVER, "shardingTotalCount": 2})
    trigger(client, "stale")
    original = wait_until(lambda: [t["id"] for t in running(client)] if len(running(client)) == 2 and all(
        r["state"] == "RUNNING" for r in rows(client, "stale")) else None, 20, message="shards running")
    assert frozen.process is not None
    frozen.process.send_signal(signal.SIGSTOP)  # past the session timeout (4 s) and the grace period
    try:
        spare = cluster.start_agent(cpus=1, mem=512, agent_id="spare")
        wait_until(lambda: {t["slaveId"] for t in running(client)} == {"spare"} and len(running(client)) == 2,
                   60, message="both shards failed over to the spare agent")
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    # The frozen agent wakes up with stale copies: they must be killed, never finish.
    wait_until(lambda: "abandoning" in frozen.log() or "killing task" in frozen.log() or
               "not running" in frozen.log() or "KILLED" in frozen.log() or "FAILED" in frozen.log(), 30,
               message="the stale copies were stopped")
    time.sleep(1.0)
    (out / "go").touch()
    wait_until(lambda: running(client) == [], 30, message="failed-over shards done")
    history = rows(client, "stale")
    assert_exactly_once(history, 2, out)
    assert_runs(client, "stale", history)
    assert all(r["agentId"] == "spare" for r in history if r["state"] == "FINISHED")
    assert {r["taskId"] for r in history if r["state"] == "LOST"} == set(original)
    assert spare.process is not None and spare.process.poll() is None


def test_leader_sigkilled_repeatedly_never_loses_or_doubles_a_firing(cluster: Cluster, tmp_path: Path, shard_dir: Path) -> None:
    shared = ["--history-url", str(tmp_path / "history.db")]
    for _ in range(3):
        cluster.start_master(*shared)
    cluster.start_agent(cpus=1, mem=512)
    cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(2)
    client, out = setup_job(cluster, tmp_path, shard_dir, QUICK, {"jobName": "steady", "cron": "0/2 * * * * ?",
                                                       "shardingTotalCount": 3, "misfire": True})
    client.close()
    killed = 0
    deadline = time.monotonic() + 45
    while killed < 3 and time.monotonic() < deadline:
        leader = next((m for m in cluster.masters if m.process and m.process.poll() is None and
                       _is_leader(m)), None)
        if leader is None:
            time.sleep(0.3)
            continue
        time.sleep(2.5)  # let it launch a firing or two, then kill it mid-way
        leader.kill()
        killed += 1
        cluster.start_master(*shared)  # keep three masters
    assert killed == 3
    survivor = wait_until(lambda: next((m for m in cluster.masters if m.process and m.process.poll() is None
                                        and _is_leader(m)), None), 20, message="a leader after the kills")
    with survivor.http() as client:
        time.sleep(4)
        history = drain(client, "steady")
    firings = assert_exactly_once(history, 3, out)
    assert len(firings) >= 5
    # firing identity is the scheduled instant: no instant fired twice under two ids
    assert len({f for f in firings}) == len(firings)


def test_restarting_every_master_and_agent_at_once_loses_nothing(cluster: Cluster, tmp_path: Path, shard_dir: Path) -> None:
    shared = ["--history-url", str(tmp_path / "history.db")]
    cluster.start_master(*shared)
    a = cluster.start_agent(cpus=1, mem=512, agent_id="a")
    b = cluster.start_agent(cpus=1, mem=512, agent_id="b")
    cluster.wait_agents(2)
    client, out = setup_job(cluster, tmp_path, shard_dir, GATED, {"jobName": "reboot", "cron": NEVER, "shardingTotalCount": 3})
    trigger(client, "reboot")
    wait_until(lambda: len(running(client)) == 3, 20, message="shards launched")
    client.close()
    for process in (*cluster.masters, a, b):
        process.kill()
    cluster.start_master(*shared)
    cluster.start_agent(cpus=1, mem=512, agent_id="a")
    cluster.start_agent(cpus=1, mem=512, agent_id="b")
    with cluster.masters[-1].http() as client:
        cluster.masters[0] = cluster.masters[-1]
        cluster.wait_agents(2)
        (out / "go").touch()
        wait_until(lambda: running(client) == [] and client.get("/job/tasks/failover").json() == [] and any(
            r["state"] == "FINISHED" for r in rows(client, "reboot")), 60, message="the firing completed")
        history = rows(client, "reboot")
        assert_runs(client, "reboot", history)
    assert_exactly_once(history, 3, out)
    assert len([r for r in history if r["state"] == "LOST"]) == 3


def _is_leader(master: MasterProcess) -> bool:
    try:
        return bool(master.get("/leader", timeout=2).json().get("self"))
    except (httpx.HTTPError, ValueError):
        return False
