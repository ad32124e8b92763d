"""The native ``/app`` API against a real master process and a real ZooKeeper, over real HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient

from tests.integration.api_helpers import app_body, zk_state

pytestmark = pytest.mark.zk

APP_DEFAULTS = {"cpuCount": 1.0, "memoryMB": 128.0, "appCacheEnable": True, "eventTraceSamplingCount": 0}






def unique(prefix: str = "app") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"




def job_body(name: str, app: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobName": name,
        "appName": app,
        "cron": "0 0 0 1 1 ? 2099",  # never fires during the tests
        "shardingTotalCount": 2,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
    }
    body.update(overrides)
    return body


def assert_error(response: httpx.Response, status: int, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "details"}
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    for detail in body["details"]:
        assert set(detail) == {"path", "errors"}
        assert detail["errors"] and all(isinstance(e, str) for e in detail["errors"])
    if path is not None:
        assert path in [d["path"] for d in body["details"]], body
    return body


def add_app(api: httpx.Client, body: dict[str, Any], prefix: str = "") -> None:
    response = api.post(f"{prefix}/app", json=body)
    assert response.status_code == 204, response.text
    assert response.content == b""


def add_job(api: httpx.Client, body: dict[str, Any]) -> None:
    response = api.post("/job/register", json=body)
    assert response.status_code == 204, response.text








def test_register_app_applies_the_defaults(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    add_app(api, app_body(name))
    response = api.get(f"/app/{name}")
    assert response.status_code == 200
    assert response.json() == {**app_body(name), **APP_DEFAULTS}
    assert json.loads(zk.get(f"{root}/config/app/{name}")[0]) == response.json()


def test_register_app_keeps_the_given_resources(api: httpx.Client) -> None:
    name = unique()
    body = app_body(name, cpuCount=2.5, memoryMB=512.0, appCacheEnable=False, eventTraceSamplingCount=10)
    add_app(api, body)
    assert api.get(f"/app/{name}").json() == body


def test_registering_an_existing_app_is_a_conflict(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    add_app(api, app_body(name))
    before = zk_state(zk, root)
    body = assert_error(api.post("/app", json=app_body(name, cpuCount=4.0)), 409)
    assert name in body["message"]
    assert zk_state(zk, root) == before
    assert api.get(f"/app/{name}").json()["cpuCount"] == 1.0


def test_register_app_requires_a_bootstrap_script(api: httpx.Client, zk: KazooClient, root: str) -> None:
    before = zk_state(zk, root)
    body = app_body(unique())
    del body["bootstrapScript"]
    assert_error(api.post("/app", json=body), 422, "bootstrapScript")
    assert zk_state(zk, root) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpuCount", 0),
        ("memoryMB", 0),
        ("eventTraceSamplingCount", -1),
        ("appURL", "ftp://host/x.tar.gz"),
        ("appURL", "http:///no-host"),
        ("appName", "a/b"),
        ("appCacheEnable", "yes"),
    ],
)
def test_register_app_rejects_invalid_fields(
    api: httpx.Client, zk: KazooClient, root: str, field: str, value: Any
) -> None:
    before = zk_state(zk, root)
    assert_error(api.post("/app", json=app_body(unique(), **{field: value})), 422, field)
    assert zk_state(zk, root) == before


def test_update_app_changes_are_visible(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    add_app(api, app_body(name))
    changed = app_body(name, appURL="http://app_host:8080/v2.tar.gz", cpuCount=2.0, memoryMB=256.0)
    response = api.put("/app", json=changed)
    assert response.status_code == 204, response.text
    assert api.get(f"/app/{name}").json() == {**APP_DEFAULTS, **changed}
    assert json.loads(zk.get(f"{root}/config/app/{name}")[0])["appURL"] == "http://app_host:8080/v2.tar.gz"


def test_update_of_an_unknown_app_is_not_found(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    before = zk_state(zk, root)
    body = assert_error(api.put("/app", json=app_body(name)), 404)
    assert name in body["message"]
    assert zk_state(zk, root) == before


def test_app_list_holds_every_registered_app(api: httpx.Client) -> None:
    names = [unique(), unique()]
    for name in names:
        add_app(api, app_body(name))
    response = api.get("/app/list")
    assert response.status_code == 200
    listed = {app["appName"]: app for app in response.json()}
    for name in names:
        assert listed[name] == api.get(f"/app/{name}").json()


def test_app_detail_of_an_unknown_app_is_a_json_404(api: httpx.Client) -> None:
    name = unique()
    assert name in assert_error(api.get(f"/app/{name}"), 404)["message"]


def test_delete_an_unused_app(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    add_app(api, app_body(name))
    assert api.post(f"/app/{name}/disable").status_code == 204
    response = api.delete(f"/app/{name}")
    assert response.status_code == 204, response.text
    assert_error(api.get(f"/app/{name}"), 404)
    assert name not in {a["appName"] for a in api.get("/app/list").json()}
    assert zk.exists(f"{root}/config/app/{name}") is None
    assert zk.exists(f"{root}/state/disable/app/{name}") is None


def test_delete_of_an_unknown_app_is_not_found(api: httpx.Client, zk: KazooClient, root: str) -> None:
    before = zk_state(zk, root)
    assert_error(api.delete(f"/app/{unique()}"), 404)
    assert_error(api.delete(f"/app/{unique()}", params={"cascade": "true"}), 404)
    assert zk_state(zk, root) == before


@pytest.mark.parametrize("params", [None, {"cascade": "false"}])
def test_delete_of_an_app_in_use_is_a_conflict(
    api: httpx.Client, zk: KazooClient, root: str, params: dict[str, str] | None
) -> None:
    app, job = unique(), unique("job")
    add_app(api, app_body(app))
    add_job(api, job_body(job, app))
    before = zk_state(zk, root)
    body = assert_error(api.delete(f"/app/{app}", params=params), 409)
    assert job in body["message"]
    assert zk_state(zk, root) == before
    assert api.get(f"/app/{app}").status_code == 200


def test_cascade_delete_removes_the_app_and_its_jobs(api: httpx.Client, zk: KazooClient, root: str) -> None:
    app, jobs, bystander = unique(), [unique("job"), unique("job")], unique("job")
    add_app(api, app_body(app))
    for job in jobs:
        add_job(api, job_body(job, app))
    bystander_body = job_body(bystander, bystander, appURL="http://app_host/b.tar.gz")
    del bystander_body["appName"]  # single-step form: an app of its own
    add_job(api, bystander_body)
    trigger = api.post("/job/trigger", content=jobs[0].encode(), headers={"Content-Type": "text/plain"})
    assert trigger.status_code == 204
    assert api.post(f"/job/{jobs[1]}/disable").status_code == 204
    assert api.post(f"/app/{app}/disable").status_code == 204

    response = api.delete(f"/app/{app}", params={"cascade": "true"})
    assert response.status_code == 204, response.text

    assert_error(api.get(f"/app/{app}"), 404)
    for job in jobs:
        assert_error(api.get(f"/job/jobs/{job}"), 404)
        assert zk.exists(f"{root}/config/job/{job}") is None
    assert zk.exists(f"{root}/state/ready/{jobs[0]}") is None
    assert zk.exists(f"{root}/state/disable/job/{jobs[1]}") is None
    assert zk.exists(f"{root}/state/disable/app/{app}") is None
    assert jobs[0] not in {t["jobName"] for t in api.get("/job/tasks/ready").json()}
    assert api.get(f"/job/jobs/{bystander}").status_code == 200  # other apps' jobs are untouched


@pytest.mark.parametrize("enable", ["POST /enable", "DELETE /disable"])  # the latter: Elastic-Job-Cloud's
def test_disable_and_enable_an_app(api: httpx.Client, zk: KazooClient, root: str, enable: str) -> None:
    method, action = enable.split(" /")
    name = unique()
    add_app(api, app_body(name))
    marker = f"{root}/state/disable/app/{name}"
    response = api.get(f"/app/{name}/disable")
    assert response.status_code == 200
    assert response.json() is False

    for _ in range(2):  # idempotent
        assert api.post(f"/app/{name}/disable").status_code == 204
        assert api.get(f"/app/{name}/disable").json() is True
        assert zk.exists(marker)
    for _ in range(2):
        response = api.request(method, f"/app/{name}/{action}")
        assert response.status_code == 204 and response.content == b"", response.text
        assert api.get(f"/app/{name}/disable").json() is False
        assert zk.exists(marker) is None


@pytest.mark.parametrize(
    ("method", "action"), [("GET", "disable"), ("POST", "disable"), ("POST", "enable"), ("DELETE", "disable")]
)
def test_disable_routes_of_an_unknown_app_are_not_found(
    api: httpx.Client, zk: KazooClient, root: str, method: str, action: str
) -> None:
    before = zk_state(zk, root)
    assert_error(api.request(method, f"/app/{unique()}/{action}"), 404)
    assert zk_state(zk, root) == before


def test_every_app_route_also_works_under_the_api_prefix(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    add_app(api, app_body(name), prefix="/api")
    assert api.get(f"/api/app/{name}").json() == {**app_body(name), **APP_DEFAULTS}
    assert name in {a["appName"] for a in api.get("/api/app/list").json()}
    assert api.put("/api/app", json=app_body(name, memoryMB=64.0)).status_code == 204
    assert api.get(f"/app/{name}").json()["memoryMB"] == 64.0
    assert api.post(f"/api/app/{name}/disable").status_code == 204
    assert api.get(f"/api/app/{name}/disable").json() is True
    assert api.post(f"/api/app/{name}/enable").status_code == 204
    assert api.get(f"/api/app/{name}/disable").json() is False

    job = unique("job")
    add_job(api, job_body(job, name))
    assert_error(api.delete(f"/api/app/{name}"), 409)
    assert api.delete(f"/api/app/{name}", params={"cascade": "true"}).status_code == 204
    assert zk.exists(f"{root}/config/app/{name}") is None
    assert zk.exists(f"{root}/config/job/{job}") is None
