"""Execution rows' ``ip`` and the Elastic-Job-Cloud statistics API on a real cluster: ZooKeeper, a
master process and an agent process running real shards."""

from __future__ import annotations

import re
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


# What the original console's dashboard (its job_dashboard.js) asks for, every call of it.
DASHBOARD = (
    "/api/job/statistics/tasks/results/lastMinute",
    "/api/job/statistics/tasks/results/lastHour",
    "/api/job/statistics/tasks/results/lastWeek",
    "/api/job/statistics/jobs/type",
    "/api/job/statistics/jobs/executionType",
    "/api/job/statistics/tasks/results?since=last24hours",
    "/api/job/statistics/jobs/running?since=lastWeek",
    "/api/job/statistics/tasks/running?since=lastWeek",
    "/api/job/statistics/jobs/register",
)

RESULT_FIELDS = {"id", "successCount", "failedCount", "statisticInterval", "statisticsTime", "creationTime"}
DATE = r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M"


def _get(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def _sampled(client: httpx.Client, path: str, field: str, at_least: int) -> list[dict[str, Any]] | None:
    rows = _get(client, path)
    return rows if rows and max(r[field] for r in rows) >= at_least else None


def test_the_statistics_api_counts_results_running_and_registered_jobs(
    cluster: Cluster, tmp_path: Path
) -> None:
    _start(cluster, tmp_path, "--statistics-interval", "1")
    with cluster.api as client:
        for path in DASHBOARD:  # before anything ran: every call answers, with the original's shapes
            _get(client, path)
        assert _get(client, "/job/statistics/tasks/results/online")["successCount"] == 0

        job = _job("mixed", 2, FAIL_SHARD="1")
        assert client.post("/job/register", json=job).status_code == 204
        daemon = {**_job("slow", 1, SLEEP="30"), "jobExecutionType": "DAEMON", "cron": "0 0 0 1 1 ? 2099"}
        assert client.post("/job/register", json=daemon).status_code == 204
        _trigger(client, "mixed")
        wait_until(lambda: _ended(client, "mixed", 2), 30, message="both shards end")

        for period, interval in (("lastMinute", "MINUTE"), ("lastHour", "HOUR"), ("lastWeek", "DAY"),
                                 ("online", "DAY")):
            result = _get(client, f"/job/statistics/tasks/results/{period}")
            assert set(result) == RESULT_FIELDS
            assert (result["successCount"], result["failedCount"]) == (1, 1), period
            assert result["statisticInterval"] == interval
            assert re.fullmatch(DATE, result["statisticsTime"]) and re.fullmatch(DATE, result["creationTime"])

        minutes = _get(client, "/api/job/statistics/tasks/results?since=last24hours")
        assert len(minutes) == 24 * 60 + 1 and all(set(m) == RESULT_FIELDS for m in minutes)
        assert {m["statisticInterval"] for m in minutes} == {"MINUTE"}
        assert sum(m["successCount"] for m in minutes) == 1 and sum(m["failedCount"] for m in minutes) == 1

        assert _get(client, "/job/statistics/jobs/type") == {
            "scriptJobCount": 2, "simpleJobCount": 0, "dataflowJobCount": 0}
        assert _get(client, "/job/statistics/jobs/executionType") == {"transientJobCount": 1, "daemonJobCount": 1}

        # The daemon job's shard runs (it sleeps): the leader's samples see it, and the two jobs registered.
        tasks = wait_until(lambda: _sampled(client, "/job/statistics/tasks/running?since=lastWeek",
                                            "runningCount", 1), 30, message="a running task is sampled")
        assert set(tasks[-1]) == {"id", "runningCount", "statisticsTime", "creationTime"}
        jobs = _get(client, "/job/statistics/jobs/running?since=lastWeek")
        assert max(r["runningCount"] for r in jobs) >= 1
        registered = wait_until(lambda: _sampled(client, "/api/job/statistics/jobs/register",
                                                 "registeredCount", 2), 10, message="two jobs registered")
        assert set(registered[-1]) == {"id", "registeredCount", "statisticsTime", "creationTime"}
        assert re.fullmatch(DATE, registered[-1]["statisticsTime"])

        for path in DASHBOARD:
            _get(client, path)


def test_statistics_errors_are_json_4xx(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_master()
    with cluster.api as client:
        for path, status, field in (
            ("/job/statistics/tasks/results", 422, "since"),
            ("/job/statistics/tasks/results?since=lastWeek", 422, "since"),
            ("/api/job/statistics/tasks/running?since=yesterday", 422, "since"),
            ("/job/statistics/jobs/running", 422, "since"),
            ("/job/statistics/tasks/results/lastDay", 404, None),
        ):
            response = client.get(path)
            assert response.status_code == status, (path, response.text)
            body = response.json()
            assert set(body) == {"message", "details"} and body["message"]
            if field is not None:
                assert [d["path"] for d in body["details"]] == [field]


def test_a_follower_answers_statistics_from_the_leader(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    follower = cluster.start_master()
    with cluster.api as leader_client, follower.http() as client:
        assert leader_client.post("/job/register", json=_job("once", 1)).status_code == 204
        _trigger(leader_client, "once")
        wait_until(lambda: _ended(leader_client, "once", 1), 30, message="the task ends")
        assert _get(client, "/job/statistics/tasks/results/lastHour")["successCount"] == 1
        assert _get(client, "/job/statistics/jobs/executionType") == {"transientJobCount": 1, "daemonJobCount": 0}
