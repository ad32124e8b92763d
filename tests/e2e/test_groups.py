"""Job groups as a boundary, on a real cluster: a user confined to ``marketing`` neither sees nor changes
``billing``'s jobs, apps, runs, tasks, logs, history or counts — through the native API, ``/v1``, the
operators' routes and a follower that forwards to the leader — and views of the whole installation are
refused to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from elasticjob.security.secrets import hash_secret
from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

PASSWORD = "a long enough password"
TOKEN = "marketing-bot-token-0123"
OURS, THEIRS = "marketing.daily", "billing.invoices"


def _auth_file(tmp_path: Path) -> Path:
    hashed = hash_secret(PASSWORD)
    path = tmp_path / "auth.toml"
    path.write_text(
        f'[[users]]\nname = "root"\nrole = "admin"\npassword_hash = "{hashed}"\n\n'
        f'[[users]]\nname = "mkt"\nrole = "admin"\npassword_hash = "{hashed}"\ngroups = ["marketing"]\n\n'
        f'[[users]]\nname = "mkt-bot"\nrole = "viewer"\ntoken_hash = "{hash_secret(TOKEN)}"\n'
        'groups = ["marketing"]\n'
    )
    return path


def _start_running(root: httpx.Client, tmp_path: Path, name: str) -> None:
    """An app ``{group}.app`` and a one-shard job ``name`` whose shard prints and keeps running."""
    app_name = name.partition(".")[0] + ".app"
    tarball = build_tarball({"bin/run.sh": f"#!/bin/sh\necho output-of-{name}\nsleep 60\n"},
                            tmp_path / f"{app_name}.tar.gz", executable=("bin/run.sh",))
    app = {"appName": app_name, "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
           "cpuCount": 0.1, "memoryMB": 16}
    assert root.post("/app", json=app).status_code == 204
    job = {"jobName": name, "appName": app_name, "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": 1,
           "cpuCount": 0.1, "memoryMB": 32}
    assert root.post("/job/register", json=job).status_code == 204
    assert root.post("/job/trigger", content=name.encode()).status_code == 204


def _names(rows: list[dict[str, Any]], key: str = "jobName") -> set[str]:
    return {row[key] for row in rows}


def test_a_user_confined_to_a_group_sees_and_changes_only_its_jobs(cluster: Cluster, tmp_path: Path) -> None:
    auth = str(_auth_file(tmp_path))
    leader = cluster.start_master("--auth-file", auth)
    follower = cluster.start_master("--auth-file", auth)
    agent = cluster.start_agent(cpus=2, agent_id="a1")
    root = httpx.Client(base_url=leader.url, timeout=15, auth=("root", PASSWORD))
    bot = httpx.Client(base_url=leader.url, timeout=15, headers={"Authorization": f"Bearer {TOKEN}"})
    mkt = httpx.Client(base_url=leader.url, timeout=15, auth=("mkt", PASSWORD))
    try:
        wait_until(lambda: "elasticjob_connected_agents 1.0" in root.get("/metrics").text, 30,
                   message="the agent registered")
        for name in (OURS, THEIRS):
            _start_running(root, tmp_path, name)
        wait_until(lambda: len(root.get("/job/tasks/running").json()) == 2, 60, message="both shards run")
        runs = {name: root.get(f"/job/jobs/{name}/runs").json()["runs"][0]["runId"] for name in (OURS, THEIRS)}
        tasks = {t["jobName"]: t["taskId"] for t in root.get("/cluster/tasks").json()}
        wait_until(lambda: "output-of" in root.get(f"/job/tasks/{tasks[THEIRS]}/logs").text, 30,
                   message="the other group's shard wrote its log")
        wait_until(lambda: root.get("/job/events/executions").json()["total"] >= 2, 30,
                   message="both executions recorded")

        # The unconfined admin sees both groups.
        assert _names(root.get("/job/jobs").json()) == {OURS, THEIRS}

        # Lists and counts hold the group's jobs only: native, /api, /v1, operators' routes.
        for client in (bot, mkt):
            listed = client.get("/job/jobs")
            assert _names(listed.json()) == {OURS} and listed.headers["x-total-count"] == "1"
            assert _names(client.get("/api/job/jobs").json()) == {OURS}
            assert _names(client.get("/job/jobs", params={"page": 1, "per_page": 10}).json()) == {OURS}
            assert _names(client.get("/app/list").json(), "appName") == {"marketing.app"}
            assert {t["metaInfo"]["jobName"] for t in client.get("/job/tasks/running").json()} == {OURS}
            summaries = client.get("/job/summaries").json()
            assert summaries["total"] == 1 and _names(summaries["jobs"]) == {OURS}
            overview = client.get("/cluster/overview").json()
            assert overview["jobs"]["count"] == 1 and overview["apps"]["count"] == 1
            assert overview["tasks"]["running"] == 1 and overview["agents"]["count"] == 1
            assert _names(client.get("/cluster/tasks").json()) == {OURS}
            assert client.get("/cluster/tasks", params={"jobName": THEIRS}).json() == []
            assert _names(client.get("/cluster/agents/a1").json()["tasks"]) == {OURS}
            assert _names(client.get("/v1/jobs").json(), "id") == {OURS}
            executions = client.get("/job/events/executions").json()
            assert executions["total"] >= 1 and _names(executions["rows"]) == {OURS}
            assert client.get("/job/events/executions", params={"jobName": THEIRS}).json()["total"] == 0
            assert _names(client.get("/job/events/statusTraces").json()["rows"]) == {OURS}
            # Their own job's runs and logs are theirs.
            assert client.get(f"/job/jobs/{OURS}/runs/{runs[OURS]}").status_code == 200
            assert "output-of" in client.get(f"/job/tasks/{tasks[OURS]}/logs").text

        # Whatever names the other group is refused alike, whether it exists or not: nothing leaks.
        for path in (f"/job/jobs/{THEIRS}", "/job/jobs/billing.nothing", f"/api/job/jobs/{THEIRS}",
                     f"/job/jobs/{THEIRS}/runs", f"/job/jobs/{THEIRS}/runs/{runs[THEIRS]}",
                     f"/job/jobs/{THEIRS}/runs/{runs[THEIRS]}/logs", f"/job/tasks/{tasks[THEIRS]}/logs",
                     f"/job/jobs/{THEIRS}/firings", f"/job/{THEIRS}/disable", "/app/billing.app",
                     f"/v1/jobs/{THEIRS}", f"/v1/jobs/{THEIRS}/runs", f"/service/metronome/v1/jobs/{THEIRS}",
                     "/cluster/registry", "/metrics", "/job/statistics/jobs/register"):
            refused = bot.get(path)
            assert refused.status_code == 403, (path, refused.status_code, refused.text)
            message = refused.json()["message"]
            assert "outside your job groups (marketing)" in message or "whole installation" in message, message
            assert "output-of" not in refused.text, path

        # A confined admin changes nothing of the other group: every such write is refused and changes
        # nothing.
        before = root.get(f"/job/jobs/{THEIRS}").json()
        job = {"jobName": "billing.new", "appName": "billing.app", "cron": "0 0 0 1 1 ? 2099",
               "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 32}
        writes = [
            ("POST", "/job/register", {"json": job}),
            ("POST", "/job/register", {"json": {**job, "jobName": "marketing.new", "appName": "billing.app"}}),
            ("PUT", "/job/update", {"json": {**job, "jobName": THEIRS}}),
            ("POST", "/job/trigger", {"content": THEIRS.encode()}),
            ("POST", "/job/trigger", {"json": {"jobName": THEIRS}}),
            ("DELETE", "/job/deregister", {"content": THEIRS.encode()}),
            ("POST", f"/job/{THEIRS}/disable", {}),
            ("POST", f"/job/jobs/{THEIRS}/runs/{runs[THEIRS]}/stop", {}),
            ("POST", "/app", {"json": {"appName": "billing.other", "appURL": "http://example.com/a.tar.gz", "bootstrapScript": "run.sh",
                                        "cpuCount": 0.1, "memoryMB": 16}}),
            ("DELETE", "/app/billing.app", {"params": {"cascade": "true"}}),
            ("POST", "/v1/jobs", {"json": {"id": "billing.v1", "run": {"cmd": "true", "cpus": 0.1, "mem": 32,
                                                                         "disk": 0}}}),
            ("POST", f"/v1/jobs/{THEIRS}/runs", {}),
        ]
        for method, path, extra in writes:
            refused = mkt.request(method, path, **extra)
            assert refused.status_code == 403, (method, path, refused.status_code, refused.text)
            assert "outside your job groups" in refused.json()["message"], refused.text
        assert root.get(f"/job/jobs/{THEIRS}").json() == before
        assert _names(root.get("/job/jobs").json()) == {OURS, THEIRS}
        assert _names(root.get("/app/list").json(), "appName") == {"marketing.app", "billing.app"}
        assert len(root.get("/job/tasks/running").json()) == 2
        assert root.get(f"/job/{THEIRS}/disable").json() is False

        # Within the group, the confined admin may do what an admin does.
        ours = {**job, "jobName": "marketing.weekly", "appName": "marketing.app"}
        assert mkt.post("/job/register", json=ours).status_code == 204
        assert mkt.post(f"/job/{OURS}/disable").status_code == 204
        assert _names(mkt.get("/job/jobs").json()) == {OURS, "marketing.weekly"}

        # A follower forwards history reads with the caller's credentials — and a console's session —
        # and the leader answers only the group's.
        with httpx.Client(base_url=follower.url, timeout=15, headers={"Authorization": f"Bearer {TOKEN}"}) as f:
            assert _names(f.get("/job/events/executions").json()["rows"]) == {OURS}
            assert f.get(f"/job/jobs/{THEIRS}/runs").status_code == 403
        with httpx.Client(base_url=follower.url, timeout=15) as console:
            assert console.post("/auth/login", json={"user": "mkt", "password": PASSWORD}).status_code == 204
            me = console.get("/auth/me").json()
            assert me == {"auth": True, "name": "mkt", "role": "admin", "groups": ["marketing"]}
            forwarded = console.get("/job/events/executions")
            assert forwarded.status_code == 200 and _names(forwarded.json()["rows"]) == {OURS}
    finally:
        for client in (root, bot, mkt):
            client.close()
        agent.stop()
