"""Issue 11's core features on the native API, against a real master and a real ZooKeeper: namespaces,
schedule dialects (ISO 8601 and Unix cron beside Quartz), the schedule switch, named resource sizes, and
who created a job and when it was created and updated."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient

from elasticjob.security.secrets import hash_secret
from tests.integration.test_api_jobs import NEVER, assert_error, job_body, register, trigger, znode_json
from tests.support import ApiUsers, MasterProcess

pytestmark = pytest.mark.zk

PASSWORD = "a long enough password"
# What the original Elastic-Job-Cloud answered for a job (and the computed fields of this master's view).
ORIGINAL_FIELDS = {
    "jobName", "cron", "jobExecutionType", "shardingTotalCount", "shardingItemParameters", "jobParameter",
    "cpuCount", "memoryMB", "appURL", "failover", "misfire", "maxPendingFirings", "shardRetryLimit",
    "shardRetryBackoffSeconds", "concurrencyPolicy", "description", "jobType", "streamingProcess",
    "environment", "timeZone", "constraints", "nextFireTime", "pendingFirings", "missedFirings",
}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- namespaces ----------------------------------------------------------------------------------------


def test_job_lists_filter_by_namespace_directly_in_it(api: httpx.Client) -> None:
    space = unique("ns")
    names = [f"{space}.a", f"{space}.b", f"{space}.inner.c", f"{space}x.d"]
    for name in names:
        register(api, job_body(name))
    for prefix in ("", "/api"):
        listed = api.get(f"{prefix}/job/jobs", params={"namespace": space})
        assert listed.status_code == 200
        assert [j["jobName"] for j in listed.json()] == [f"{space}.a", f"{space}.b"]  # not the nested one
        assert listed.headers["x-total-count"] == "2"
        assert all("namespace" not in j for j in listed.json())  # no field added to the native job
    nested = api.get("/job/jobs", params={"namespace": f"{space}.inner"}).json()
    assert [j["jobName"] for j in nested] == [f"{space}.inner.c"]
    page = api.get("/job/jobs", params={"namespace": space, "page": 1, "per_page": 1})
    assert [j["jobName"] for j in page.json()] == [f"{space}.a"]
    assert page.headers["link"] == f'</job/jobs?namespace={space}&page=2&per_page=1>; rel="next"'
    undotted = unique("plain")
    register(api, job_body(undotted))
    assert undotted in [j["jobName"] for j in api.get("/job/jobs", params={"namespace": "default"}).json()]
    assert_error(api.get("/job/jobs", params={"namespace": "a/b"}), 422, "namespace")


# ---- schedule dialects ---------------------------------------------------------------------------------


def test_an_iso_8601_schedule_fires_its_repetitions_and_no_more(api: httpx.Client) -> None:
    name = unique("iso")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    register(api, job_body(name, cron=f"R2/{iso(start)}/PT1H"))
    detail = api.get(f"/job/jobs/{name}").json()
    assert dt.datetime.fromisoformat(detail["nextFireTime"]) == start
    assert "cronDialect" not in detail  # told by the schedule's form
    firings = api.get(f"/job/jobs/{name}/firings", params={"count": 5}).json()["firings"]
    assert [dt.datetime.fromisoformat(f) for f in firings] == [start, start + dt.timedelta(hours=1)]


def test_an_iso_schedule_with_nothing_left_to_fire_is_refused(api: httpx.Client) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    body = assert_error(api.post("/job/register", json=job_body(unique("iso"), cron=f"R3/{iso(past)}/PT1H")),
                        422, "cron")
    assert "never fires" in body["message"]
    # A start in the past with repetitions still to come: only those from now on.
    name = unique("iso")
    register(api, job_body(name, cron=f"R/{iso(past)}/P1D"))
    upcoming = dt.datetime.fromisoformat(api.get(f"/job/jobs/{name}").json()["nextFireTime"])
    assert dt.timedelta(0) < upcoming - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)


def test_unix_cron_is_told_by_its_five_fields_and_quartz_stays_as_it_was(api: httpx.Client) -> None:
    unix, quartz = unique("unix"), unique("quartz")
    register(api, job_body(unix, cron="0 0 1 1 *"))  # midnight on 1 January
    register(api, job_body(quartz, cron="0 0 0 1 1 ?"))
    for name in (unix, quartz):
        upcoming = dt.datetime.fromisoformat(api.get(f"/job/jobs/{name}").json()["nextFireTime"])
        assert (upcoming.month, upcoming.day, upcoming.hour, upcoming.minute, upcoming.second) == (1, 1, 0, 0, 0)
    assert_error(api.post("/job/register", json=job_body(unique("bad"), cron="0 0 1 1 *", cronDialect="QUARTZ")),
                 422, "cron")
    daemon = job_body(unique("daemon"), cron="0 0 1 1 *", jobExecutionType="DAEMON")
    assert_error(api.post("/job/register", json=daemon), 422, "cron")


# ---- the schedule switch -------------------------------------------------------------------------------


def test_a_switched_off_schedule_has_no_next_firing_but_runs_by_hand(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique("off")
    register(api, job_body(name, cron="0/5 * * * * ?", scheduleActive=False))
    assert znode_json(zk, f"{root}/config/job/{name}")["scheduleActive"] is False
    detail = api.get(f"/job/jobs/{name}").json()
    assert detail["scheduleActive"] is False and "nextFireTime" not in detail
    firings = api.get(f"/job/jobs/{name}/firings").json()
    assert firings["firings"] == [] and firings["scheduleActive"] is False
    assert api.get(f"/job/{name}/disable").json() is False  # not the same as disabled ...
    assert trigger(api, name).status_code == 204  # ... a manual run is allowed
    # Switched on again: the field is gone and the schedule fires.
    response = api.put("/job/update", json=job_body(name, cron="0/5 * * * * ?", scheduleActive=True))
    assert response.status_code == 204, response.text
    detail = api.get(f"/job/jobs/{name}").json()
    assert "scheduleActive" not in detail and "nextFireTime" in detail


# ---- named resource sizes ------------------------------------------------------------------------------


def test_a_named_size_stands_for_cpu_and_memory(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique("sized")
    register(api, job_body(name, cpuCount=None, memoryMB=None, resourceSize="S"))
    stored = znode_json(zk, f"{root}/config/job/{name}")
    assert (stored["resourceSize"], stored["cpuCount"], stored["memoryMB"]) == ("S", 0.5, 256.0)
    detail = api.get(f"/job/jobs/{name}").json()
    assert (detail["resourceSize"], detail["cpuCount"], detail["memoryMB"]) == ("S", 0.5, 256.0)
    # What a client read it can write back unchanged; numbers that disagree with the size are refused.
    resent = {k: v for k, v in detail.items() if k not in {"nextFireTime", "pendingFirings", "missedFirings"}}
    assert api.put("/job/update", json=resent).status_code == 204
    body = assert_error(api.put("/job/update", json={**resent, "memoryMB": 512}), 422, "memoryMB")
    assert "resourceSize S" in body["message"]
    assert_error(api.post("/job/register", json=job_body(unique("sized"), resourceSize="XXL")), 422,
                 "resourceSize")
    assert znode_json(zk, f"{root}/config/job/{name}")["memoryMB"] == 256.0  # the refused update changed nothing


def test_a_job_without_extensions_answers_exactly_the_original_fields(api: httpx.Client) -> None:
    name = unique("plain")
    register(api, job_body(name, cron="0/5 * * * * ?"))
    assert set(api.get(f"/job/jobs/{name}").json()) == ORIGINAL_FIELDS
    assert set(next(j for j in api.get("/job/jobs").json() if j["jobName"] == name)) == (
        ORIGINAL_FIELDS - {"nextFireTime", "pendingFirings", "missedFirings"})


# ---- creator and created/updated times -----------------------------------------------------------------


def meta(api: httpx.Client, name: str) -> dict[str, Any]:
    response = api.get(f"/job/jobs/{name}/meta")
    assert response.status_code == 200, response.text
    return response.json()


def test_created_and_updated_times_are_kept_beside_the_job(
    api: httpx.Client, api_master: MasterProcess, zk: KazooClient, root: str
) -> None:
    name = unique("meta")
    before = dt.datetime.now(dt.UTC)
    register(api, job_body(name))
    created = meta(api, name)
    if api_master.users is None:  # no createdBy without authentication
        assert set(created) == {"jobName", "createdAt", "updatedAt"}
    else:  # the suite's admin registered it
        assert set(created) == {"jobName", "createdAt", "updatedAt", "createdBy"}
        assert created["createdBy"] == ApiUsers.ADMIN
    created_at = dt.datetime.fromisoformat(created["createdAt"])
    assert before <= created_at <= dt.datetime.now(dt.UTC) and created["updatedAt"] == created["createdAt"]
    assert znode_json(zk, f"{root}/config/job-meta/{name}") == {k: v for k, v in created.items() if k != "jobName"}
    assert not {"createdAt", "updatedAt", "createdBy"} & set(api.get(f"/job/jobs/{name}").json())
    assert api.put("/job/update", json=job_body(name, description="changed")).status_code == 204
    updated = meta(api, name)
    assert updated["createdAt"] == created["createdAt"] and updated["updatedAt"] > created["updatedAt"]
    # Writing back what is stored changes nothing: no write to ZooKeeper, the time of the last change stays.
    _, stat = zk.get(f"{root}/config/job/{name}")
    assert api.put("/job/update", json=job_body(name, description="changed")).status_code == 204
    assert meta(api, name) == updated and zk.get(f"{root}/config/job/{name}")[1].version == stat.version
    # Not writable by clients: the job has no such fields.
    assert_error(api.put("/job/update", json=job_body(name, createdAt="2000-01-01T00:00:00Z")), 422, "createdAt")
    response = api.request("DELETE", "/job/deregister", content=name.encode(),
                           headers={"Content-Type": "application/text"})
    assert response.status_code == 204
    assert zk.exists(f"{root}/config/job-meta/{name}") is None
    assert_error(api.get(f"/job/jobs/{name}/meta"), 404)


@pytest.fixture(scope="module")
def auth_master(zk_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    work = Path(tmp_path_factory.mktemp("auth-master"))
    auth = work / "auth.toml"
    auth.write_text(f'[[users]]\nname = "alice"\nrole = "admin"\npassword_hash = "{hash_secret(PASSWORD)}"\n')
    master = MasterProcess(zk_hosts, f"meta-{uuid.uuid4().hex[:10]}", work, "--auth-file", str(auth))
    master.start()
    yield master
    master.stop()


def test_the_creator_is_the_authenticated_user_on_either_api(auth_master: MasterProcess) -> None:
    with httpx.Client(base_url=auth_master.url, timeout=15, auth=("alice", PASSWORD)) as api:
        native = unique("team.native")
        register(api, job_body(native, cron=NEVER))
        assert meta(api, native)["createdBy"] == "alice"
        v1 = f"team.metronome-{uuid.uuid4().hex[:8]}"
        response = api.post("/v1/jobs", json={"id": v1, "run": {"cmd": "true", "cpus": 0.1, "mem": 32}})
        assert response.status_code == 201, response.text
        assert meta(api, v1)["createdBy"] == "alice"
