"""``/v1``, Metronome's jobs API, on a real cluster: judged by Metronome's own Python client
(``dcos-metronome``, unmodified, in a process of its own) and by the DC/OS docs' JSON examples verbatim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cluster
from tests.support import ApiUsers, wait_until

# The job and schedule of the DC/OS documentation (seed 000), verbatim.
SEED_JOB = """{
    "id": "myjob",
    "description": "A job that sleeps regularly",
    "run": {
        "cmd": "sleep 20000",
        "cpus": 0.01,
        "mem": 32,
        "disk": 0
    },
    "schedules": [
        {
            "id": "sleep-schedule",
            "enabled": true,
            "cron": "20 0 * * *",
            "concurrencyPolicy": "ALLOW"
        }
    ]
}"""
SEED_SCHEDULE = """{
    "concurrencyPolicy": "ALLOW",
    "cron": "20 0 * * *",
    "enabled": true,
    "id": "nightly",
    "nextRunAt": "2016-07-26T00:20:00.000+0000",
    "startingDeadlineSeconds": 900,
    "timezone": "UTC"
}"""

# Metronome's client, driven step by step; each step prints one JSON line: {"step", "value" | "error"}.
# Credentials as that client takes them: a user name and password (HTTP Basic; its auth_token is DC/OS's
# "Authorization: token=..." scheme, which the master does not accept), from the environment.
CLIENT = textwrap.dedent('''
    import json, os, sys
    from google.protobuf.json_format import MessageToDict, Parse
    from metronome import MetronomeClient
    from metronome.exceptions import MetronomeHttpError
    from metronome.models import JobSpec, ScheduleSpec

    client = MetronomeClient(sys.argv[1], username=os.environ.get("METRONOME_USER"),
                             password=os.environ.get("METRONOME_PASSWORD"))
    out = sys.argv[2]

    def step(name, call):
        try:
            value = call()
            if hasattr(value, "DESCRIPTOR"):
                value = MessageToDict(value)
            elif isinstance(value, list):
                value = [MessageToDict(v) for v in value]
            elif hasattr(value, "status_code"):
                value = value.status_code
            print(json.dumps({"step": name, "value": value}), flush=True)
        except MetronomeHttpError as exc:
            print(json.dumps({"step": name, "error": exc.status_code, "message": exc.error_message,
                              "details": getattr(exc, "error_details", None)}), flush=True)

    # (No labels or env here: this client's generated maps cannot be parsed by today's protobuf.)
    job = Parse(json.dumps({"id": "client.job", "description": "from the client",
                            "run": {"cmd": "echo ran >> " + out + "; sleep 30", "cpus": 0.1, "mem": 32,
                                    "disk": 0, "maxLaunchDelay": 600,
                                    "restart": {"policy": "NEVER"}}}), JobSpec())
    step("create", lambda: client.create_job(job))
    step("create again", lambda: client.create_job(job))
    step("get", lambda: client.get_job("client.job"))
    step("list", lambda: client.list_jobs())
    step("get missing", lambda: client.get_job("no.such.job"))
    bad = Parse(json.dumps({"id": "bad.job", "run": {"cmd": "true", "cpus": 0.1, "mem": 1}}), JobSpec())
    step("create invalid", lambda: client.create_job(bad))
    schedule = Parse(json.dumps({"id": "every-minute", "cron": "0 0 1 1 *", "timezone": "Europe/Berlin",
                                 "startingDeadlineSeconds": 60, "concurrencyPolicy": "ALLOW",
                                 "enabled": True}), ScheduleSpec())
    step("schedule add", lambda: client.create_schedule("client.job", schedule))
    step("schedule add again", lambda: client.create_schedule("client.job", schedule))
    step("schedules", lambda: client.list_schedules("client.job"))
    step("schedule", lambda: client.get_schedule("client.job", "every-minute"))
    changed = Parse(json.dumps({"id": "every-minute", "cron": "0 3 * * *", "timezone": "UTC",
                                "concurrencyPolicy": "ALLOW", "enabled": True}), ScheduleSpec())
    step("schedule update", lambda: client.update_schedule("client.job", "every-minute", changed))
    updated = Parse(json.dumps({"id": "client.job", "description": "updated",
                                "run": {"cmd": "echo ran >> " + out + "; sleep 30", "cpus": 0.2,
                                        "mem": 64}}), JobSpec())
    step("update", lambda: client.update_job("client.job", updated))
    step("schedule kept", lambda: client.list_schedules("client.job"))
    step("schedule remove", lambda: client.delete_schedule("client.job", "every-minute"))
    step("schedules after", lambda: client.list_schedules("client.job"))
    step("run", lambda: client.run_job("client.job"))
    step("runs", lambda: client.list_runs("client.job"))
    print(json.dumps({"step": "ready"}), flush=True)
    run_id = sys.stdin.readline().strip()
    step("get run", lambda: client.get_run("client.job", run_id))
    step("get missing run", lambda: client.get_run("client.job", "20990101000000abcde"))
    step("remove while active", lambda: client.delete_job("client.job"))
    step("stop", lambda: client.stop_run("client.job", run_id))
    print(json.dumps({"step": "stopped"}), flush=True)
    sys.stdin.readline()
    step("stopped run", lambda: client.get_run("client.job", run_id))
    step("remove", lambda: client.delete_job("client.job", stop_current_job_runs=True))
    step("gone", lambda: client.get_job("client.job"))
    step("ping", lambda: client.ping())
''')


def _start(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)


def _lines(process: subprocess.Popen[str], until: str) -> dict[str, Any]:
    """The client's steps up to (not including) the step ``until``, by name."""
    assert process.stdout is not None
    steps: dict[str, Any] = {}
    for line in process.stdout:
        record = json.loads(line)
        if record["step"] == until:
            return steps
        steps[record["step"]] = record
    raise AssertionError(f"the client ended before {until!r}: {process.stderr.read() if process.stderr else ''}")


def test_metronomes_own_client_drives_jobs_schedules_and_runs(cluster: Cluster, shard_dir: Path) -> None:
    _start(cluster)
    out = shard_dir / "out.txt"
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    users = cluster.masters[0].users
    if users is not None:
        env.update(METRONOME_USER=ApiUsers.ADMIN, METRONOME_PASSWORD=users.password)
    client = subprocess.Popen([sys.executable, "-c", CLIENT, cluster.masters[0].url, str(out)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        steps = _lines(client, "ready")
        created = steps["create"]["value"]
        assert created["id"] == "client.job" and created["description"] == "from the client"
        assert created["run"]["cmd"].startswith("echo ran") and created["run"]["maxLaunchDelay"] == 600
        assert steps["create again"]["error"] == 409
        assert steps["get"]["value"] == created
        assert [j["id"] for j in steps["list"]["value"]] == ["client.job"]
        assert steps["get missing"]["error"] == 404 and steps["get missing"]["message"] == "Job not found"
        invalid = steps["create invalid"]
        assert invalid["error"] == 422 and invalid["message"] == "Object is not valid"
        assert [d["path"] for d in invalid["details"]] == ["/run/mem"]

        added = steps["schedule add"]["value"]
        assert added["id"] == "every-minute" and added["timezone"] == "Europe/Berlin" and added["enabled"]
        assert added["nextRunAt"].endswith("-12-31T23:00:00.000+0000")  # midnight, 1 January, in Berlin
        assert steps["schedule add again"]["error"] == 409
        assert "A schedule with id every-minute already exists" in steps["schedule add again"]["message"]
        assert steps["schedules"]["value"] == [added] and steps["schedule"]["value"] == added
        changed = steps["schedule update"]["value"]
        assert changed["cron"] == "0 3 * * *" and changed["enabled"] is True
        assert changed["nextRunAt"].endswith("T03:00:00.000+0000")
        assert steps["update"]["value"]["description"] == "updated"
        assert steps["update"]["value"]["run"]["mem"] == 64
        assert [s["cron"] for s in steps["schedule kept"]["value"]] == ["0 3 * * *"]  # PUT keeps schedules
        assert steps["schedule remove"]["value"] == 200 and steps["schedules after"]["value"] == []

        run = steps["run"]["value"]
        # (protobuf leaves out an enum's first value: a status absent here is INITIAL)
        assert run["jobId"] == "client.job" and run.get("status", "INITIAL") in ("INITIAL", "STARTING", "ACTIVE")
        wait_until(lambda: out.exists(), 30, message="the run's command ran")
        assert [r["id"] for r in steps["runs"]["value"]] == [run["id"]]

        def active() -> bool:
            found = cluster.masters[0].get(f"/v1/jobs/client.job/runs/{run['id']}").json()
            return found["status"] == "ACTIVE"

        wait_until(active, 30, message="the run is active")
        assert client.stdin is not None
        client.stdin.write(run["id"] + "\n")
        client.stdin.flush()
        steps = _lines(client, "stopped")
        got = steps["get run"]["value"]
        assert got["id"] == run["id"] and got["status"] == "ACTIVE"
        assert [t["status"] for t in got["tasks"]] == ["TASK_RUNNING"]
        assert steps["get missing run"]["error"] == 404
        assert steps["remove while active"]["error"] == 409
        assert steps["stop"]["value"] == 200

        def stopped() -> dict[str, Any] | None:
            found = cluster.masters[0].get(f"/v1/jobs/client.job/runs/{run['id']}").json()
            return found if found["status"] == "FAILED" else None

        ended = wait_until(stopped, 30, message="the stopped run ends FAILED")
        assert [t["status"] for t in ended["tasks"]] == ["TASK_KILLED"] and ended["completedAt"]
        client.stdin.write("\n")
        client.stdin.flush()
        steps = _lines(client, "ping")
        assert steps["stopped run"]["value"]["status"] == "FAILED"
        assert steps["remove"]["value"] == 200 and steps["gone"]["error"] == 404
        assert out.read_text() == "ran\n"  # one run, once
    finally:
        client.kill()
        client.wait(10)


def test_the_docs_examples_and_both_apis_see_each_others_jobs(cluster: Cluster, shard_dir: Path) -> None:
    _start(cluster)
    with cluster.masters[0].http() as api:
        created = api.post("/service/metronome/v1/jobs", content=SEED_JOB,
                           headers={"Content-Type": "application/json"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["id"] == "myjob" and body["run"]["cmd"] == "sleep 20000"
        [schedule] = body["schedules"]
        assert schedule["id"] == "sleep-schedule" and schedule["nextRunAt"].endswith("T00:20:00.000+0000")
        assert schedule["startingDeadlineSeconds"] == 900 and schedule["timezone"] == "UTC"

        # One schedule per job (as Metronome): the docs' schedule file is refused while one exists.
        again = api.post("/v1/jobs/myjob/schedules", content=SEED_SCHEDULE,
                         headers={"Content-Type": "application/json"})
        assert again.status_code == 409
        assert api.delete("/v1/jobs/myjob/schedules/sleep-schedule").status_code == 200
        added = api.post("/v1/jobs/myjob/schedules", content=SEED_SCHEDULE,
                         headers={"Content-Type": "application/json"})
        assert added.status_code == 201, added.text
        assert added.json()["id"] == "nightly" and added.json()["nextRunAt"] != "2016-07-26T00:20:00.000+0000"

        embedded = api.get("/v1/jobs/myjob", params=[("embed", "schedules"), ("embed", "activeRuns"),
                                                     ("embed", "history")]).json()
        assert [s["id"] for s in embedded["schedules"]] == ["nightly"] and embedded["activeRuns"] == []
        assert embedded["history"]["successCount"] == 0 and embedded["history"]["failedFinishedRuns"] == []

        # The native API sees the /v1 job in its own shape, and /v1 sees native jobs in Metronome's.
        native = api.get("/job/jobs/myjob").json()
        assert native["cron"] == "20 0 * * *" and native["cronDialect"] == "METRONOME"
        assert native["scriptCommandLine"] == "sleep 20000" and native["memoryMB"] == 32
        job = {"jobName": "native-job", "appURL": "", "scriptCommandLine": "echo native", "cron": "0 0 3 * * ?",
               "shardingTotalCount": 2, "cpuCount": 0.1, "memoryMB": 64}
        assert api.post("/job/register", json=job).status_code == 204
        shown = api.get("/v1/jobs/native-job", params={"embed": "schedules"}).json()
        assert shown["run"]["cmd"] == "echo native" and shown["run"]["shards"] == 2
        assert shown["schedules"][0]["cron"] == "0 0 3 * * ?" and shown["schedules"][0]["id"] == "default"
        assert sorted(j["id"] for j in api.get("/v1/jobs").json()) == ["myjob", "native-job"]

        # A /v1 job runs; its run is a native run too; a second run is queued behind an active one.
        quick = {"id": "quick", "run": {"cmd": f"echo $ELASTICJOB_SHARDING_ITEM >> {shard_dir}/quick",
                                         "cpus": 0.1, "mem": 32, "shards": 2}}
        assert api.post("/v1/jobs", json=quick).status_code == 201
        run = api.post("/v1/jobs/quick/runs")
        assert run.status_code == 201, run.text

        def finished() -> dict[str, Any] | None:
            found = api.get(f"/v1/jobs/quick/runs/{run.json()['id']}").json()
            return found if found["status"] == "SUCCESS" else None

        done = wait_until(finished, 30, message="the /v1 run succeeds")
        assert sorted(t["status"] for t in done["tasks"]) == ["TASK_FINISHED", "TASK_FINISHED"]
        assert sorted((shard_dir / "quick").read_text().split()) == ["0", "1"]
        assert api.get(f"/job/jobs/quick/runs/{done['id']}").json()["status"] == "SUCCESS"
        history = api.get("/v1/jobs/quick", params={"embed": "historySummary"}).json()["historySummary"]
        assert history["successCount"] == 1 and history["lastSuccessAt"] == done["completedAt"]
        assert api.get("/v1/jobs/quick/runs").json() == []

        # Errors as Metronome's; nothing changes.
        for body, path in (
            ({"id": "Bad_Id", "run": {"cmd": "true", "cpus": 0.1, "mem": 32}}, "/id"),
            ({"id": "d", "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "docker": {"image": "x"}}}, "/run/docker"),
            ({"id": "d", "run": {"cpus": 0.1, "mem": 32}}, "/run/cmd"),
            ({"id": "d", "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "env": {"A": {"secret": "s"}}}},
             "/run/env/A"),
            ({"id": "d", "run": {"cmd": "true", "cpus": 0.1, "mem": 32},
              "schedules": [{"id": "s", "cron": "0 0 31 2 *"}]}, "/schedules/0/cron"),
            ({"id": "d", "run": {"cmd": "true", "cpus": 0.1, "mem": 32},
              "schedules": [{"id": "s", "cron": "61 * * * *"}]}, "/schedules/0/cron"),
        ):
            refused = api.post("/v1/jobs", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["message"] == "Object is not valid"
            assert path in [d["path"] for d in refused.json()["details"]], refused.json()
        assert api.get("/v1/jobs/d").status_code == 404
        assert api.get("/v1/jobs/nope").json() == {"id": "nope", "message": "Job not found"}
        assert api.get("/v1/jobs/myjob/schedules/nope").status_code == 404
        assert api.get("/v1/jobs", params={"embed": "everything"}).status_code == 422
        assert api.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
                        ).status_code == 422
        assert api.get("/v1/queue").json() == []
        assert api.get("/ping").text == "pong"

        # A run that cannot fit waits in the queue; its job cannot be removed without stopping it.
        huge = {"id": "huge", "run": {"cmd": "true", "cpus": 0.1, "mem": 4096}}
        assert api.post("/v1/jobs", json=huge).status_code == 201
        waiting = api.post("/v1/jobs/huge/runs").json()
        assert api.get("/v1/queue").json() == [{"jobId": "huge", "runs": [{"runId": waiting["id"]}]}]
        # Beyond Metronome, the caller may ask why: the scheduler's word on the job's queue.
        why = wait_until(lambda: api.get("/v1/queue", params={"reasons": "true"}).json()[0].get("reason"), 20)
        assert "4096 MB" in why, why
        assert api.get("/v1/queue", params={"reasons": "maybe"}).status_code == 422
        assert [r["id"] for r in api.get("/v1/jobs/huge/runs").json()] == [waiting["id"]]
        assert api.delete("/v1/jobs/huge").status_code == 409
        assert api.delete("/v1/jobs/huge", params={"stopCurrentJobRuns": "true"}).status_code == 200
        assert api.get("/v1/jobs/huge").status_code == 404 and api.get("/v1/queue").json() == []


def test_a_follower_serves_v1_and_hands_runs_to_the_leader(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_master()
    cluster.start_master()
    cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    _, follower = cluster.masters
    wait_until(lambda: follower.get("/leader").json().get("self") is False, 20,
               message="the second master follows")
    with follower.http() as api:
        job = {"id": "via.follower", "run": {"cmd": "true", "cpus": 0.1, "mem": 32}}
        assert api.post("/v1/jobs", json=job).status_code == 201
        assert api.get("/v1/jobs/via.follower").json()["run"]["cmd"] == "true"  # its own write, at once
        run = api.post("/v1/jobs/via.follower/runs")
        assert run.status_code == 201, run.text

        def succeeded() -> bool:
            summary = api.get("/v1/jobs/via.follower", params={"embed": "history"}).json()["history"]
            return summary["successCount"] == 1

        # (1 CPU is enough for a 0.1 CPU /v1 job: its app's executor adds next to nothing)
        wait_until(succeeded, 30, message="the follower shows the leader's history")
        history = api.get("/v1/jobs/via.follower", params={"embed": "history"}).json()["history"]
        assert [r["id"] for r in history["successfulFinishedRuns"]] == [run.json()["id"]]
        assert api.get(f"/v1/jobs/via.follower/runs/{run.json()['id']}").json()["status"] == "SUCCESS"
