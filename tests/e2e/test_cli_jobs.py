"""``elasticjob job ...`` (a subprocess) against a real cluster with an agent: the DC/OS docs' ``myjob``
added from a file, run, its history and logs read, and a long run killed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cluster
from tests.support import MasterProcess, wait_until

ECHO = 'echo "out $ELASTICJOB_SHARDING_ITEM ${GREETING:-none}"; echo "err $ELASTICJOB_SHARDING_ITEM" >&2'


def seed_job(job_id: str, cmd: str, shards: int = 2) -> dict[str, Any]:
    """The DC/OS docs' ``myjob`` (seed 000) with another command, and two shards."""
    return {
        "id": job_id,
        "description": "A job that sleeps regularly",
        "run": {"cmd": cmd, "cpus": 0.01, "mem": 32, "disk": 0, "shards": shards,
                "taskKillGracePeriodSeconds": 1},
        "schedules": [
            {"id": "sleep-schedule", "enabled": True, "cron": "20 0 * * *", "concurrencyPolicy": "ALLOW"}
        ],
    }


def cli_command(master: MasterProcess, *args: str) -> list[str]:
    resource, *rest = args
    return [sys.executable, "-m", "elasticjob", "--log-level", "WARNING", resource, "--url", master.url, *rest]


def _env(master: MasterProcess) -> dict[str, str]:
    """No ELASTICJOB_ variable of the caller's; the master's credentials (the URL is on the command line)."""
    credentials = master.users.env() if master.users is not None else {}
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}, **credentials}


def cli(master: MasterProcess, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command(master, *args), capture_output=True, text=True, timeout=timeout,
                          env=_env(master))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def _start(cluster: Cluster) -> MasterProcess:
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    return cluster.masters[0]


def _run(master: MasterProcess, job: str, run_id: str) -> dict[str, Any]:
    response = master.get(f"/job/jobs/{job}/runs/{run_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_job_added_from_the_docs_file_runs_and_shows_its_history_and_logs(
    cluster: Cluster, tmp_path: Path
) -> None:
    master = _start(cluster)
    path = tmp_path / "myjob.json"
    path.write_text(json.dumps(seed_job("myjob", ECHO)))
    assert ok(cli(master, "job", "add", str(path))).strip() == "job myjob added"

    schedules = json.loads(ok(cli(master, "job", "schedule", "show", "myjob", "--json")))
    assert [s["id"] for s in schedules] == ["sleep-schedule"]
    assert schedules[0]["nextRunAt"].endswith("T00:20:00.000+0000")
    assert ok(cli(master, "job", "schedule", "show", "myjob")).splitlines()[1].split()[-1] == "00:20:00"

    result = cli(master, "job", "run", "myjob", "--env", "GREETING=hi", "--wait", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    progress = result.stderr.splitlines()
    assert progress[0].startswith(f"{run_id} ")
    assert progress[-1] == f"{run_id} SUCCESS (2 FINISHED)"
    assert len(progress) == len(set(progress))  # a line per change, not per poll

    history = ok(cli(master, "job", "history", "myjob")).splitlines()
    assert history[0].startswith("myjob: 1 successful, 0 failed; last success 2")
    assert [line.split()[:2] for line in history[2:]] == [[run_id, "SUCCESS"]]
    assert ok(cli(master, "job", "history", "myjob", "--failures")).splitlines()[2:] == []
    listed = {line.split()[0]: line.split() for line in ok(cli(master, "job", "list")).splitlines()[1:]}
    assert listed["myjob"][:3] == ["myjob", "Scheduled", "Success"]

    tasks = {t["shardingItem"]: t["taskId"] for t in _run(master, "myjob", run_id)["tasks"]}
    assert sorted(tasks) == [0, 1]
    expected = "".join(f"==> {tasks[shard]} (shard {shard}) <==\nout {shard} hi\n" for shard in (0, 1))
    assert sorted_blocks(ok(cli(master, "job", "log", "myjob"))) == sorted_blocks(expected)
    assert sorted_blocks(ok(cli(master, "job", "log", "myjob", run_id, "--stderr"))) == sorted_blocks(
        "".join(f"==> {tasks[shard]} (shard {shard}) <==\nerr {shard}\n" for shard in (0, 1))
    )
    assert ok(cli(master, "job", "log", "myjob", run_id, "--task", tasks[1], "--lines", "1")) == "out 1 hi\n"
    assert ok(cli(master, "job", "log", "myjob", "--task", tasks[0])) == "out 0 hi\n"  # any task, no run
    assert sorted_blocks(ok(cli(master, "job", "log", "myjob", "--follow"))) == sorted_blocks(expected)  # it ended


def sorted_blocks(text: str) -> list[str]:
    """A multi-task log's blocks (header and output), in task order: shards are read in either order."""
    blocks = ["==> " + block for block in text.split("==> ") if block]
    return sorted(blocks)


def test_job_kill_stops_a_long_run_whose_shards_end_killed(cluster: Cluster, tmp_path: Path) -> None:
    master = _start(cluster)
    path = tmp_path / "sleeper.json"
    path.write_text(json.dumps(seed_job("sleeper", 'echo "started $ELASTICJOB_SHARDING_ITEM"; sleep 300')))
    ok(cli(master, "job", "add", str(path)))
    run_id = ok(cli(master, "job", "run", "sleeper")).strip()

    def running() -> bool:
        run = _run(master, "sleeper", run_id)
        return len(run["tasks"]) == 2 and all(t["state"] == "RUNNING" for t in run["tasks"])

    wait_until(running, 60, message="both shards run")
    follower = subprocess.Popen(cli_command(master, "job", "log", "sleeper", run_id, "--follow"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(master))
    try:
        active = ok(cli(master, "job", "show", "runs", "sleeper")).splitlines()[1:]
        assert [line.split()[:3] for line in active] == [[run_id, "ACTIVE", "MANUAL"]]

        def printed_both() -> bool:
            logs = ok(cli(master, "job", "log", "sleeper", run_id))
            return "started 0\n" in logs and "started 1\n" in logs

        wait_until(printed_both, 30, message="both shards wrote their line")
        assert ok(cli(master, "job", "kill", "sleeper", run_id)).strip() == f"run {run_id} of job sleeper stopped"
        ended = wait_until(
            lambda: (run := _run(master, "sleeper", run_id))["status"] == "FAILED" and run, 30,
            message="the killed run ends FAILED",
        )
        assert sorted(t["state"] for t in ended["tasks"]) == ["KILLED", "KILLED"]
        # --follow ends by itself once the run has ended, having printed both shards' output
        out, err = follower.communicate(timeout=30)
        assert follower.returncode == 0, err
        assert "started 0\n" in out and "started 1\n" in out and out.count("==> ") == 2
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()

    shown = ok(cli(master, "job", "show", "runs", "sleeper", "--run-id", run_id)).splitlines()
    assert shown[0].startswith(f"run {run_id} of job sleeper: FAILED (MANUAL)")
    assert sorted(line.split()[2] for line in shown[2:]) == ["KILLED", "KILLED"]
    assert sorted(line.split()[1] for line in shown[2:]) == ["0", "1"]
    assert ok(cli(master, "job", "show", "runs", "sleeper")).splitlines()[1:] == []  # no active run left
    failures = ok(cli(master, "job", "history", "sleeper", "--failures")).splitlines()
    assert [line.split()[:2] for line in failures[2:]] == [[run_id, "FAILED"]]
    as_json = json.loads(ok(cli(master, "job", "show", "runs", "sleeper", "--run-id", run_id, "--json")))
    assert [t["state"] for t in as_json["tasks"]] == ["KILLED", "KILLED"]


def test_a_job_added_from_the_docs_file_runs_on_its_schedule(cluster: Cluster, tmp_path: Path) -> None:
    """The docs' ``myjob`` with a schedule due within a minute: it fires by itself, the run is SCHEDULED,
    in ``job history`` and its output in ``job log``. (Metronome's cron fires once a minute at most, so
    this test waits up to a minute.)"""
    master = _start(cluster)
    job = seed_job("myjob", ECHO, shards=1)
    job["schedules"][0]["cron"] = "* * * * *"
    path = tmp_path / "myjob.json"
    path.write_text(json.dumps(job))
    ok(cli(master, "job", "add", str(path)))

    def scheduled() -> dict[str, Any] | None:
        runs = master.get("/job/jobs/myjob/runs", timeout=10).json()["runs"]
        return next((r for r in runs if r["status"] == "SUCCESS"), None)

    run = wait_until(scheduled, 90, message="the schedule fires")
    # Its id is its firing's instant: a whole minute, as the schedule says.
    assert run["cause"] == "SCHEDULED" and run["runId"][12:14] == "00", run
    history = ok(cli(master, "job", "history", "myjob")).splitlines()
    assert [line.split()[:2] for line in history[2:]] == [[run["runId"], "SUCCESS"]]
    assert ok(cli(master, "job", "log", "myjob", run["runId"])) == "out 0 none\n"
