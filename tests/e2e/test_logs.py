"""Task and run logs on a real cluster: timestamped lines, paging, time windows, following, retention."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import ApiUsers, build_tarball, wait_until

# Prints TICKS lines on stdout, one every PAUSE seconds, and one line on stderr; ends with a partial line.
SCRIPT = """#!/bin/sh
i=0
while [ "$i" -lt "${TICKS:-3}" ]; do
  echo "shard $ELASTICJOB_SHARDING_ITEM tick $i"
  i=$((i + 1))
  sleep "${PAUSE:-0}"
done
echo "oops $ELASTICJOB_SHARDING_ITEM" >&2
printf 'no newline at the end'
"""
NEVER = "0 0 0 1 1 ? 2099"


def _start(cluster: Cluster, tmp_path: Path, *agent_flags: str) -> None:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "logs.tar.gz", executable=("bin/run.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024, extra=agent_flags)
    cluster.wait_agents(1)
    app = {"appName": "logs", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
           "cpuCount": 0.1, "memoryMB": 16}
    with cluster.api as client:
        assert client.post("/app", json=app).status_code == 204


def _register(client: httpx.Client, name: str, shards: int, **environment: str) -> None:
    job = {"jobName": name, "appName": "logs", "cron": NEVER, "shardingTotalCount": shards,
           "cpuCount": 0.1, "memoryMB": 32, "failover": False, "environment": environment}
    assert client.post("/job/register", json=job).status_code == 204


def _run(client: httpx.Client, name: str) -> dict[str, Any]:
    """Trigger ``name`` and return its run once it has tasks on an agent."""
    assert client.post("/job/trigger", content=name.encode(), headers={"Content-Type": "text/plain"}).status_code == 204

    def placed() -> dict[str, Any] | None:
        runs = client.get(f"/job/jobs/{name}/runs").json()["runs"]
        return runs[0] if runs and runs[0]["tasks"] and all(t["agentId"] for t in runs[0]["tasks"]) else None

    return wait_until(placed, 30, message=f"{name}'s run is placed")


def _finished(client: httpx.Client, name: str, run_id: str) -> dict[str, Any] | None:
    run = client.get(f"/job/jobs/{name}/runs/{run_id}").json()
    return run if run["status"] in ("SUCCESS", "FAILED") else None


def test_lines_carry_their_time_and_page_by_number_and_window(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    with cluster.api as client:
        _register(client, "ticks", 1, TICKS="6", PAUSE="0.3")
        before = time.time()
        run = _run(client, "ticks")
        wait_until(lambda: _finished(client, "ticks", run["runId"]), 30, message="the run ends")
        after = time.time()
        task_id = run["tasks"][0]["taskId"]
        url = f"/job/tasks/{task_id}/logs"

        whole = client.get(url, params={"from": 0, "size": 100})
        assert whole.status_code == 200, whole.text
        body = whole.json()
        messages = [line["message"] for line in body["lines"]]
        assert messages == [f"shard 0 tick {i}" for i in range(6)] + ["no newline at the end"]
        assert [line["line"] for line in body["lines"]] == list(range(7))
        assert (body["firstLine"], body["nextLine"], body["eof"], body["running"]) == (0, 7, True, False)
        times = [line["time"] for line in body["lines"]]
        assert before - 1 <= times[0] <= times[-1] <= after + 1
        assert times == sorted(times) and times[5] - times[0] >= 1.2  # five pauses of 0.3 s

        page = client.get(url, params={"from": 2, "size": 2}).json()
        assert [line["message"] for line in page["lines"]] == ["shard 0 tick 2", "shard 0 tick 3"]
        assert (page["nextLine"], page["eof"]) == (4, False)
        tail = client.get(url, params={"from": -2}).json()
        assert [line["message"] for line in tail["lines"]] == ["shard 0 tick 5", "no newline at the end"]

        # The time window of lines 2..3 holds exactly them (times are ms; the window is in seconds).
        window = client.get(url, params={"start_time": times[2], "end_time": times[3]}).json()
        assert [line["line"] for line in window["lines"]] == [2, 3]
        assert window["eof"]

        stderr = client.get(url, params={"stream": "stderr", "size": 10}).json()
        assert [line["message"] for line in stderr["lines"]] == ["oops 0"]

        # The byte form is what it was.
        raw = client.get(url, params={"offset": 0, "length": 14}).json()
        assert raw["data"] == "shard 0 tick 0" and raw["nextOffset"] == 14

        for params, field in (({"size": 0}, "size"), ({"from": "x"}, "from"),
                              ({"start_time": 10, "end_time": 5}, "end_time"), ({"stream": "x", "size": 1}, "stream"),
                              # beyond the agent protocol's int64: refused, not a 500
                              ({"offset": 2**70}, "offset"), ({"from": 2**70}, "from"),
                              ({"start_time": 1e300}, "start_time"), ({"end_time": 1e300}, "end_time")):
            bad = client.get(url, params=params)
            assert bad.status_code == 422, (params, bad.text)
            assert field in json.dumps(bad.json()["details"]), bad.text


def test_following_a_task_and_a_run_streams_lines_until_they_end(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    with cluster.api as client:
        _register(client, "slow", 2, TICKS="8", PAUSE="0.4")
        run = _run(client, "slow")
        task_id = run["tasks"][0]["taskId"]
        started = time.monotonic()
        followed: list[dict[str, Any]] = []
        arrivals: list[float] = []
        with client.stream("GET", f"/job/tasks/{task_id}/logs", params={"follow": "true"}, timeout=60) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("application/x-ndjson")
            for raw in answer.iter_lines():
                if raw.strip():
                    followed.append(json.loads(raw))
                    arrivals.append(time.monotonic() - started)
        assert [line["message"] for line in followed] == (
            [f"shard 0 tick {i}" for i in range(8)] + ["no newline at the end"]
        )
        # Lines arrived while the task ran (not all at its end), and the stream ended with the task.
        assert arrivals[-1] - arrivals[0] >= 1.5
        assert _finished(client, "slow", run["runId"]) or wait_until(
            lambda: _finished(client, "slow", run["runId"]), 10
        )

        # A run's logs: every shard's lines, and following them ends when the run has.
        logs = client.get(f"/job/jobs/slow/runs/{run['runId']}/logs", params={"size": 3}).json()
        assert logs["runId"] == run["runId"] and len(logs["tasks"]) == 2
        for entry in logs["tasks"]:
            shard = entry["shardingItem"]
            assert [line["message"] for line in entry["lines"]] == [f"shard {shard} tick {i}" for i in range(3)]
            assert entry["nextLine"] == 3 and not entry["eof"]

        second = _run(client, "slow")
        streamed: list[dict[str, Any]] = []
        with client.stream(
            "GET", f"/job/jobs/slow/runs/{second['runId']}/logs", params={"follow": "true", "from": 0}, timeout=60
        ) as answer:
            assert answer.status_code == 200
            streamed = [json.loads(raw) for raw in answer.iter_lines() if raw.strip()]
        by_shard = {s: [e["message"] for e in streamed if e["shardingItem"] == s] for s in (0, 1)}
        for shard, messages in by_shard.items():
            assert messages == [f"shard {shard} tick {i}" for i in range(8)] + ["no newline at the end"]
        assert _finished(client, "slow", second["runId"]) is not None


def test_logs_removed_by_retention_answer_gone(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path, "--sandbox-retention", "2")
    with cluster.api as client:
        _register(client, "brief", 1, TICKS="1")
        run = _run(client, "brief")
        wait_until(lambda: _finished(client, "brief", run["runId"]), 30, message="the run ends")
        url = f"/job/tasks/{run['tasks'][0]['taskId']}/logs"
        assert client.get(url, params={"size": 5}).status_code == 200

        gone = wait_until(lambda: (r := client.get(url, params={"size": 5})).status_code == 410 and r, 30,
                          message="the retention removes the logs")
        body = gone.json()
        assert "gone" in body["message"] and "retention" in body["message"], body
        assert body["details"][0]["path"] == "taskId"
        assert client.get(url).status_code == 410  # the byte form says so too
        run_logs = client.get(f"/job/jobs/brief/runs/{run['runId']}/logs").json()
        assert run_logs["tasks"][0]["gone"] is True and "gone" in run_logs["tasks"][0]["error"]

        # A task its agent never ran is not "gone" but unknown; an agent not connected cannot answer.
        agent = run["tasks"][0]["agentId"]
        unknown = client.get(f"/job/tasks/brief@-@0@-@READY@-@{agent}@-@nosuchtask/logs", params={"size": 5})
        assert unknown.status_code == 404 and "no logs" in unknown.json()["message"], unknown.text
        absent = client.get("/job/tasks/brief@-@0@-@READY@-@nowhere@-@x/logs", params={"size": 5})
        assert absent.status_code == 503 and "not connected" in absent.json()["message"], absent.text


def test_a_follower_streams_a_followed_log_from_the_leader(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    follower = cluster.start_master()
    with cluster.api as client:
        _register(client, "relayed", 1, TICKS="5", PAUSE="0.3")
        run = _run(client, "relayed")
    task_id = run["tasks"][0]["taskId"]
    with follower.http(timeout=60) as through_follower:
        assert through_follower.get("/leader").json()["self"] is False
        with through_follower.stream("GET", f"/job/tasks/{task_id}/logs", params={"follow": "1"}) as answer:
            assert answer.status_code == 200
            lines = [json.loads(raw) for raw in answer.iter_lines() if raw.strip()]
        assert [line["message"] for line in lines] == [f"shard 0 tick {i}" for i in range(5)] + [
            "no newline at the end"
        ]
        page = through_follower.get(f"/job/tasks/{task_id}/logs", params={"from": -1}).json()
        assert [line["message"] for line in page["lines"]] == ["no newline at the end"]


def test_the_python_client_reads_pages_and_follows_lines(cluster: Cluster, tmp_path: Path) -> None:
    from elasticjob.client import ApiError, ElasticJobClient, LogLine

    _start(cluster, tmp_path)
    with cluster.api as client:
        _register(client, "client", 2, TICKS="4", PAUSE="0.2")
    users = cluster.masters[0].users
    credentials = {"user": ApiUsers.ADMIN, "password": users.password} if users is not None else {}
    with ElasticJobClient(cluster.masters[0].url, **credentials) as api:
        run = api.start_run("client", env={"PAUSE": "0.3"})
        followed = list(api.follow_run_log("client", run.run_id))
        assert all(isinstance(item, LogLine) for item in followed)
        for shard in (0, 1):
            assert [i.message for i in followed if isinstance(i, LogLine) and i.sharding_item == shard] == [
                f"shard {shard} tick {i}" for i in range(4)
            ] + ["no newline at the end"]
        done = api.wait_for_run("client", run.run_id, timeout=30)
        assert done.status == "SUCCESS" and done.environment == {"PAUSE": "0.3"}
        task = done.tasks[0]
        page = api.task_lines(task.task_id, start=1, size=2)
        assert [line.line for line in page.lines] == [1, 2] and page.next_line == 3 and not page.running
        assert [line.message for line in api.task_lines(task.task_id, "stderr").lines] == [
            f"oops {task.sharding_item}"
        ]
        by_task = api.run_lines("client", run.run_id, start=-1)
        assert {t: [line.message for line in lines.lines] for t, lines in by_task.items()
                if not isinstance(lines, ApiError)} == {t.task_id: ["no newline at the end"] for t in done.tasks}
        try:
            api.task_lines(task.task_id, size=0)
        except ApiError as exc:
            assert exc.status == 422 and "size" in str(exc.details)
        else:
            raise AssertionError("size=0 was accepted")
