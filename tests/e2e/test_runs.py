"""Runs of a job through the native API, on a real cluster: one run per firing, with all its shards."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

SCRIPT = """#!/bin/sh
echo "shard $ELASTICJOB_SHARDING_ITEM"
if [ -n "$OUT" ]; then echo "$MODE $ELASTICJOB_JOB_PARAMETER" > "$OUT/$ELASTICJOB_FIRING_ID-$ELASTICJOB_SHARDING_ITEM"; fi
if [ -n "$SLEEP" ]; then sleep "$SLEEP"; fi
if [ -n "$FAIL_SHARD" ] && [ "$ELASTICJOB_SHARDING_ITEM" = "$FAIL_SHARD" ]; then exit 3; fi
"""

NEVER = "0 0 0 1 1 ? 2099"


def _job(name: str, shards: int, memory: float = 32, **environment: str) -> dict[str, Any]:
    return {
        "jobName": name,
        "appName": "runs",
        "cron": NEVER,
        "shardingTotalCount": shards,
        "cpuCount": 0.1,
        "memoryMB": memory,
        "failover": False,
        "environment": environment,
    }


def _trigger(client: httpx.Client, name: str) -> None:
    response = client.post("/job/trigger", content=name.encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 204, response.text


def _runs(client: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/job/jobs/{name}/runs", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _finished(client: httpx.Client, name: str) -> dict[str, Any] | None:
    runs = _runs(client, name)["runs"]
    return runs[0] if runs and runs[0]["status"] in ("SUCCESS", "FAILED") else None


def _start(cluster: Cluster, tmp_path: Path, agent: tuple[str, ...] = (), master: tuple[str, ...] = ()) -> None:
    """A master and an agent (with ``master`` and ``agent`` flags) and the app ``runs`` of SCRIPT."""
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "runs.tar.gz", executable=("bin/run.sh",))
    cluster.start_master(*master)
    cluster.start_agent(cpus=2, mem=1024, extra=agent)
    cluster.wait_agents(1)
    app = {"appName": "runs", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
           "cpuCount": 0.1, "memoryMB": 16}
    with cluster.api as client:
        assert client.post("/app", json=app).status_code == 204


def test_each_firing_is_a_run_with_its_shards_cause_status_and_times(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    with cluster.api as client:
        for job in (_job("good", 2), _job("bad", 2, FAIL_SHARD="1"), _job("huge", 1, memory=4096)):
            assert client.post("/job/register", json=job).status_code == 204
        assert _runs(client, "good") == {"total": 0, "runs": []}  # registered, never fired
        for name in ("good", "bad", "huge"):
            _trigger(client, name)

        good = wait_until(lambda: _finished(client, "good"), 30, message="the good run ends")
        assert good["status"] == "SUCCESS" and good["cause"] == "MANUAL" and good["reason"] == ""
        assert re.fullmatch(r"[0-9]{14}[0-9a-z]{5}", good["runId"])
        stamp = re.match(r"trigger-(\d{8})T(\d{6})", good["firingId"])
        assert stamp is not None and good["runId"][:14] == stamp.group(1) + stamp.group(2)
        assert sorted(t["shardingItem"] for t in good["tasks"]) == [0, 1]
        for task in good["tasks"]:
            assert task["state"] == "FINISHED" and task["exitCode"] == 0
            assert task["agentId"] and task["hostname"] and task["startedAt"] and task["finishedAt"]
        assert good["createdAt"] <= good["startedAt"] <= good["finishedAt"]

        bad = wait_until(lambda: _finished(client, "bad"), 30, message="the bad run ends")
        assert bad["status"] == "FAILED" and bad["reason"].startswith("shard 1 FAILED"), bad
        assert {t["shardingItem"]: t["state"] for t in bad["tasks"]} == {0: "FINISHED", 1: "FAILED"}

        # Asks for more memory than any agent has: queued, with the scheduler's reason, nothing launched.
        huge = wait_until(lambda: (_runs(client, "huge")["runs"] or [{}])[0].get("reason"), 15,
                          message="the huge run waits with a reason")
        [waiting] = _runs(client, "huge")["runs"]
        assert waiting["status"] == "INITIAL" and waiting["tasks"] == [] and waiting["startedAt"] is None
        assert huge == waiting["reason"]

        # One run by id, the same as in the list; a second run comes first in the list.
        one = client.get(f"/job/jobs/good/runs/{good['runId']}")
        assert one.status_code == 200 and one.json() == good
        assert client.get(f"/job/jobs/huge/runs/{waiting['runId']}").json()["status"] == "INITIAL"
        _trigger(client, "good")
        wait_until(lambda: _runs(client, "good")["total"] == 2, 30, message="the second run is listed")
        listed = _runs(client, "good", per_page=1)
        assert listed["total"] == 2 and listed["runs"][0]["runId"] != good["runId"]
        assert _runs(client, "good", page=2, per_page=1)["runs"] == [good]

        # Errors: a JSON 404 for an unknown job or run, 422 for a bad page; never a stack trace.
        for path in ("/job/jobs/nope/runs", "/job/jobs/good/runs/20990101000000abcde",
                     "/job/jobs/good/runs/not-a-run-id", "/job/jobs/good/runs/99999999999999abcde"):
            missing = client.get(path)
            assert missing.status_code == 404 and "does not exist" in missing.json()["message"], path
        invalid = client.get("/job/jobs/good/runs", params={"per_page": 0})
        assert invalid.status_code == 422 and invalid.json()["details"][0]["path"] == "per_page"

    # A follower answers the same (it asks the leader, which holds the runtime state and the history).
    follower = cluster.start_master()
    with follower.http() as other:
        assert other.get(f"/job/jobs/good/runs/{good['runId']}").json() == good


def test_a_manual_run_carries_its_own_environment_and_job_parameter(
    cluster: Cluster, tmp_path: Path, shard_dir: Path
) -> None:
    out = shard_dir
    _start(cluster, tmp_path)
    with cluster.api as client:
        job = {**_job("param", 2, OUT=str(out), MODE="default"), "jobParameter": "job-wide"}
        assert client.post("/job/register", json=job).status_code == 204

        # Bad overrides change nothing: a JSON error naming the field, nothing queued.
        for body, field in (({"jobName": "param", "environment": {"1BAD": "x"}}, "environment"),
                            ({"jobName": "param", "environment": {"A": 1}}, "environment.A"),
                            ({"jobName": "param", "unknown": True}, "unknown")):
            bad = client.post("/job/trigger", json=body)
            assert bad.status_code == 422, bad.text
            assert bad.json()["details"][0]["path"] == field, bad.json()
        assert client.post("/job/trigger", json={"jobName": "nope"}).status_code == 404
        assert client.post("/job/trigger", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
        assert _runs(client, "param")["total"] == 0

        once = {"jobName": "param", "environment": {"MODE": "once"}, "jobParameter": "just-this-run"}
        assert client.post("/job/trigger", json=once).status_code == 204
        run = wait_until(lambda: _finished(client, "param"), 30, message="the run with overrides ends")
        assert run["status"] == "SUCCESS"
        assert run["environment"] == {"MODE": "once"} and run["jobParameter"] == "just-this-run"
        outputs = sorted(p.read_text().strip() for p in out.iterdir())
        assert outputs == ["once just-this-run", "once just-this-run"]

        _trigger(client, "param")  # the text form: the job's own environment and parameter
        wait_until(lambda: _runs(client, "param")["total"] == 2 and _finished(client, "param"), 30,
                   message="the plain run ends")
        plain = _runs(client, "param")["runs"][0]
        assert plain["environment"] == {} and plain["jobParameter"] is None
        assert sorted(p.read_text().strip() for p in out.iterdir()).count("default job-wide") == 2
        # The finished run's overrides come from the history, whichever master answers.
        assert client.get(f"/job/jobs/param/runs/{run['runId']}").json()["environment"] == {"MODE": "once"}


def test_stopping_a_run_kills_its_shards_drops_its_queue_and_fails_it(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    follower = cluster.start_master()
    with cluster.api as client:
        sleeper = {**_job("sleeper", 2, SLEEP="120"), "failover": True}
        for job in (sleeper, _job("huge", 1, memory=4096)):
            assert client.post("/job/register", json=job).status_code == 204
        _trigger(client, "sleeper")
        _trigger(client, "huge")
        active = wait_until(
            lambda: next((r for r in _runs(client, "sleeper")["runs"] if r["status"] == "ACTIVE"
                          and all(t["state"] == "RUNNING" for t in r["tasks"]) and len(r["tasks"]) == 2), None),
            30, message="the sleeper runs")
        # Asked through a follower: it forwards to the leader.
        with follower.http() as other:
            stopped = other.post(f"/job/jobs/sleeper/runs/{active['runId']}/stop", params={"reason": "by the test"})
        assert stopped.status_code == 202, stopped.text
        assert stopped.json()["runId"] == active["runId"]
        ended = wait_until(lambda: _finished(client, "sleeper"), 30, message="the stopped run ends")
        assert ended["status"] == "FAILED" and "KILLED" in ended["reason"] and "by the test" in ended["reason"]
        assert sorted(t["state"] for t in ended["tasks"]) == ["KILLED", "KILLED"]  # not failed over
        assert client.get("/job/tasks/running").json() == []
        assert client.get("/job/tasks/failover").json() == []
        again = client.post(f"/job/jobs/sleeper/runs/{active['runId']}/stop")
        assert again.status_code == 409 and "already finished" in again.json()["message"]

        # A run still queued: dropped, recorded as never run.
        queued = wait_until(lambda: (_runs(client, "huge")["runs"] or [None])[0], 15, message="huge is queued")
        assert client.post(f"/job/jobs/huge/runs/{queued['runId']}/stop").status_code == 202
        dropped = wait_until(lambda: _finished(client, "huge"), 15, message="the queued run is dropped")
        assert dropped["status"] == "FAILED" and "stopped" in dropped["reason"]
        assert client.get("/job/tasks/ready").json() == []
        assert client.post("/job/jobs/huge/runs/20990101000000abcde/stop").status_code == 404
        # The requests are gone once done: nothing is left for the leader to act on.
        wait_until(lambda: not cluster_stops(cluster), 15, message="the stop requests are removed")


def cluster_stops(cluster: Cluster) -> list[str]:
    from kazoo.client import KazooClient

    zk = KazooClient(hosts=cluster.zk_hosts)
    zk.start(timeout=10)
    try:
        root = f"/{cluster.namespace}/state/stop"
        return [f"{job}/{firing}" for job in zk.get_children(root) for firing in zk.get_children(f"{root}/{job}")]
    finally:
        zk.stop()
        zk.close()


def test_allow_runs_overlap_each_with_all_its_shards(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    with cluster.api as client:
        daemon = {**_job("side-daemon", 1), "concurrencyPolicy": "ALLOW", "jobExecutionType": "DAEMON"}
        refused = client.post("/job/register", json=daemon)
        assert refused.status_code == 422 and refused.json()["details"][0]["path"] == "concurrencyPolicy"
        allow = {**_job("side", 2, SLEEP="4"), "concurrencyPolicy": "ALLOW"}
        assert client.post("/job/register", json=allow).status_code == 204
        _trigger(client, "side")
        wait_until(lambda: any(r["status"] == "ACTIVE" for r in _runs(client, "side")["runs"]), 30,
                   message="the first run is active")
        _trigger(client, "side")

        def overlapping() -> list[dict[str, Any]] | None:
            runs = _runs(client, "side")["runs"]
            running = [r for r in runs if [t["state"] for t in r["tasks"]] == ["RUNNING", "RUNNING"]]
            return running if len(running) == 2 else None

        both = wait_until(overlapping, 30, message="two runs of the job run at once")
        assert len({r["firingId"] for r in both}) == 2
        assert sorted(t["shardingItem"] for r in both for t in r["tasks"]) == [0, 0, 1, 1]
        done = wait_until(lambda: (runs := _runs(client, "side")["runs"]) and len(runs) == 2
                          and all(r["status"] == "SUCCESS" for r in runs) and runs, 30, message="both succeed")
        assert all(len(r["tasks"]) == 2 for r in done)


def test_replace_stops_the_active_run_for_the_next(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path)
    with cluster.api as client:
        job = {**_job("replacer", 2, SLEEP="120"), "concurrencyPolicy": "REPLACE", "failover": True}
        assert client.post("/job/register", json=job).status_code == 204
        assert client.get("/job/jobs/replacer").json()["concurrencyPolicy"] == "REPLACE"
        _trigger(client, "replacer")
        first = wait_until(
            lambda: next((r for r in _runs(client, "replacer")["runs"]
                          if [t["state"] for t in r["tasks"]] == ["RUNNING", "RUNNING"]), None),
            30, message="the first run runs")
        _trigger(client, "replacer")

        def replaced() -> dict[str, Any] | None:
            runs = {r["runId"]: r for r in _runs(client, "replacer")["runs"]}
            old = runs.get(first["runId"])
            new = [r for r in runs.values() if r["runId"] != first["runId"]]
            if old and old["status"] == "FAILED" and new and new[0]["status"] == "ACTIVE":
                return old
            return None

        old = wait_until(replaced, 30, message="the second run replaces the first")
        assert sorted(t["state"] for t in old["tasks"]) == ["KILLED", "KILLED"]
        assert "replaced by the next run" in old["reason"]
        assert client.get("/job/tasks/failover").json() == []  # killed shards are not run again


def _at(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).timestamp()


def test_a_stopped_runs_shards_get_their_jobs_grace_between_sigterm_and_sigkill(
    cluster: Cluster, tmp_path: Path, shard_dir: Path
) -> None:
    out = shard_dir
    _start(cluster, tmp_path, agent=("--kill-grace", "30"))  # the agent's own grace: 30 s
    with cluster.api as client:
        for bad in (-1, 3600.5, "1"):
            refused = client.post("/job/register", json={**_job("bad", 1), "taskKillGracePeriodSeconds": bad})
            assert refused.status_code == 422, refused.text
            assert refused.json()["details"][0]["path"] == "taskKillGracePeriodSeconds"
        # Ignores SIGTERM (noting when it came): only the SIGKILL a second later ends it.
        trapper = {**_job("trapper", 1, OUT=str(out)), "taskKillGracePeriodSeconds": 1,
                   "scriptCommandLine": "trap 'date +%s.%N > \"$OUT/term\"' TERM; while true; do sleep 0.1; done"}
        # Ends on SIGTERM: a long grace does not keep it waiting.
        quitter = {**_job("quitter", 1), "taskKillGracePeriodSeconds": 600,
                   "scriptCommandLine": "trap 'exit 0' TERM; while true; do sleep 0.1; done"}
        for job in (trapper, quitter):
            assert client.post("/job/register", json=job).status_code == 204
            assert client.get(f"/job/jobs/{job['jobName']}").json()["taskKillGracePeriodSeconds"] == job[
                "taskKillGracePeriodSeconds"]
            _trigger(client, job["jobName"])
        running = {
            name: wait_until(lambda name=name: next((r for r in _runs(client, name)["runs"]
                                                     if [t["state"] for t in r["tasks"]] == ["RUNNING"]), None),
                             30, message=f"{name} runs")
            for name in ("trapper", "quitter")
        }
        time.sleep(0.5)  # both shells have set their traps
        asked = {}
        for name, run in running.items():
            asked[name] = time.time()
            stopped = client.post(f"/job/jobs/{name}/runs/{run['runId']}/stop")
            assert stopped.status_code == 202, stopped.text
        ended = {name: wait_until(lambda name=name: _finished(client, name), 30, message=f"{name} ends")
                 for name in running}
        for run in ended.values():
            [task] = run["tasks"]
            assert run["status"] == "FAILED" and task["state"] == "KILLED", run
        trapped = _at(ended["trapper"]["tasks"][0]["finishedAt"])
        termed = float((out / "term").read_text())
        assert 0.9 <= trapped - termed < 2.5, (termed, trapped)  # SIGKILL 1 s after SIGTERM, not 30 s
        assert _at(ended["quitter"]["tasks"][0]["finishedAt"]) - asked["quitter"] < 5  # not 600 s


def test_a_finished_runs_record_can_be_deleted_and_an_unfinished_one_must_be_stopped_first(
    cluster: Cluster, tmp_path: Path
) -> None:
    _start(cluster, tmp_path)
    follower = cluster.start_master()
    with cluster.api as client:
        for job in (_job("quick", 2), _job("sleeper", 1, SLEEP="120")):
            assert client.post("/job/register", json=job).status_code == 204
        done = []
        for _ in range(2):
            _trigger(client, "quick")
            done.append(wait_until(lambda: _runs(client, "quick")["total"] == len(done) + 1
                                   and _finished(client, "quick"), 30, message="a quick run ends"))
        _trigger(client, "sleeper")
        active = wait_until(lambda: next((r for r in _runs(client, "sleeper")["runs"] if r["status"] == "ACTIVE"), None),
                            30, message="the sleeper runs")

        # Not finished: 409, and it stays.
        busy = client.delete(f"/job/jobs/sleeper/runs/{active['runId']}")
        assert busy.status_code == 409 and "stop it first" in busy.json()["message"], busy.text
        assert _runs(client, "sleeper")["total"] == 1

        # Finished: 204, and gone from the list, by id and from the execution history.
        first = done[0]
        deleted = client.delete(f"/job/jobs/quick/runs/{first['runId']}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert [r["runId"] for r in _runs(client, "quick")["runs"]] == [done[1]["runId"]]
        gone = client.get(f"/job/jobs/quick/runs/{first['runId']}")
        assert gone.status_code == 404 and "does not exist" in gone.json()["message"]
        executions = client.get("/job/events/executions", params={"jobName": "quick", "per_page": 100}).json()
        assert {row["taskId"] for row in executions["rows"]} == {t["taskId"] for t in done[1]["tasks"]}

        # Errors: JSON 404s for a run or job that does not exist (or no longer does).
        for path, text in ((f"/job/jobs/quick/runs/{first['runId']}", "run"),
                           ("/job/jobs/quick/runs/not-a-run-id", "run"),
                           (f"/job/jobs/nope/runs/{first['runId']}", "job 'nope' does not exist")):
            missing = client.delete(path)
            assert missing.status_code == 404, (path, missing.text)
            assert set(missing.json()) == {"message", "details"} and text in missing.json()["message"], path

        # Through a follower (forwarded to the leader); a stopped run once it has ended.
        with follower.http() as other:
            assert other.delete(f"/job/jobs/quick/runs/{done[1]['runId']}").status_code == 204
            assert other.post(f"/job/jobs/sleeper/runs/{active['runId']}/stop").status_code == 202
            wait_until(lambda: _finished(client, "sleeper"), 30, message="the stopped run ends")
            assert other.delete(f"/job/jobs/sleeper/runs/{active['runId']}").status_code == 204
        assert _runs(client, "quick") == {"total": 0, "runs": []}
        assert _runs(client, "sleeper") == {"total": 0, "runs": []}


def test_the_history_keeps_the_newest_finished_runs_of_each_job(cluster: Cluster, tmp_path: Path) -> None:
    _start(cluster, tmp_path, master=("--run-retention", "2"))
    with cluster.api as client:
        for job in (_job("quick", 1), _job("sleeper", 1, SLEEP="120")):
            assert client.post("/job/register", json=job).status_code == 204
        _trigger(client, "sleeper")
        active = wait_until(lambda: next((r for r in _runs(client, "sleeper")["runs"] if r["status"] == "ACTIVE"), None),
                            30, message="the sleeper runs")
        ids: list[str] = []

        def newest_ended() -> str | None:
            newest = _runs(client, "quick")["runs"][0]
            return newest["runId"] if newest["status"] == "SUCCESS" and newest["runId"] not in ids else None

        for _ in range(4):
            _trigger(client, "quick")
            ids.append(wait_until(newest_ended, 30, message="a quick run ends"))
        wait_until(lambda: _runs(client, "quick")["total"] == 2, 20, message="the oldest runs are pruned")
        assert [r["runId"] for r in _runs(client, "quick")["runs"]] == ids[:1:-1]
        assert client.get(f"/job/jobs/quick/runs/{ids[0]}").status_code == 404
        # The active run of another job is kept, whatever its age.
        assert [r["runId"] for r in _runs(client, "sleeper")["runs"]] == [active["runId"]]
