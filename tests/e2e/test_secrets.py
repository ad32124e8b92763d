"""Secret environment values on a real cluster: stored and given to the shard, shown masked by every API
answer, kept by an update that sends the mask back, never written to the master's or the agent's log."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

SECRET = "s3cr3t-e2e-token-value"
MASK = "******"
SCRIPT = '#!/bin/sh\nprintf "%s" "$TOKEN" > "$OUT/token-$ELASTICJOB_FIRING_ID"\necho "plain=$PLAIN"\n'


def _finished_tokens(out: Path, count: int) -> list[str]:
    files = sorted(out.glob("token-*"))
    return [f.read_text() for f in files] if len(files) >= count else []


def _answers(client: httpx.Client, name: str) -> dict[str, Any]:
    return {
        "native": client.get(f"/job/jobs/{name}"),
        "list": client.get("/job/jobs"),
        "page": client.get("/job/jobs", params={"page": 1, "per_page": 10}),
        "api list": client.get("/api/job/jobs"),
        "summaries": client.get("/job/summaries"),
        "v1": client.get(f"/v1/jobs/{name}", params={"embed": "history"}),
        "v1 list": client.get("/v1/jobs"),
        "registry": client.get("/cluster/registry", params={"path": f"config/job/{name}"}),
        "runs": client.get(f"/job/jobs/{name}/runs"),
        "executions": client.get("/job/events/executions"),
    }


def test_a_secret_is_masked_everywhere_kept_by_an_update_with_the_mask_and_reaches_the_shard(
    cluster: Cluster, tmp_path: Path, shard_dir: Path
) -> None:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "s.tar.gz", executable=("bin/run.sh",))
    master = cluster.start_master()
    agent = cluster.start_agent()
    cluster.wait_agents(1)
    with cluster.api as client:
        app = {"appName": "secrets", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
               "cpuCount": 0.1, "memoryMB": 16}
        assert client.post("/app", json=app).status_code == 204
        job = {"jobName": "secretive", "appName": "secrets",
               "cron": "0 0 1 1 *", "cronDialect": "METRONOME", "shardingTotalCount": 1, "cpuCount": 0.1,
               "memoryMB": 32,
               "environment": {"TOKEN": SECRET, "PLAIN": "visible", "OUT": str(shard_dir)},
               "secretEnvironment": ["TOKEN"]}
        assert client.post("/job/register", json=job).status_code == 204
        # A mark for a key the environment lacks, and the mask as a new value, are refused.
        bad = client.post("/job/register", json={**job, "jobName": "bad", "secretEnvironment": ["NOPE"]})
        assert bad.status_code == 422 and bad.json()["details"][0]["path"] == "secretEnvironment", bad.text
        masked = {**job, "jobName": "bad", "environment": {**job["environment"], "TOKEN": MASK}}
        assert client.post("/job/register", json=masked).status_code == 422

        shown = client.get("/job/jobs/secretive").json()
        assert shown["environment"] == {"TOKEN": MASK, "PLAIN": "visible", "OUT": str(shard_dir)}
        assert shown["secretEnvironment"] == ["TOKEN"]
        assert client.get("/v1/jobs/secretive").json()["run"]["env"]["TOKEN"] == MASK
        registry = client.get("/cluster/registry", params={"path": "config/job/secretive"}).json()
        assert registry["format"] == "json" and registry["data"]["environment"]["TOKEN"] == MASK

        # The shard gets the real value.
        assert client.post("/job/trigger", content="secretive").status_code == 204
        assert wait_until(lambda: _finished_tokens(shard_dir, 1), 30, message="the shard ran") == [SECRET]

        # The console's round trip: what GET answered, sent back with a change, keeps the secret.
        edited = {k: v for k, v in shown.items() if k not in ("nextFireTime", "lastFireTime", "pendingFirings",
                                                               "missedFirings")}
        edited["description"] = "edited with the mask"
        assert client.put("/job/update", json=edited).status_code == 204
        assert client.get("/job/jobs/secretive").json()["description"] == "edited with the mask"
        # /v1 reads the mask and writes it back: the value and its mark stay.
        spec = client.get("/v1/jobs/secretive").json()
        spec["description"] = "edited through /v1"
        answer = client.put("/v1/jobs/secretive", json=spec)
        assert answer.status_code == 200, answer.text
        assert answer.json()["run"]["env"]["TOKEN"] == MASK
        assert client.get("/job/jobs/secretive").json()["secretEnvironment"] == ["TOKEN"]
        time.sleep(1.1)  # a firing id of its own (second resolution)
        assert client.post("/job/trigger", content="secretive").status_code == 204
        assert wait_until(lambda: _finished_tokens(shard_dir, 2), 30, message="the shard ran again") == [
            SECRET, SECRET]
        wait_until(lambda: len([r for r in client.get("/job/events/executions").json()["rows"]
                                if r["state"] == "FINISHED"]) >= 2, 30, message="both runs recorded")

        for what, response in _answers(client, "secretive").items():
            assert response.status_code == 200, (what, response.text)
            assert SECRET not in response.text, what
        assert MASK in _answers(client, "secretive")["list"].text

        # A new value replaces the secret (and is still masked).
        replaced = {**edited, "environment": {**edited["environment"], "TOKEN": "another-secret"}}
        assert client.put("/job/update", json=replaced).status_code == 204
        assert client.get("/job/jobs/secretive").json()["environment"]["TOKEN"] == MASK
        time.sleep(1.1)
        assert client.post("/job/trigger", content="secretive").status_code == 204
        assert "another-secret" in wait_until(lambda: _finished_tokens(shard_dir, 3), 30, message="third run")

    # Neither log holds a secret value (the agent received it in the task spec).
    for process in (master, agent):
        text = process.log_path.read_text(errors="replace")
        assert "secretive" in text, process.log_path  # the log tells of the job: it was written
        assert SECRET not in text and "another-secret" not in text, process.log_path
    assert json.dumps(SECRET) not in agent.log_path.read_text()
