"""``/v1`` on a real cluster: several artifacts, LIKE / UNLIKE placement between two agents with different
attributes, a run's own environment (``POST /v1/jobs/{id}/runs`` with ``{"env": {...}}``), and a PUT on a
job registered through the native API."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Cluster
from tests.integration.test_agent_fetch import ArtifactServer, Resource, serving
from tests.support import build_tarball, wait_until


@pytest.fixture
def server() -> Iterator[ArtifactServer]:
    with serving(ArtifactServer()) as state:
        yield state


def tarball(files: dict[str, str], executable: tuple[str, ...] = ()) -> bytes:
    path = Path(f"/tmp/ej-v1-{os.getpid()}-{time.monotonic_ns()}.tgz")
    try:
        return build_tarball(dict(files), path, executable=executable).read_bytes()
    finally:
        path.unlink()


def run_to_the_end(api: httpx.Client, job_id: str, **body: Any) -> dict[str, Any]:
    started = api.post(f"/v1/jobs/{job_id}/runs", **body)
    assert started.status_code == 201, started.text

    def ended() -> dict[str, Any] | None:
        found = api.get(f"/v1/jobs/{job_id}/runs/{started.json()['id']}").json()
        return found if found["status"] in ("SUCCESS", "FAILED") else None

    result: dict[str, Any] = wait_until(ended, 30, message=f"a run of {job_id} ends")
    return result


def test_a_v1_job_gets_all_its_artifacts(cluster: Cluster, server: ArtifactServer, shard_dir: Path) -> None:
    server.resources["/app.tar.gz"] = Resource(tarball({"bin/main.sh": "#!/bin/sh\necho main\n"}, ("bin/main.sh",)))
    server.resources["/tool"] = Resource(b"#!/bin/sh\necho tool\n")
    server.resources["/lib.zip.tgz"] = Resource(tarball({"lib/x.txt": "lib\n"}))
    server.resources["/conf.json"] = Resource(b'{"k": 1}\n')
    out = shard_dir / "out"
    artifacts = [
        {"uri": f"{server.url}/tool", "executable": True},
        {"uri": f"{server.url}/app.tar.gz"},
        {"uri": f"{server.url}/lib.zip.tgz", "cache": True},
        {"uri": f"{server.url}/conf.json", "extract": False},
    ]
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    with cluster.masters[0].http() as api:
        job = {"id": "arts", "run": {"cmd": f"(bin/main.sh; ./tool; cat lib/x.txt conf.json; pwd) > {out}",
                                     "cpus": 0.1, "mem": 32, "artifacts": artifacts}}
        created = api.post("/v1/jobs", json=job)
        assert created.status_code == 201, created.text
        expected = [{"extract": True, "executable": False, "cache": False, **a} for a in artifacts]
        assert created.json()["run"]["artifacts"] == expected
        assert api.get("/v1/jobs/arts").json()["run"]["artifacts"] == expected  # as given
        native = api.get("/job/jobs/arts").json()
        assert native["appURL"] == f"{server.url}/app.tar.gz"
        assert [a["uri"] for a in native["artifacts"]] == [a["uri"] for a in artifacts if "app" not in a["uri"]]

        assert run_to_the_end(api, "arts")["status"] == "SUCCESS"
        main, tool, lib, conf, cwd = out.read_text().splitlines()
        assert (main, tool, lib, conf) == ("main", "tool", "lib", '{"k": 1}')
        assert stat.S_IMODE((Path(cwd) / "tool").stat().st_mode) == 0o755

        # A single archive keeps the native shape it always had: appURL, no artifacts field.
        single = {"id": "single", "run": {"cmd": "bin/main.sh", "cpus": 0.1, "mem": 32,
                                          "artifacts": [{"uri": f"{server.url}/app.tar.gz"}]}}
        assert api.post("/v1/jobs", json=single).status_code == 201
        native = api.get("/job/jobs/single").json()
        assert native["appURL"] == f"{server.url}/app.tar.gz" and "artifacts" not in native
        assert "patternConstraints" not in native

        # An artifact that cannot be fetched fails the run's task, with a message naming it.
        broken = {"id": "broken", "run": {"cmd": "true", "cpus": 0.1, "mem": 32,
                                          "artifacts": [{"uri": f"{server.url}/gone.txt"}]}}
        assert api.post("/v1/jobs", json=broken).status_code == 201
        assert run_to_the_end(api, "broken")["status"] == "FAILED"
        rows = api.get("/job/events/executions", params={"jobName": "broken"}).json()["rows"]
        assert any(f"cannot fetch artifact {server.url}/gone.txt" in (r.get("failureCause") or "") for r in rows), rows


def _agent_id(agent: Any) -> str:
    return str((agent.work_dir / "agent-id").read_text().strip())


def test_like_and_unlike_choose_the_agent(cluster: Cluster, tmp_path: Path) -> None:
    cluster.start_master()
    web = cluster.start_agent(cpus=1, mem=512, attributes="host=web-1,zone=eu-west")
    batch = cluster.start_agent(cpus=1, mem=512, attributes="host=batch-7")
    cluster.wait_agents(2)
    with cluster.masters[0].http() as api:
        def job(job_id: str, *constraints: tuple[str, str, str]) -> dict[str, Any]:
            return {"id": job_id, "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "shards": 2, "placement": {
                "constraints": [{"attribute": a, "operator": o, "value": v} for a, o, v in constraints]}}}

        cases = {
            "like.web": (job("like.web", ("host", "LIKE", "web-[0-9]+")), web),
            "unlike.web": (job("unlike.web", ("host", "UNLIKE", "web-.*")), batch),
            "unlike.zone": (job("unlike.zone", ("zone", "UNLIKE", "eu-.*")), batch),  # batch has no zone
            "like.zone": (job("like.zone", ("zone", "LIKE", "eu-.*")), web),
            "like.part": (job("like.part", ("host", "LIKE", "batch")), None),  # a full match, not a search
        }
        for body, _ in cases.values():
            created = api.post("/v1/jobs", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["run"]["placement"] == body["run"]["placement"]
        assert api.get("/job/jobs/like.web").json()["patternConstraints"] == [
            {"attribute": "host", "operator": "LIKE", "value": "web-[0-9]+"}]
        for job_id, (_, agent) in cases.items():
            if agent is None:
                continue
            run = run_to_the_end(api, job_id)
            assert run["status"] == "SUCCESS", run
            assert {t["id"].split("@-@")[3] for t in run["tasks"]} == {_agent_id(agent)}, job_id

        assert api.post("/v1/jobs/like.part/runs").status_code == 201

        def reason() -> str | None:
            rows = [r for r in api.get("/job/tasks/ready").json() if r["jobName"] == "like.part"]
            return rows[0].get("reason") if rows else None

        waits = wait_until(reason, 15, message="a reason to wait")
        assert waits.endswith("shard 0: constraint host LIKE batch matched no agent"), waits

        # A regular expression that does not compile: 422 at the constraint's value, on both APIs.
        bad = job("bad", ("host", "EQ", "x"), ("host", "LIKE", "web-("))
        refused = api.post("/v1/jobs", json=bad)
        assert refused.status_code == 422 and refused.json()["message"] == "Object is not valid"
        assert [d["path"] for d in refused.json()["details"]] == ["/run/placement/constraints/1/value"]
        native = {"jobName": "bad", "appURL": "", "scriptCommandLine": "true", "cron": "0 0 3 * * ?",
                  "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 32,
                  "patternConstraints": [{"attribute": "host", "operator": "UNLIKE", "value": "("}]}
        refused = api.post("/job/register", json=native)
        assert refused.status_code == 422, refused.text
        assert "patternConstraints.0.value" in [d["path"] for d in refused.json()["details"]], refused.text
        assert api.get("/v1/jobs/bad").status_code == 404


def test_a_run_gets_its_own_environment(cluster: Cluster, shard_dir: Path) -> None:
    out = shard_dir / "env"
    cluster.start_master()
    cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    with cluster.masters[0].http() as api:
        job = {"id": "envy", "run": {"cmd": f'echo "job=$FROM_JOB run=${{RUN_ONLY:-unset}}" >> {out}',
                                     "cpus": 0.1, "mem": 32, "env": {"FROM_JOB": "j"}}}
        assert api.post("/v1/jobs", json=job).status_code == 201
        assert run_to_the_end(api, "envy", json={"env": {"RUN_ONLY": "for this run"}})["status"] == "SUCCESS"
        assert run_to_the_end(api, "envy")["status"] == "SUCCESS"  # no body: Metronome's own request
        assert run_to_the_end(api, "envy", json={})["status"] == "SUCCESS"
        assert out.read_text().splitlines() == ["job=j run=for this run", "job=j run=unset", "job=j run=unset"]

        for body, path in (({"env": {"9X": "1"}}, "/env/9X"), ({"env": {"A": 1}}, "/env/A"),
                           ({"env": {"ELASTICJOB_TASK_ID": "x"}}, "/env/ELASTICJOB_TASK_ID"),
                           ({"nope": 1}, "/nope")):
            refused = api.post("/v1/jobs/envy/runs", json=body)
            assert refused.status_code == 422, refused.text
            answer = refused.json()
            assert answer["message"] == "Object is not valid" and [d["path"] for d in answer["details"]] == [path]
            assert answer["details"][0]["errors"]
        assert api.get("/v1/jobs/envy/runs").json() == [] and api.get("/v1/queue").json() == []
        assert api.post("/v1/jobs/missing/runs", json={"env": {"A": "1"}}).status_code == 404


# A native job using what /v1 cannot express: its app, failover, misfire, parameters, webhooks, a DAEMON
# executor with a Quartz cron, a paused schedule, a secret.
NATIVE_APP = {"appName": "billing", "appURL": "http://artifacts.example/billing.tgz",
              "bootstrapScript": "bin/start.sh", "cpuCount": 0.1, "memoryMB": 32}
NATIVE_JOB = {
    "jobName": "team.report", "appName": "billing", "cron": "0 0/5 * * * ?", "jobExecutionType": "DAEMON",
    "shardingTotalCount": 2, "shardingItemParameters": "0=a,1=b", "jobParameter": "p", "cpuCount": 0.5,
    "memoryMB": 64, "failover": True, "misfire": False, "scheduleActive": False, "maxPendingFirings": 3,
    "shardRetryLimit": 2, "shardRetryBackoffSeconds": 1.5, "description": "the report",
    "environment": {"A": "1", "TOKEN": "s3cret"}, "secretEnvironment": ["TOKEN"], "constraints": {"rack": "a"},
    "webhooks": [{"url": "https://hooks.example/x", "events": ["end"], "secret": "0123456789abcdef"}],
    "jobProperties": {"k": "v"},
}


def test_a_v1_put_on_a_native_job_changes_only_what_it_changes(cluster: Cluster) -> None:
    cluster.start_master()
    with cluster.masters[0].http() as api:
        assert api.post("/app", json=NATIVE_APP).status_code == 204
        assert api.post("/job/register", json=NATIVE_JOB).status_code == 204
        before = api.get("/job/jobs/team.report").json()
        meta = api.get("/job/jobs/team.report/meta").json()

        # Metronome's client updates a job by GET-modify-PUT: put back unmodified, nothing changes.
        shown = api.get("/v1/jobs/team.report").json()
        assert shown["run"]["cmd"] == "bin/start.sh" and shown["run"]["shards"] == 2
        assert shown["run"]["env"]["TOKEN"] == "******"
        answer = api.put("/v1/jobs/team.report", json=shown)
        assert answer.status_code == 200, answer.text
        assert answer.json() == shown
        assert api.get("/job/jobs/team.report").json() == before
        assert api.get("/job/jobs/team.report/meta").json()["createdBy"] == meta.get("createdBy")

        # A change is that change only: the job keeps its app, executor, schedule and webhooks.
        shown["run"]["cpus"] = 1.5
        answer = api.put("/v1/jobs/team.report", json=shown)
        assert answer.status_code == 200, answer.text
        assert answer.json()["run"]["cpus"] == 1.5
        after = api.get("/job/jobs/team.report").json()
        assert after == {**before, "cpuCount": 1.5}
        assert after["appName"] == "billing" and after["jobExecutionType"] == "DAEMON" and after["webhooks"]
        assert "dialect" not in after and after["cron"] == "0 0/5 * * * ?"

        # What a native job cannot hold is refused, and nothing changes.
        for path, body in (("/labels", {**shown, "labels": {"team": "data"}}),
                           ("/run/user", {**shown, "run": {**shown["run"], "user": "nobody", "cpus": 2}})):
            refused = api.put("/v1/jobs/team.report", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["message"] == "Object is not valid"
            [detail] = refused.json()["details"]
            assert detail["path"] == path and "registered through the native API" in detail["errors"][0]
        assert api.get("/job/jobs/team.report").json() == after
