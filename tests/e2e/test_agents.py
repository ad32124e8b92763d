"""Agents as real processes: DAEMON shards, leader changes under running tasks, bad resource flags, and — driven
by a stand-in leader (``elasticjob.dev.standin``) — app revalidation, sandbox copies and kills at every stage."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from elasticjob.dev.standin import ReceivedStatus, StandInMaster, script_task
from elasticjob.model import TaskState
from tests.e2e.conftest import Cluster
from tests.integration.test_agent_fetch import ArtifactServer, Resource, serving, statuses
from tests.support import AgentProcess, build_tarball, wait_until

NEVER = "0 0 0 1 1 ? 2099"


def _rows(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/job/events/executions", params={"per_page": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def _register(client: httpx.Client, app: dict[str, Any], job: dict[str, Any]) -> None:
    assert client.post("/app", json=app).status_code == 204
    assert client.post("/job/register", json=job).status_code == 204


def test_daemon_shards_keep_running_and_report_every_run(cluster: Cluster, tmp_path: Path) -> None:
    tarball = build_tarball({"bin/tick.sh": "#!/bin/sh\necho tick $ELASTICJOB_SHARDING_ITEM\n"},
                            tmp_path / "tick.tar.gz", executable=("bin/tick.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    with cluster.api as client:
        _register(
            client,
            {"appName": "ticker", "appURL": tarball.as_uri(), "bootstrapScript": "bin/tick.sh", "cpuCount": 0.1,
             "memoryMB": 32},
            {"jobName": "ticker", "appName": "ticker", "cron": "* * * * * ?", "shardingTotalCount": 2,
             "jobExecutionType": "DAEMON", "cpuCount": 0.1, "memoryMB": 32},
        )
        running = wait_until(lambda: client.get("/job/tasks/running").json(), 20, message="daemon shards launched")

        def runs() -> list[dict[str, Any]]:
            return [r for r in _rows(client, jobName="ticker") if "#" in r["taskId"]]

        wait_until(lambda: len(runs()) >= 6, 30, interval=0.5, message="several daemon runs")
        # The shards are the same two tasks throughout: never relaunched between runs.
        launched = {r["id"] for r in running}
        assert len(launched) == 2
        assert {r["id"] for r in client.get("/job/tasks/running").json()} == launched
        assert {r["taskId"].split("#")[0] for r in runs()} == launched
        assert all(r["state"] == "FINISHED" and r["success"] for r in runs())
        assert sorted({r["shardingItem"] for r in runs()}) == [0, 1]

        assert client.post("/job/ticker/disable").status_code == 204
        wait_until(lambda: client.get("/job/tasks/running").json() == [], 20, message="daemon shards stopped")
        states = {r["taskId"]: r["state"] for r in _rows(client, jobName="ticker") if r["taskId"] in launched}
        assert states == {task_id: "KILLED" for task_id in launched}


def test_running_task_survives_a_leader_change_and_is_recorded_by_the_new_leader(
    cluster: Cluster, tmp_path: Path, shard_dir: Path,
) -> None:
    marker = shard_dir / "marker"
    script = f"#!/bin/sh\necho started > {marker}.start\nsleep 6\necho done > {marker}.done\n"
    tarball = build_tarball({"bin/slow.sh": script}, tmp_path / "slow.tar.gz", executable=("bin/slow.sh",))
    first = cluster.start_master("--history-url", str(tmp_path / "shared-history.db"))
    wait_until(lambda: first.get("/leader", timeout=5).json().get("self"), 15)
    second = cluster.start_master("--history-url", str(tmp_path / "shared-history.db"))
    agent = cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    with cluster.api as client:
        _register(
            client,
            {"appName": "slow", "appURL": tarball.as_uri(), "bootstrapScript": "bin/slow.sh", "cpuCount": 0.1,
             "memoryMB": 32},
            {"jobName": "slow", "appName": "slow", "cron": NEVER, "shardingTotalCount": 1, "cpuCount": 0.1,
             "memoryMB": 32},
        )
        assert client.post("/job/trigger", content=b"slow", headers={"Content-Type": "text/plain"}).status_code == 204
        wait_until(lambda: Path(f"{marker}.start").exists(), 20, message="the task started")
    task_pids = subprocess.run(["pgrep", "-f", "bin/slow.sh"], capture_output=True, text=True).stdout.split()
    assert task_pids

    first.stop()  # the leader goes away while the shard runs
    with second.http(timeout=10) as client:
        wait_until(lambda: client.get("/leader").json().get("self"), 15, message="second master leads")
        wait_until(lambda: Path(f"{marker}.done").exists(), 20, message="the task finished")
        rows = wait_until(lambda: _rows(client, jobName="slow", state="FINISHED"), 20,
                          message="the new leader recorded the result")
        assert len(rows) == 1
        assert client.get("/job/tasks/running").json() == []
    assert agent.process is not None and agent.process.poll() is None
    assert "connected to leader" in agent.log()
    # the agent reconnected twice (first and second leader) and never killed its task
    assert agent.log().count("connected to leader") >= 2
    assert "KILLED" not in agent.log()


def test_agent_refuses_more_resources_than_the_host_has(zk_hosts: str, tmp_path: Path) -> None:
    for flag, value, text in (("--cpus", str((os.cpu_count() or 1) + 64), "--cpus"),
                              ("--mem", str(10 ** 9), "--mem")):
        result = subprocess.run(
            [sys.executable, "-m", "elasticjob", "agent", "--zk", zk_hosts, "--work-dir", str(tmp_path), flag, value],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert text in result.stderr and "more than this host has" in result.stderr
        assert "Traceback" not in result.stderr
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "agent", "--zk", zk_hosts, "--attributes", "rack", "--work-dir",
         str(tmp_path)], capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "key=value" in result.stderr
    assert time.monotonic() - started < 30


# --- one agent driven by a stand-in leader ---------------------------------------------------------------


@pytest.fixture
def artifacts() -> Iterator[ArtifactServer]:
    with serving(ArtifactServer()) as state:
        yield state


@pytest.fixture
def standin(zk_hosts: str, namespace: str) -> Iterator[StandInMaster]:
    master = StandInMaster(zk_hosts, namespace).start()
    yield master
    master.stop()


def start_agent(standin: StandInMaster, zk_hosts: str, work_dir: Path, *flags: str) -> Iterator[str]:
    agent = AgentProcess(zk_hosts, standin.layout.root.strip("/"), work_dir, cpus=1, mem=512,
                         extra=flags).start()
    try:
        yield standin.wait_agent(30)
    finally:
        agent.stop()


def app(script: str, **files: str) -> bytes:
    """A tar.gz holding ``run.sh`` = ``script`` and ``files``."""
    path = Path(f"/tmp/ej-app-{os.getpid()}-{time.monotonic_ns()}.tgz")
    try:
        return build_tarball({"run.sh": script, **files}, path, executable=("run.sh",)).read_bytes()
    finally:
        path.unlink()


def ended(standin: StandInMaster, task_ids: list[str], timeout: float = 30) -> dict[str, ReceivedStatus]:
    """The terminal status of each task, once all have one."""
    wanted = set(task_ids)

    def final(received: list[ReceivedStatus]) -> dict[str, ReceivedStatus]:
        return {r.status.task_id: r for r in received if r.status.task_id in wanted and r.status.state.terminal
                and not r.status.daemon_run}

    standin.wait_for(lambda received: len(final(received)) == len(wanted), timeout)
    return final(standin.statuses())


def stdout_of(work_dir: Path, task_id: str) -> str:
    return (work_dir / "sandboxes" / task_id / "logs" / "stdout").read_text()


def test_an_agent_revalidates_an_app_once_per_period_and_for_each_new_version(
    standin: StandInMaster, artifacts: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    artifacts.resources["/app.tgz"] = Resource(app("#!/bin/sh\necho version one\n"), etag='"1"')
    url = f"{artifacts.url}/app.tgz"
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir, "--app-revalidate-seconds", "3600"):
        first = [script_task(f"a{i}", "./run.sh", url, app_version="config-1") for i in range(12)]
        standin.launch(agent_id, first[:6])
        standin.launch(agent_id, first[6:])
        assert {r.status.state for r in ended(standin, [s["task_id"] for s in first]).values()} == {
            TaskState.FINISHED}
        assert statuses(artifacts, "/app.tgz") == [200]  # twelve launches, one download

        artifacts.resources["/app.tgz"] = Resource(app("#!/bin/sh\necho version two\n"), etag='"2"')
        same = [script_task("b0", "./run.sh", url, app_version="config-1")]
        standin.launch(agent_id, same)
        ended(standin, ["b0"])
        assert statuses(artifacts, "/app.tgz") == [200]  # same version, within the period: not asked

        second = [script_task(f"c{i}", "./run.sh", url, app_version="config-2") for i in range(4)]
        standin.launch(agent_id, second)
        ended(standin, [s["task_id"] for s in second])
        assert statuses(artifacts, "/app.tgz") == [200, 200]
        assert stdout_of(work_dir, "a0") == stdout_of(work_dir, "b0") == "version one\n"
        assert {stdout_of(work_dir, s["task_id"]) for s in second} == {"version two\n"}


def test_every_sandbox_gets_a_copy_of_its_own(standin: StandInMaster, artifacts: ArtifactServer, zk_hosts: str,
                                              tmp_path: Path) -> None:
    script = "#!/bin/sh\ncat data.txt\necho changed by a task >> data.txt\n"
    artifacts.resources["/app.tgz"] = Resource(app(script, **{"data.txt": "original\n"}), etag='"1"')
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        tasks = [script_task(f"t{i}", "./run.sh", f"{artifacts.url}/app.tgz") for i in range(6)]
        standin.launch(agent_id, tasks)
        assert {r.status.state for r in ended(standin, [t["task_id"] for t in tasks]).values()} == {
            TaskState.FINISHED}
        assert {stdout_of(work_dir, t["task_id"]) for t in tasks} == {"original\n"}
        unpacked = [p for p in (work_dir / "unpacked").iterdir() if p.name != ".staging"]
        assert len(unpacked) == 1 and (unpacked[0] / "data.txt").read_text() == "original\n"


def test_without_the_app_cache_every_launch_downloads_its_own_copy(
    standin: StandInMaster, artifacts: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    artifacts.resources["/app.tgz"] = Resource(app("#!/bin/sh\necho fresh\n"), etag='"1"')
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        tasks = [script_task(f"t{i}", "./run.sh", f"{artifacts.url}/app.tgz", app_cache_enable=False)
                 for i in range(3)]
        standin.launch(agent_id, tasks)
        ended(standin, [t["task_id"] for t in tasks])
        assert statuses(artifacts, "/app.tgz") == [200, 200, 200]
        assert {stdout_of(work_dir, t["task_id"]) for t in tasks} == {"fresh\n"}
        assert list((work_dir / "cache" / ".fresh").iterdir()) == []


def test_kills_at_every_stage_end_each_task_killed_exactly_once(
    standin: StandInMaster, artifacts: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    artifacts.resources["/slow"] = Resource(app("#!/bin/sh\necho ran > ran.txt\n"), etag='"1"')
    artifacts.resources["/app.tgz"] = Resource(app("#!/bin/sh\nsleep 30\n"), etag='"1"')
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        staging = script_task("staging", "./run.sh", f"{artifacts.url}/slow")  # the server takes 1.5 s
        running = script_task("running", "./run.sh", f"{artifacts.url}/app.tgz")
        waiting = script_task("waiting", "./run.sh", f"{artifacts.url}/app.tgz", execution_type="DAEMON")
        ticking = script_task("ticking", "./run.sh", f"{artifacts.url}/app.tgz", execution_type="DAEMON",
                              cron="* * * * * ?")
        standin.launch(agent_id, [staging, running, waiting, ticking])
        standin.wait_for(lambda received: {r.status.task_id for r in received if r.status.state is TaskState.RUNNING}
                         >= {"running", "waiting", "ticking"} and any(r.status.task_id == "staging"
                                                                     for r in received), 30)
        time.sleep(1.2)  # "ticking" is now inside a run (it sleeps 30 s), "staging" still downloading
        for task in (staging, running, waiting, ticking):
            standin.kill(agent_id, task["task_id"])
        final = ended(standin, ["staging", "running", "waiting", "ticking"])
        time.sleep(1.5)  # anything reported after the end would arrive now

        assert {task: r.status.state for task, r in final.items()} == dict.fromkeys(final, TaskState.KILLED)
        assert "before it started" in final["staging"].status.message
        assert not (work_dir / "sandboxes" / "staging" / "app" / "ran.txt").exists()
        for task in final:
            after = [r for r in standin.statuses(task) if r.received > final[task].received]
            assert after == [], f"{task} reported after it ended: {after}"
            assert sum(r.status.state.terminal and not r.status.daemon_run for r in standin.statuses(task)) == 1


def test_a_shard_launched_ahead_starts_at_its_instant_or_not_at_all_when_killed_before(
    standin: StandInMaster, artifacts: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    artifacts.resources["/app.tgz"] = Resource(app("#!/bin/sh\necho ran > ran.txt\n"), etag='"1"')
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        start_at = time.time() + 2.0
        on_time = {**script_task("on-time", "./run.sh", f"{artifacts.url}/app.tgz"),
                   "start_at_ms": int(start_at * 1000)}
        cancelled = {**script_task("cancelled", "./run.sh", f"{artifacts.url}/app.tgz"),
                     "start_at_ms": int(start_at * 1000)}
        standin.launch(agent_id, [on_time, cancelled])
        time.sleep(1.0)  # staged by now, not started
        assert not [r for r in standin.statuses() if r.status.state is not TaskState.STAGING]
        standin.kill(agent_id, "cancelled")
        final = ended(standin, ["on-time", "cancelled"])
        assert final["cancelled"].status.state is TaskState.KILLED
        assert not (work_dir / "sandboxes" / "cancelled" / "app" / "ran.txt").exists()
        assert final["on-time"].status.state is TaskState.FINISHED
        started = final["on-time"].status.started_ms / 1000
        assert start_at - 0.001 <= started < start_at + 1.0, (start_at, started)  # start_at_ms: whole ms
        assert (work_dir / "sandboxes" / "on-time" / "app" / "ran.txt").exists()
