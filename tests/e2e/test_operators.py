"""The operators' routes (``/cluster/...``, ``/job/summaries``, ``/job/jobs/{name}/firings``) on a real
cluster: what the console's dashboard, agents, queues, job list, schedule and registry pages show."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

SCRIPT = """#!/bin/sh
echo "shard $ELASTICJOB_SHARDING_ITEM"
sleep "${SLEEP:-0}"
"""
NEVER = "0 0 0 1 1 ? 2099"


def _setup(cluster: Cluster, tmp_path: Path) -> httpx.Client:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "ops.tar.gz", executable=("bin/run.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=512, attributes="rack=r1", agent_id="agent-a")
    cluster.wait_agents(1)
    with cluster.api as api:
        _register(api, tarball)
    return cluster.api


def _register(api: httpx.Client, tarball: Path) -> None:
    app = {"appName": "ops", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh", "cpuCount": 0.1,
           "memoryMB": 16}
    assert api.post("/app", json=app).status_code == 204
    jobs = [("team.sleeper", NEVER, 2, 32, "60"), ("team.huge", NEVER, 1, 4096, "0"),
            ("other.daily", "0 30 2 * * ?", 1, 32, "0")]
    for name, schedule, shards, memory, sleep in jobs:
        job = {"jobName": name, "appName": "ops", "cron": schedule, "shardingTotalCount": shards,
               "cpuCount": 0.5, "memoryMB": memory, "environment": {"SLEEP": sleep},
               "timeZone": "Asia/Shanghai"}
        assert api.post("/job/register", json=job).status_code == 204, name


def test_overview_agents_tasks_and_queues(cluster: Cluster, tmp_path: Path) -> None:
    with _setup(cluster, tmp_path) as api:
        for name in ("team.sleeper", "team.huge"):
            assert api.post("/job/trigger", content=name.encode()).status_code == 204
        def sleeping() -> list[dict[str, object]]:
            found = api.get("/cluster/tasks", params={"jobName": "team.sleeper"}).json()
            return found if len(found) == 2 and all(t["state"] == "RUNNING" for t in found) else []

        tasks = wait_until(sleeping, 30)
        assert {t["shardingItem"] for t in tasks} == {0, 1}
        assert {t["agentId"] for t in tasks} == {"agent-a"} and all(t["runId"] for t in tasks)
        assert api.get("/cluster/tasks", params={"agentId": "nobody"}).json() == []

        overview = api.get("/cluster/overview").json()
        assert overview["leader"]["self"] is True
        assert overview["zookeeper"] == {"state": "CONNECTED", "synced": True}
        assert overview["agents"]["count"] == 1 and overview["agents"]["cpus"]["total"] == 2
        # Two shards of 0.5 CPUs and the app's executor (0.1 CPUs, 16 MB) once.
        assert overview["agents"]["cpus"]["used"] == 1.1 and overview["agents"]["memMB"]["used"] == 80
        assert overview["jobs"] == {"count": 3, "disabled": 0} and overview["apps"]["count"] == 1
        assert overview["tasks"]["running"] == 2 and overview["tasks"]["readyFirings"] == 1

        [agent] = api.get("/cluster/agents").json()
        assert agent["agentId"] == "agent-a" and agent["status"] == "ACTIVE"
        assert agent["attributes"] == {"rack": "r1"} and agent["runningTasks"] == 2
        detail = api.get("/cluster/agents/agent-a").json()
        assert sorted(t["taskId"] for t in detail["tasks"]) == sorted(t["taskId"] for t in tasks)
        assert api.get("/cluster/agents/nobody").status_code == 404

        # The huge job cannot fit: its firing waits, and says why.
        queues = wait_until(lambda: (q := api.get("/cluster/queues").json())["ready"]
                            and q["ready"][0]["reason"] and q, 30)
        [waiting] = queues["ready"]
        assert waiting["jobName"] == "team.huge" and "4096 MB" in waiting["reason"]
        assert waiting["firings"][0]["cause"] == "TRIGGER" and waiting["firings"][0]["runId"]
        assert queues["failover"] == [] and queues["missed"] == []

        # An agent that leaves is shown as gone, with when.
        left = dt.datetime.now(dt.UTC)
        cluster.agents[0].stop()
        gone = wait_until(lambda: [a for a in api.get("/cluster/agents").json() if a["status"] == "GONE"], 30)
        assert gone[0]["agentId"] == "agent-a" and gone[0]["hostname"]
        assert dt.datetime.fromisoformat(gone[0]["goneAt"]) >= left - dt.timedelta(seconds=1)
        assert api.get("/cluster/agents/agent-a").json()["status"] == "GONE"
        assert api.get("/cluster/overview").json()["agents"]["count"] == 0


def test_job_summaries_firings_and_the_registry(cluster: Cluster, tmp_path: Path) -> None:
    with _setup(cluster, tmp_path) as api:
        assert api.post("/job/team.huge/disable").status_code == 204
        page = api.get("/job/summaries").json()
        assert page["total"] == 3 and [j["jobName"] for j in page["jobs"]] == [
            "other.daily", "team.huge", "team.sleeper"]
        huge = page["jobs"][1]
        assert huge == {"jobName": "team.huge", "appName": "ops", "group": "team", "cron": NEVER,
                        "disabled": True, "jobExecutionType": "TRANSIENT", "shardingTotalCount": 1,
                        "description": ""}
        assert [j["jobName"] for j in api.get("/job/summaries", params={"group": "team"}).json()["jobs"]] == [
            "team.huge", "team.sleeper"]
        assert [j["jobName"] for j in api.get("/job/summaries", params={"q": "SLEEP"}).json()["jobs"]] == [
            "team.sleeper"]
        assert [j["jobName"] for j in api.get("/job/summaries", params={"state": "disabled"}).json()["jobs"]] == [
            "team.huge"]
        second = api.get("/job/summaries", params={"sort": "-name", "per_page": 1, "page": 2}).json()
        assert second["total"] == 3 and [j["jobName"] for j in second["jobs"]] == ["team.huge"]
        for bad in ({"sort": "size"}, {"state": "off"}, {"per_page": "0"}, {"page": "x"}):
            refused = api.get("/job/summaries", params=bad)
            assert refused.status_code == 422 and refused.json()["details"][0]["path"] in bad, refused.text

        firings = api.get("/job/jobs/other.daily/firings").json()
        assert firings["timeZone"] == "Asia/Shanghai" and len(firings["firings"]) == 5
        times = [dt.datetime.fromisoformat(t) for t in firings["firings"]]
        assert all(t.utcoffset() == dt.timedelta(hours=8) and (t.hour, t.minute) == (2, 30) for t in times)
        assert all((b - a) == dt.timedelta(days=1) for a, b in zip(times, times[1:], strict=False))
        assert len(api.get("/job/jobs/other.daily/firings", params={"count": 2}).json()["firings"]) == 2
        assert api.get("/job/jobs/other.daily/firings", params={"count": 0}).status_code == 422
        assert api.get("/job/jobs/nope/firings").status_code == 404

        root = api.get("/cluster/registry").json()
        assert root["path"] == f"/{cluster.namespace}" and root["parent"] is None
        assert {"config", "state", "agents", "leader"} <= set(root["children"])
        jobs = api.get("/cluster/registry", params={"path": "/config/job"}).json()
        assert jobs["children"] == ["other.daily", "team.huge", "team.sleeper"] and jobs["numChildren"] == 3
        znode = api.get("/cluster/registry", params={"path": "config/job/team.sleeper"}).json()
        assert znode["format"] == "json" and znode["data"]["jobName"] == "team.sleeper"
        assert znode["version"] == 0 and znode["ephemeral"] is False and znode["children"] == []
        assert znode["parent"] == f"/{cluster.namespace}/config/job"
        assert dt.datetime.fromisoformat(znode["mtime"].replace("Z", "+00:00")) <= dt.datetime.now(dt.UTC)
        agent = api.get("/cluster/registry", params={"path": "/agents/agent-a"}).json()
        assert agent["ephemeral"] is True
        paged = api.get("/cluster/registry", params={"path": "/config/job", "from": 1, "size": 1}).json()
        assert paged["children"] == ["team.huge"] and paged["numChildren"] == 3
        assert api.get("/cluster/registry", params={"path": "/config/nothing"}).status_code == 404
        outside = api.get("/cluster/registry", params={"path": "../zookeeper"})
        assert outside.status_code == 422 and outside.json()["details"][0]["path"] == "path"
