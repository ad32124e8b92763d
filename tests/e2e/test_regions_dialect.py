"""Seed ``004``'s Kubernetes-style jobs API (``/v1/regions/{region}/jobs``) on a real cluster: every request
and response example of the seed (``seeds/004_regions_jobs.json``, copied verbatim from it), answered
verbatim — the values the server makes (ids, versions, times, its volumes' paths) compared by shape."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import wait_until

SEED = json.loads((Path(__file__).parent / "seeds" / "004_regions_jobs.json").read_text())
# What the server makes up: compared by type, not value.
GENERATED = re.compile(r".*uid|.*\.resourceVersion|.*metadata\.creationTimestamp|.*status\.\w*Time"
                       r"|.*status\.conditions\[\d+\]\.last\w+|instance_names\[\d+\]|.*\.hostPath\.path"
                       r"|.*\.volumes\[1\]\.name|.*\.volumeMounts\[1\]\.name")


def like(example: Any, actual: Any, path: str = "") -> None:
    """``actual`` has every field of ``example`` with its value (generated ones: its type)."""
    where = path.lstrip(".")
    if isinstance(example, dict):
        assert isinstance(actual, dict), (where, actual)
        for key, value in example.items():
            assert key in actual, f"{where}: no {key!r} in {sorted(actual)}"
            like(value, actual[key], f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list) and len(actual) == len(example), (where, actual)
        for index, (one, other) in enumerate(zip(example, actual, strict=True)):
            like(one, other, f"{path}[{index}]")
    elif example is not None and GENERATED.fullmatch(where):
        assert type(actual) is type(example), (where, actual)
    else:
        assert actual == example, (where, actual, example)


def _document(image: str, command: list[str], **limits: str) -> dict[str, Any]:
    return {"containers": [{"image": image, "command": command, "resources": {"limits": limits}}]}


def _finished(api: httpx.Client, region: str, name: str) -> dict[str, Any] | None:
    job = api.get(f"/v1/regions/{region}/jobs/{name}").json()
    return job if job["status"].get("conditions") else None


def test_the_seeds_examples_are_answered_verbatim(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent(cpus=2, mem=2048)
    cluster.wait_agents(1)
    perl = "index.tenxcloud.com/tenxcloud/perl_job:latest"
    with master.http() as api:
        # POST .../jobs/{job_name} with the seed's job.json: the seed's answer.
        created = api.post("/v1/regions/eu/jobs/job-api", json=SEED["create_request"])
        assert created.status_code == 201, created.text
        like(SEED["create_response"], created.json())
        # The jobs of the seed's list and detail examples (their pods ran the image's own command; ours
        # need one: shown, beyond the example's fields).
        for region, name in (("us", "job"), ("eu", "myjob")):
            answer = api.post(f"/v1/regions/{region}/jobs/{name}",
                              json=_document(perl, ["true"], cpu="125m", memory="512Mi"))
            assert answer.status_code == 201, answer.text
        for region, name in (("us", "job"), ("eu", "myjob"), ("eu", "job-api")):
            done = wait_until(lambda r=region, n=name: _finished(api, r, n), 60, message=f"{name} ran")
            assert done["status"]["conditions"][0]["type"] == "Complete", done["status"]

        # GET .../jobs: the region's jobs.
        listed = api.get("/v1/regions/us/jobs")
        assert listed.status_code == 200
        like(SEED["list_response"], listed.json())
        # GET .../jobs/{job_name}: with its instances.
        detail = api.get("/v1/regions/eu/jobs/myjob")
        assert detail.status_code == 200
        like(SEED["get_response"], detail.json())
        assert re.fullmatch(r"myjob-[0-9a-z]{5}", detail.json()["instance_names"][0])

        # GET .../instances/{instance_name}/logs?date=&from=&size=: the instance's lines.
        (instance,) = api.get("/v1/regions/eu/jobs/job-api").json()["instance_names"]
        today = dt.datetime.now(dt.UTC).strftime("%Y.%m.%d")
        logs = api.get(f"/v1/regions/eu/jobs/job-api/instances/{instance}/logs",
                       params={"date": today, "from": 0, "size": 100})
        assert logs.status_code == 200 and logs.json() == ["test-cmd"], logs.text
        assert all(isinstance(line, str) for line in SEED["logs_response"])  # the seed's shape: strings
        assert api.get(f"/v1/regions/eu/jobs/job-api/instances/{instance}/logs",
                       params={"date": "2015.12.29"}).json() == []

        # DELETE .../jobs/{job-name}: the seed's answer; the job is gone.
        deleted = api.delete("/v1/regions/eu/jobs/job-api")
        assert deleted.status_code == 200 and deleted.json() == SEED["delete_response"]
        assert api.get("/v1/regions/eu/jobs/job-api").status_code == 404
        assert api.get("/job/jobs/job-api").status_code == 404


def test_what_this_api_refuses_and_what_it_does_not_see(cluster: Cluster) -> None:
    master = cluster.start_master()
    with master.http() as api:
        native = {"jobName": "native", "appURL": "", "scriptCommandLine": "true", "cron": "0 0 0 1 1 ? 2099",
                  "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 32}
        assert api.post("/job/register", json=native).status_code == 204
        before = api.get("/job/jobs").json()
        good = _document("busybox", ["echo", "hi"], memory="64Mi")
        bad = [
            ({}, "containers"),
            ({"containers": []}, "containers"),
            (_document("busybox", []), "containers.0.command"),
            (_document("busybox", ["true"], cpu="lots"), "containers.0.resources.limits.cpu"),
            (_document("busybox", ["true"], memory="-1Mi"), "containers.0.resources.limits.memory"),
            ({**good, "completions": 0}, "completions"),
            ({"containers": [{**good["containers"][0], "env": [{"name": "A", "value": "1"},
                                                               {"name": "A", "value": "2"}]}]},
             "containers.0.env.1.name"),
            ({"containers": [{**good["containers"][0], "env": [{"name": "1=x", "value": "1"}]}]},
             "containers.0.env"),
        ]
        for body, field in bad:
            refused = api.post("/v1/regions/us/jobs/bad", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert field in {d["path"] for d in refused.json()["details"]}, (field, refused.json())
        assert api.post("/v1/regions/us/jobs/bad", content=b"{", headers={"content-type": "application/json"}
                        ).status_code == 400
        assert api.post("/v1/regions/us/jobs/no%20spaces", json=good).status_code == 422
        assert api.get("/job/jobs").json() == before  # nothing was registered

        assert api.post("/v1/regions/us/jobs/twice", json=good).status_code == 201
        assert api.post("/v1/regions/us/jobs/twice", json=good).status_code == 409
        assert api.post("/v1/regions/us/jobs/native", json=good).status_code == 409
        # A job of another API, or of another region, is not one of this API's.
        for path in ("/v1/regions/us/jobs/native", "/v1/regions/eu/jobs/twice",
                     "/v1/regions/us/jobs/nothing"):
            assert api.get(path).status_code == 404, path
            assert api.delete(path).status_code == 404, path
        assert [j["metadata"]["name"] for j in api.get("/v1/regions/us/jobs").json()["jobs"]] == ["twice"]
        assert api.get("/v1/regions/eu/jobs").json() == {"jobs": []}
        assert api.get("/job/jobs/native").status_code == 200


def test_its_jobs_are_changed_through_it_not_through_metronomes_put(cluster: Cluster) -> None:
    """/v1/jobs shows this dialect's jobs too, but a Metronome PUT would leave this dialect's own document
    of the job (its containers) stale: refused with a 409, and nothing changes."""
    master = cluster.start_master()
    with master.http() as api:
        body = _document("busybox", ["true"], cpu="125m", memory="64Mi")
        assert api.post("/v1/regions/us/jobs/drift", json=body).status_code == 201
        before = api.get("/v1/regions/us/jobs/drift").json()
        native = api.get("/job/jobs/drift")
        assert native.status_code == 200, native.text
        shown = api.get("/v1/jobs/drift")
        assert shown.status_code == 200, shown.text
        changed = {**shown.json(), "run": {**shown.json()["run"], "mem": 256}}
        refused = api.put("/v1/jobs/drift", json=changed)
        assert refused.status_code == 409, refused.text
        assert "regions API" in refused.json()["message"] and refused.json()["id"] == "drift"
        assert api.get("/job/jobs/drift").json() == native.json()
        assert api.get("/v1/regions/us/jobs/drift").json() == before
