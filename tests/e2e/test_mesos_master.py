"""A real master with ``--mesos-master`` pointing at the Mesos v1 API replay server: a job registered
through the API is launched through Mesos and its run ends SUCCESS. No live Mesos cluster is involved."""

from __future__ import annotations

from typing import Any

from elasticjob.dev.processes import wait_until
from tests.integration.mesos_replay import AGENT_ID, ReplayMesos


def test_a_job_runs_on_mesos_offers_and_its_run_succeeds(master_factory: Any) -> None:
    with ReplayMesos() as replay:
        master = master_factory("mesos-e2e", "--mesos-master", replay.url, "--mesos-role", "jobs",
                                "--mesos-refuse-seconds", "0.5")
        with master.http() as client:
            app = {"appName": "onmesos", "appURL": "http://apps.example/onmesos.tar.gz",
                   "bootstrapScript": "bin/run.sh", "cpuCount": 0.1, "memoryMB": 16}
            assert client.post("/app", json=app).status_code == 204
            job = {"jobName": "onmesos", "appName": "onmesos", "cron": "0 0 0 1 1 ? 2099",
                   "shardingTotalCount": 2, "cpuCount": 0.2, "memoryMB": 64, "failover": False}
            assert client.post("/job/register", json=job).status_code == 204
            wait_until(lambda: replay.stream_id, 20, message="the leader subscribes to Mesos")
            response = client.post("/job/trigger", content=b"onmesos", headers={"Content-Type": "text/plain"})
            assert response.status_code == 204, response.text

            def finished() -> dict[str, Any] | None:
                runs = client.get("/job/jobs/onmesos/runs").json()["runs"]
                return runs[0] if runs and runs[0]["status"] in ("SUCCESS", "FAILED") else None

            run = wait_until(finished, 30, message="the run ends")
            assert run["status"] == "SUCCESS", run
            assert sorted(t["shardingItem"] for t in run["tasks"]) == [0, 1]
            assert {t["agentId"] for t in run["tasks"]} == {f"mesos-{AGENT_ID}"}
            assert all(t["state"] == "FINISHED" for t in run["tasks"])
        infos = [info for call in replay.calls_of("ACCEPT")
                 for op in call["accept"]["operations"] for info in op["launch"]["task_infos"]]
        assert len(infos) == 2
        assert all(i["command"]["value"] == "bin/run.sh" for i in infos)
        assert all(i["command"]["uris"][0]["value"] == "http://apps.example/onmesos.tar.gz" for i in infos)
        assert replay.subscribes[0]["subscribe"]["framework_info"]["roles"] == ["jobs"]
        assert replay.violations == []
