"""The masters' in-memory state follows ZooKeeper: whatever changes a job — the API of any master, or a
hand-made change in ZooKeeper — reaches the leader's next plan; and a leader that lost its ZooKeeper
session rebuilds its state before it launches anything again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from kazoo.client import KazooClient

from tests.e2e.conftest import Cluster
from tests.support import ApiUsers, MasterProcess, TcpProxy, build_tarball, wait_until

# Every run leaves a file named after its job, parameter and firing.
SCRIPT = """#!/bin/sh
touch "$OUT/$ELASTICJOB_JOB_NAME.$ELASTICJOB_JOB_PARAMETER.$ELASTICJOB_FIRING_ID"
"""
EVERY_SECOND = "* * * * * ?"


def _runs(out: Path, job: str, parameter: str | None = None) -> list[Path]:
    prefix = f"{job}." if parameter is None else f"{job}.{parameter}."
    return sorted(p for p in out.iterdir() if p.name.startswith(prefix))


def _app(client: httpx.Client, tmp_path: Path) -> None:
    tarball = build_tarball({"run.sh": SCRIPT}, tmp_path / "app.tar.gz", executable=("run.sh",))
    app = {"appName": "cache", "appURL": tarball.as_uri(), "bootstrapScript": "./run.sh", "cpuCount": 0.1,
           "memoryMB": 16}
    assert client.post("/app", json=app).status_code == 204


def _job(name: str, out: Path, **fields: object) -> dict[str, object]:
    return {"jobName": name, "appName": "cache", "cron": EVERY_SECOND, "shardingTotalCount": 1,
            "cpuCount": 0.1, "memoryMB": 16, "jobParameter": "v1", "environment": {"OUT": str(out)}, **fields}


def _quiet(out: Path, job: str, seconds: float = 3.0) -> None:
    """No new run of ``job`` starts during ``seconds`` (after the one that may have been under way)."""
    time.sleep(1.5)
    before = len(_runs(out, job))
    time.sleep(seconds)
    assert len(_runs(out, job)) == before, f"{job} kept running"


def test_changes_through_any_master_or_zookeeper_reach_the_leaders_next_plan(
    cluster: Cluster, tmp_path: Path, shard_dir: Path, zk: KazooClient
) -> None:
    leader = cluster.start_master()
    wait_until(lambda: leader.get("/leader").json().get("self"), 15)
    follower = cluster.start_master()
    cluster.start_agent(cpus=2, mem=512)
    cluster.wait_agents(1)
    out = shard_dir
    root = f"/{cluster.namespace}"
    with follower.http() as api:
        _app(api, tmp_path)
        # Registered through the follower: the leader runs it.
        assert api.post("/job/register", json=_job("viaapi", out)).status_code == 204
        wait_until(lambda: _runs(out, "viaapi", "v1"), 15, message="the job registered via the follower runs")
        # Changed through the follower: the next firings run the new configuration.
        assert api.put("/job/update", json=_job("viaapi", out, jobParameter="v2")).status_code == 204
        wait_until(lambda: _runs(out, "viaapi", "v2"), 15, message="the changed job runs")
        # Disabled through the follower: it stops.
        assert api.post("/job/viaapi/disable").status_code == 204
        _quiet(out, "viaapi")
        # Enabled again, then removed by hand in ZooKeeper: it stops too.
        assert api.post("/job/viaapi/enable").status_code == 204
        count = len(_runs(out, "viaapi"))
        wait_until(lambda: len(_runs(out, "viaapi")) > count, 15, message="the enabled job runs again")
        transaction = zk.transaction()
        transaction.delete(f"{root}/config/job/viaapi")
        transaction.delete(f"{root}/state/ready/viaapi")
        transaction.commit()
        _quiet(out, "viaapi")
        wait_until(lambda: api.get("/job/jobs/viaapi").status_code == 404, 5)

    # Registered, changed and disabled by hand in ZooKeeper.
    body = _job("byhand", out)
    zk.create(f"{root}/config/job/byhand", json.dumps(body).encode())
    wait_until(lambda: _runs(out, "byhand", "v1"), 15, message="a job created in ZooKeeper runs")
    zk.set(f"{root}/config/job/byhand", json.dumps({**body, "jobParameter": "v3"}).encode())
    wait_until(lambda: _runs(out, "byhand", "v3"), 15, message="a job changed in ZooKeeper runs changed")
    zk.create(f"{root}/state/disable/job/byhand")
    _quiet(out, "byhand")


def test_a_leader_back_from_a_session_expiry_rebuilds_its_state_before_launching(
    zk_hosts: str, namespace: str, tmp_path: Path, shard_dir: Path, zk: KazooClient, api_users: ApiUsers | None
) -> None:
    host, port = zk_hosts.split(",")[0].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    cluster = Cluster(proxy.address, namespace, tmp_path, api_users)  # the master reaches ZooKeeper through the proxy
    try:
        master = cluster.start_master()
        wait_until(lambda: master.get("/leader").json().get("self"), 15)
        agent_cluster = Cluster(zk_hosts, namespace, tmp_path / "agents", api_users)
        cluster.agents = agent_cluster.agents
        agent_cluster.start_agent(cpus=2, mem=512)
        cluster.wait_agents(1)
        out = shard_dir
        with master.http() as api:
            _app(api, tmp_path)
            assert api.post("/job/register", json=_job("steady", out)).status_code == 204
            assert api.post("/job/register", json=_job("other", out)).status_code == 204
            wait_until(lambda: _runs(out, "steady") and _runs(out, "other"), 15, message="the jobs run")

        proxy.cut()  # longer than the master's session timeout (4 s): its session expires
        zk.create(f"/{namespace}/state/disable/job/steady")  # while the master cannot see it
        time.sleep(8)
        log_before = len(master.log_path.read_text())
        cut_over = time.time()
        proxy.restore()
        wait_until(lambda: [p for p in _runs(out, "other") if p.stat().st_mtime > cut_over], 30,
                   message="the master launches again after the session expiry")
        time.sleep(2)
        late = [p.name for p in _runs(out, "steady") if p.stat().st_mtime > cut_over + 0.5]
        assert not late, f"launched from a stale state after the session expiry: {late}"
        after = master.log_path.read_text()[log_before:]
        assert "Session has expired" in after
        # The state was read again, and the heap rebuilt from it, before the first launch after the expiry.
        synced, rebuilt, launched = (after.find(s) for s in ("registry mirror synced", "scheduler state rebuilt",
                                                             "launched 1 task"))
        assert -1 < synced < rebuilt < launched, after[-3000:]
    finally:
        cluster.stop()
        proxy.stop()


def test_a_master_answers_from_memory_and_sees_its_own_writes(cluster: Cluster) -> None:
    """Each write is read back at once from the same master (read-your-writes), for many writes."""
    master: MasterProcess = cluster.start_master()
    with master.http() as api:
        app = {"appName": "ryw", "appURL": "http://127.0.0.1:1/app.tar.gz", "bootstrapScript": "./run.sh",
               "cpuCount": 0.1, "memoryMB": 16}
        created = api.post("/app", json=app)
        assert created.status_code == 204, created.text
        for i in range(30):
            body = {"jobName": f"ryw{i}", "appName": "ryw", "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": 1,
                    "cpuCount": 0.1, "memoryMB": 16}
            assert api.post("/job/register", json=body).status_code == 204
            assert api.get(f"/job/jobs/ryw{i}").status_code == 200
            assert api.put("/job/update", json={**body, "shardingTotalCount": 2}).status_code == 204
            assert api.get(f"/job/jobs/ryw{i}").json()["shardingTotalCount"] == 2
            assert api.post(f"/job/ryw{i}/disable").status_code == 204
            assert api.get(f"/job/ryw{i}/disable").json() is True
        listed = api.get("/job/jobs", params={"page": 2, "per_page": 10})
        assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "30"
        assert [j["jobName"] for j in listed.json()] == sorted(f"ryw{i}" for i in range(30))[10:20]
