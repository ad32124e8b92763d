"""The master's URL allow-list over real HTTP: a master started without ``--allow-file-urls`` and with
``--url-hosts`` refuses app and artifact URLs outside it, through every API that takes one, with a 422
naming the field and the flag — and stores nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ApiUsers, MasterProcess

pytestmark = pytest.mark.zk

ALLOWED = "https://artifacts.example.com/app.tar.gz"


@pytest.fixture(scope="module")
def strict(
    zk_hosts: str, tmp_path_factory: pytest.TempPathFactory, api_users: ApiUsers | None
) -> Iterator[httpx.Client]:
    master = MasterProcess(zk_hosts, f"urls-{uuid.uuid4().hex[:10]}", Path(tmp_path_factory.mktemp("master")),
                           "--url-hosts", "artifacts.example.com", allow_file_urls=False, auth=api_users).start()
    try:
        with master.http() as client:
            yield client
    finally:
        master.stop()


def refused(response: httpx.Response, path: str, flag: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    [detail] = [d for d in body["details"] if d["path"] == path]
    assert flag in " ".join(detail["errors"])
    # The native API's message names the field and the flag; Metronome's is always "Object is not valid".
    assert body["message"] == "Object is not valid" if path.startswith("/") else flag in body["message"]


def app(name: str, url: str) -> dict[str, Any]:
    return {"appName": name, "appURL": url, "bootstrapScript": "bin/start.sh", "cpuCount": 0.1, "memoryMB": 32}


def test_apps_with_file_urls_or_other_hosts_are_refused_and_not_stored(strict: httpx.Client) -> None:
    refused(strict.post("/app", json=app("local", "file:///srv/app.tgz")), "appURL", "--allow-file-urls")
    refused(strict.post("/app", json=app("elsewhere", "http://169.254.169.254/latest")), "appURL", "--url-hosts")
    assert strict.get("/app/local").status_code == 404 and strict.get("/app/elsewhere").status_code == 404

    assert strict.post("/app", json=app("allowed", ALLOWED)).status_code == 204
    refused(strict.put("/app", json=app("allowed", "file:///srv/app.tgz")), "appURL", "--allow-file-urls")
    assert strict.get("/app/allowed").json()["appURL"] == ALLOWED


def test_jobs_with_refused_app_or_artifact_urls_are_refused_and_not_stored(strict: httpx.Client) -> None:
    job = {"jobName": "single", "appURL": "file:///srv/app.tgz", "cron": "0 0 0 1 1 ? 2099",
           "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 32}
    refused(strict.post("/job/register", json=job), "appURL", "--allow-file-urls")
    job |= {"appURL": ALLOWED, "artifacts": [{"uri": ALLOWED}, {"uri": "https://evil.test/conf.json"}]}
    refused(strict.post("/job/register", json=job), "artifacts.1.uri", "--url-hosts")
    assert strict.get("/job/jobs/single").status_code == 404

    job["artifacts"] = [{"uri": ALLOWED}]
    assert strict.post("/job/register", json=job).status_code == 204
    refused(strict.put("/job/update", json=job | {"appURL": "file:///srv/app.tgz"}), "appURL", "--allow-file-urls")
    assert strict.get("/job/jobs/single").json()["appURL"] == ALLOWED


def test_metronome_jobs_with_refused_artifacts_are_refused_at_their_v1_path(strict: httpx.Client) -> None:
    spec = {"id": "v1.job", "run": {"cmd": "true", "cpus": 0.1, "mem": 32, "disk": 0,
                                    "artifacts": [{"uri": "file:///srv/app.tar.gz"}]}}
    refused(strict.post("/v1/jobs", json=spec), "/run/artifacts", "--allow-file-urls")
    assert strict.get("/v1/jobs/v1.job").status_code == 404

    spec["run"]["artifacts"] = [{"uri": ALLOWED}]
    assert strict.post("/v1/jobs", json=spec).status_code == 201
    spec["run"]["artifacts"] = [{"uri": "https://evil.test/app.tar.gz"}]
    refused(strict.put("/v1/jobs/v1.job", json=spec), "/run/artifacts", "--url-hosts")
    assert strict.get("/v1/jobs/v1.job").json()["run"]["artifacts"][0]["uri"] == ALLOWED
