"""The native ``/job`` API against a real master process and a real ZooKeeper, over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient

from elasticjob.model.failover import FailoverCause, FailoverEntry
from tests.integration.api_helpers import app_body, zk_state
from tests.support import MasterProcess, wait_until

pytestmark = pytest.mark.zk

# The seed's curl examples, byte for byte.
SEED_REGISTER_BODY = (
    b'{"jobName":"foo_job","cron":"0/5 * * * * ?","shardingTotalCount":5,"cpuCount":0.1,"memoryMB":64.0,'
    b'"dockerImageName":"","appURL":"http://app_host:8080/foo-job.tar.gz","failover":true,"misfire":true}'
)
SEED_UNREGISTER_BODY = b"foo_job"
# Never fires while the tests run, so a scheduling leader queues no cron firings: ready counts only triggers.
NEVER = "0 0 0 1 1 ? 2099"
# Read-only fields the detail route computes from the schedule; everything else is the stored configuration.
COMPUTED_FIELDS = {"nextFireTime", "lastFireTime", "pendingFirings", "missedFirings"}






def unique(prefix: str = "job") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def job_body(name: str, **overrides: Any) -> dict[str, Any]:
    """A valid single-step job (its own appURL) unless ``overrides`` say otherwise."""
    body: dict[str, Any] = {
        "jobName": name,
        "cron": NEVER,
        "shardingTotalCount": 3,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}




def assert_error(response: httpx.Response, status: int, path: str | None = None) -> dict[str, Any]:
    """The response is the API's JSON error with ``status`` (and a detail for ``path`` if given)."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "details"}
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    for detail in body["details"]:
        assert set(detail) == {"path", "errors"}
        assert isinstance(detail["path"], str)
        assert detail["errors"] and all(isinstance(e, str) and e for e in detail["errors"])
    if path is not None:
        assert path in [d["path"] for d in body["details"]], body
    return body


def text_delete(
    api: httpx.Client, path: str, name: str, content_type: str = "application/text"
) -> httpx.Response:
    return api.request("DELETE", path, content=name.encode(), headers={"Content-Type": content_type})


def trigger(api: httpx.Client, name: str, prefix: str = "") -> httpx.Response:
    return api.post(
        f"{prefix}/job/trigger", content=name.encode(), headers={"Content-Type": "application/text"}
    )


def register(api: httpx.Client, body: dict[str, Any], prefix: str = "") -> None:
    response = api.post(f"{prefix}/job/register", json=body)
    assert response.status_code == 204, response.text
    assert response.content == b""


def ready_times(api: httpx.Client, name: str, prefix: str = "") -> str | None:
    """``times`` of the job's entry in ``GET /job/tasks/ready`` (a string, like the original), or None."""
    response = api.get(f"{prefix}/job/tasks/ready")
    assert response.status_code == 200
    matches = [entry for entry in response.json() if entry["jobName"] == name]
    assert len(matches) <= 1
    if not matches:
        return None
    assert set(matches[0]) - {"reason"} == {"jobName", "times"}  # `reason`: why it waits, if known
    assert isinstance(matches[0]["times"], str)
    return matches[0]["times"]








def znode_json(zk: KazooClient, path: str) -> Any:
    data, _ = zk.get(path)
    return json.loads(data)


def configuration(detail: dict[str, Any]) -> dict[str, Any]:
    """A ``GET /job/jobs/{name}`` answer without its computed fields."""
    return {k: v for k, v in detail.items() if k not in COMPUTED_FIELDS}


# ---- register / unregister ----------------------------------------------------------------------------


def test_seed_register_then_unregister_with_the_exact_curl_bodies(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    response = api.post(
        "/job/register", content=SEED_REGISTER_BODY, headers={"Content-type": "application/json"}
    )
    assert response.status_code == 204, response.text
    assert response.content == b""

    job = api.get("/job/jobs/foo_job").json()
    submitted = json.loads(SEED_REGISTER_BODY)
    assert {k: job[k] for k in submitted} == submitted
    assert zk.exists(f"{root}/config/job/foo_job")
    app = api.get("/app/foo_job")
    assert app.status_code == 200
    assert app.json()["appURL"] == "http://app_host:8080/foo-job.tar.gz"

    response = api.request(
        "DELETE",
        "/job/unregister",
        content=SEED_UNREGISTER_BODY,
        headers={"Content-type": "application/text"},
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_error(api.get("/job/jobs/foo_job"), 404)
    assert_error(api.get("/app/foo_job"), 404)
    assert zk.exists(f"{root}/config/job/foo_job") is None
    assert zk.exists(f"{root}/config/app/foo_job") is None


def test_single_step_form_implies_an_app_named_like_the_job(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    register(api, job_body(name))

    app = api.get(f"/app/{name}")
    assert app.status_code == 200
    assert app.json() == {
        "appName": name,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
        "bootstrapScript": "bin/start.sh",
        "cpuCount": 1.0,
        "memoryMB": 128.0,
        "appCacheEnable": True,
        "eventTraceSamplingCount": 0,
    }
    # ZooKeeper also records which job's registration created the app (never shown by the API), so the
    # app is removed with its last job only when it was implied, not when it was registered with POST /app.
    assert znode_json(zk, f"{root}/config/app/{name}") == {**app.json(), "impliedBy": name}
    assert "impliedBy" not in app.json()
    assert "appName" not in api.get(f"/job/jobs/{name}").json()


def test_single_step_form_uses_the_jobs_bootstrap_script_for_the_implied_app(api: httpx.Client) -> None:
    name = unique()
    register(api, job_body(name, bootstrapScript="bin/run-me.sh"))
    assert api.get(f"/app/{name}").json()["bootstrapScript"] == "bin/run-me.sh"


def test_two_step_form_registers_a_job_in_an_existing_app(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    app_name, name = unique("app"), unique()
    assert api.post("/app", json=app_body(app_name, cpuCount=2.0)).status_code == 204
    app_before = api.get(f"/app/{app_name}").json()

    register(api, job_body(name, appURL=None, appName=app_name))

    job = api.get(f"/job/jobs/{name}").json()
    assert job["appName"] == app_name
    assert "appURL" not in job
    assert api.get(f"/app/{app_name}").json() == app_before  # the app is used, not changed
    assert_error(api.get(f"/app/{name}"), 404)  # and no app is implied

    # Removing the job leaves the explicitly registered app in place.
    assert text_delete(api, "/job/unregister", name).status_code == 204
    assert zk.exists(f"{root}/config/job/{name}") is None
    assert api.get(f"/app/{app_name}").json() == app_before


def test_deregister_is_an_alias_of_unregister(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    register(api, job_body(name))
    response = text_delete(api, "/job/deregister", name)
    assert response.status_code == 204, response.text
    assert_error(api.get(f"/job/jobs/{name}"), 404)
    assert_error(api.get(f"/app/{name}"), 404)
    assert zk.exists(f"{root}/config/job/{name}") is None


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "{name}"),
        ("application/json", '"{name}"'),
        ("application/x-www-form-urlencoded", "{name}"),  # curl -d without -H
        ("application/text", "  {name}\n"),
    ],
)
def test_unregister_accepts_the_name_as_text_or_json_string(
    api: httpx.Client, content_type: str, body: str
) -> None:
    name = unique()
    register(api, job_body(name))
    response = api.request(
        "DELETE",
        "/job/unregister",
        content=body.format(name=name).encode(),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 204, response.text
    assert_error(api.get(f"/job/jobs/{name}"), 404)


def test_unregister_keeps_the_implied_app_while_another_job_uses_it(api: httpx.Client) -> None:
    owner, other = unique(), unique()
    register(api, job_body(owner))
    register(api, job_body(other, appURL=None, appName=owner))

    assert text_delete(api, "/job/unregister", owner).status_code == 204
    assert_error(api.get(f"/job/jobs/{owner}"), 404)
    assert api.get(f"/app/{owner}").status_code == 200
    assert api.get(f"/job/jobs/{other}").json()["appName"] == owner


def test_unregister_removes_the_jobs_disable_marker_and_ready_queue(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    register(api, job_body(name))
    assert trigger(api, name).status_code == 204
    assert api.post(f"/job/{name}/disable").status_code == 204
    assert zk.exists(f"{root}/state/ready/{name}")
    assert zk.exists(f"{root}/state/disable/job/{name}")

    assert text_delete(api, "/job/unregister", name).status_code == 204
    assert zk.exists(f"{root}/state/ready/{name}") is None
    assert zk.exists(f"{root}/state/disable/job/{name}") is None
    assert ready_times(api, name) is None


def test_reregistering_an_existing_job_is_a_conflict(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    register(api, job_body(name))
    before = zk_state(zk, root)
    body = assert_error(api.post("/job/register", json=job_body(name, shardingTotalCount=7)), 409)
    assert name in body["message"]
    assert zk_state(zk, root) == before
    assert api.get(f"/job/jobs/{name}").json()["shardingTotalCount"] == 3


def test_a_job_naming_an_unregistered_app_is_rejected(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    before = zk_state(zk, root)
    assert_error(
        api.post("/job/register", json=job_body(name, appURL=None, appName=unique("app"))), 422, "appName"
    )
    assert zk_state(zk, root) == before


def test_single_step_job_whose_implied_app_exists_with_another_url_is_a_conflict(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    assert (
        api.post("/app", json=app_body(name, appURL="http://elsewhere:8080/other.tar.gz")).status_code == 204
    )
    before = zk_state(zk, root)
    assert_error(api.post("/job/register", json=job_body(name)), 409)
    assert zk_state(zk, root) == before
    assert_error(api.get(f"/job/jobs/{name}"), 404)


def test_single_step_job_may_join_an_existing_app_with_the_same_url(api: httpx.Client) -> None:
    name = unique()
    assert api.post("/app", json=app_body(name, cpuCount=3.0)).status_code == 204
    register(api, job_body(name))
    assert api.get(f"/app/{name}").json()["cpuCount"] == 3.0  # the existing app is not replaced


@pytest.mark.parametrize("explicit_app_name", [False, True])
def test_unregister_keeps_an_app_that_was_registered_explicitly(
    api: httpx.Client, explicit_app_name: bool
) -> None:
    app = unique("app")
    assert api.post("/app", json=app_body(app, cpuCount=3.0)).status_code == 204
    name = unique() if explicit_app_name else app
    body = job_body(name, appURL=app_body(app)["appURL"])
    if explicit_app_name:
        body["appName"] = app  # both appName and appURL, matching the registered app
    register(api, body)
    assert text_delete(api, "/job/unregister", name).status_code == 204
    assert api.get(f"/app/{app}").status_code == 200


# ---- update -------------------------------------------------------------------------------------------


def test_update_changes_are_visible(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    register(api, job_body(name))
    changed = job_body(
        name,
        cron="0 0 12 ? * MON",
        shardingTotalCount=4,
        shardingItemParameters="0=a,3=d",
        description="changed",
        failover=True,
    )
    response = api.put("/job/update", json=changed)
    assert response.status_code == 204, response.text
    assert response.content == b""

    job = api.get(f"/job/jobs/{name}").json()
    assert {k: job[k] for k in changed} == changed
    assert znode_json(zk, f"{root}/config/job/{name}") == configuration(job)


def test_update_of_a_single_step_job_moves_its_implied_app_to_the_new_url(api: httpx.Client) -> None:
    name = unique()
    register(api, job_body(name))
    new_url = "http://app_host:8080/v2.tar.gz"
    assert api.put("/job/update", json=job_body(name, appURL=new_url)).status_code == 204
    assert api.get(f"/app/{name}").json()["appURL"] == new_url
    assert api.get(f"/job/jobs/{name}").json()["appURL"] == new_url


def test_update_of_an_unknown_job_is_not_found(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    before = zk_state(zk, root)
    body = assert_error(api.put("/job/update", json=job_body(name)), 404)
    assert name in body["message"]
    assert zk_state(zk, root) == before  # in particular, no implied app was created


def test_update_with_an_invalid_body_leaves_the_job_unchanged(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    register(api, job_body(name))
    before = zk_state(zk, root)
    assert_error(api.put("/job/update", json=job_body(name, cron="not a cron")), 422, "cron")
    assert_error(api.put("/job/update", json=job_body(name, shardingTotalCount=0)), 422, "shardingTotalCount")
    assert zk_state(zk, root) == before


# ---- reading jobs -------------------------------------------------------------------------------------


def test_job_detail_is_exactly_the_stored_fields_without_nulls(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    submitted = job_body(name, jobParameter="p", environment={"MODE": "fast"}, timeZone="Asia/Shanghai")
    register(api, submitted)

    response = api.get(f"/job/jobs/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    job = response.json()
    stored = znode_json(zk, f"{root}/config/job/{name}")
    assert configuration(job) == stored
    assert set(job) - set(stored) <= COMPUTED_FIELDS
    assert {k: job[k] for k in submitted} == submitted
    assert None not in stored.values()
    assert None not in configuration(job).values()
    for unset in ("appName", "jobClass", "scriptCommandLine", "bootstrapScript", "dockerImageName"):
        assert unset not in job
    # Defaults are stored and returned explicitly.
    assert job["jobExecutionType"] == "TRANSIENT"
    assert job["jobType"] == "SCRIPT"
    assert job["failover"] is False and job["misfire"] is False


def test_job_list_holds_every_registered_job_configuration(api: httpx.Client) -> None:
    names = [unique(), unique()]
    for name in names:
        register(api, job_body(name))
    response = api.get("/job/jobs")
    assert response.status_code == 200
    listed = {job["jobName"]: job for job in response.json()}
    for name in names:
        assert configuration(listed[name]) == configuration(api.get(f"/job/jobs/{name}").json())

    assert text_delete(api, "/job/unregister", names[0]).status_code == 204
    assert names[0] not in {job["jobName"] for job in api.get("/job/jobs").json()}


def test_job_detail_of_an_unknown_job_is_a_json_404(api: httpx.Client) -> None:
    name = unique()
    body = assert_error(api.get(f"/job/jobs/{name}"), 404)
    assert name in body["message"]


def test_job_list_pages_follow_the_name_order_with_total_and_next_link(api: httpx.Client) -> None:
    prefix = unique("paged")
    names = [f"{prefix}_{i}" for i in range(3)]
    for name in names:
        register(api, job_body(name))
    everything = [job["jobName"] for job in api.get("/job/jobs").json()]
    assert everything == sorted(everything)
    total = len(everything)
    position = everything.index(names[0])

    page = api.get("/job/jobs", params={"page": position + 1, "per_page": 1})
    assert page.status_code == 200
    assert [job["jobName"] for job in page.json()] == [names[0]]
    assert page.headers["X-Total-Count"] == str(total)
    if position + 1 < total:
        assert page.headers["Link"] == f'</job/jobs?page={position + 2}&per_page=1>; rel="next"'
    assert api.get("/api/job/jobs", params={"page": position + 1, "per_page": 1}).json() == page.json()

    for bad in ({"page": "0"}, {"page": ""}, {"per_page": "1001"}, {"page": "x"}):
        field = next(iter(bad))
        assert_error(api.get("/job/jobs", params=bad), 422, field)


def test_job_reads_are_counted_in_the_metrics_under_their_route(api: httpx.Client) -> None:
    name = unique()
    register(api, job_body(name))
    one = '{method="GET",route="/job/jobs/{jobName}",status="200"}'
    listed = '{method="GET",route="/job/jobs",status="200"}'
    missing = '{method="GET",route="/job/jobs/{jobName}",status="404"}'

    def counts() -> list[float]:
        text = api.get("/metrics").text
        return [metric(text, "elasticjob_http_requests_total", labels) or 0.0 for labels in (one, listed, missing)]

    before = counts()
    for _ in range(3):
        assert api.get(f"/job/jobs/{name}").status_code == 200
    assert api.get("/job/jobs", params={"page": 1, "per_page": 5}).status_code == 200
    assert api.get(f"/job/jobs/{unique()}").status_code == 404
    assert counts() == [before[0] + 3, before[1] + 1, before[2] + 1]


def metric(text: str, name: str, labels: str) -> float | None:
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", re.MULTILINE)
    match = pattern.search(text)
    return float(match.group(1)) if match else None


# ---- disable / enable ---------------------------------------------------------------------------------


@pytest.mark.parametrize("enable", ["POST /enable", "DELETE /disable"])  # the latter: Elastic-Job-Cloud's
def test_disable_and_enable_a_job(api: httpx.Client, zk: KazooClient, root: str, enable: str) -> None:
    method, action = enable.split(" /")
    name = unique()
    register(api, job_body(name))
    marker = f"{root}/state/disable/job/{name}"

    response = api.get(f"/job/{name}/disable")
    assert response.status_code == 200
    assert response.content.strip() == b"false"
    assert response.json() is False

    for _ in range(2):  # idempotent
        response = api.post(f"/job/{name}/disable")
        assert response.status_code == 204, response.text
        assert api.get(f"/job/{name}/disable").json() is True
        assert zk.exists(marker)

    for _ in range(2):
        response = api.request(method, f"/job/{name}/{action}")
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert api.get(f"/job/{name}/disable").json() is False
        assert zk.exists(marker) is None


@pytest.mark.parametrize(
    ("method", "action"), [("GET", "disable"), ("POST", "disable"), ("POST", "enable"), ("DELETE", "disable")]
)
def test_disable_routes_of_an_unknown_job_are_not_found(
    api: httpx.Client, zk: KazooClient, root: str, method: str, action: str
) -> None:
    before = zk_state(zk, root)
    assert_error(api.request(method, f"/job/{unique()}/{action}"), 404)
    assert zk_state(zk, root) == before


# ---- trigger and task views ---------------------------------------------------------------------------


def test_trigger_queues_firings_visible_in_ready_tasks(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    register(api, job_body(name))
    assert ready_times(api, name) is None

    response = trigger(api, name)
    assert response.status_code == 204, response.text
    assert response.content == b""
    entry = next(e for e in api.get("/job/tasks/ready").json() if e["jobName"] == name)
    assert entry["times"] == "1"  # a string, as Elastic-Job-Cloud answers
    assert zk.exists(f"{root}/state/ready/{name}")

    assert trigger(api, name).status_code == 204
    assert ready_times(api, name) == "2"


def test_trigger_of_a_disabled_job_is_a_conflict(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    register(api, job_body(name))
    assert api.post(f"/job/{name}/disable").status_code == 204
    before = zk_state(zk, root)
    assert_error(trigger(api, name), 409)
    assert zk_state(zk, root) == before
    assert ready_times(api, name) is None

    assert api.post(f"/job/{name}/enable").status_code == 204
    assert trigger(api, name).status_code == 204
    assert ready_times(api, name) == "1"


def test_trigger_of_a_job_whose_app_is_disabled_is_a_conflict(api: httpx.Client) -> None:
    name = unique()
    register(api, job_body(name))
    assert api.post(f"/app/{name}/disable").status_code == 204
    assert_error(trigger(api, name), 409)
    assert ready_times(api, name) is None


def test_trigger_of_a_daemon_job_is_a_conflict(api: httpx.Client, zk: KazooClient, root: str) -> None:
    name = unique()
    register(api, job_body(name, jobExecutionType="DAEMON"))
    before = zk_state(zk, root)
    body = assert_error(trigger(api, name), 409)
    assert "DAEMON" in body["message"]
    assert zk_state(zk, root) == before


def test_trigger_of_an_unknown_job_is_not_found(api: httpx.Client, zk: KazooClient, root: str) -> None:
    before = zk_state(zk, root)
    assert_error(trigger(api, unique()), 404)
    assert zk_state(zk, root) == before


def test_running_and_failover_tasks_are_empty_without_tasks(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    assert zk.get_children(f"{root}/state/running") == []
    assert zk.get_children(f"{root}/state/failover") == []
    for kind in ("running", "failover"):
        response = api.get(f"/job/tasks/{kind}")
        assert response.status_code == 200
        assert response.json() == []


@pytest.fixture
def follower(api_master: MasterProcess, master_factory) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """A second master of the API tests' installation: it follows the records only a leader writes
    (running tasks, failover entries) by watches, where the leader applies its own writes instead."""
    with master_factory(api_master.namespace).http() as client:
        yield client


def test_running_tasks_written_into_zookeeper_show_up(
    api: httpx.Client, follower: httpx.Client, zk: KazooClient, root: str
) -> None:
    """A task znode written straight into ZooKeeper shows up on a follower (its state follows ZooKeeper by
    watches), in Elastic-Job-Cloud's TaskContext shape."""
    job = unique()
    task_ids = [f"{job}@-@{item}@-@READY@-@agent-{item}@-@{uuid.uuid4().hex}" for item in (0, 1)]
    parent = f"{root}/state/running/{job}"
    try:
        for item, task_id in enumerate(task_ids):
            value = {
                "taskId": task_id,
                "jobName": job,
                "shardingItem": item,
                "agentId": f"agent-{item}",
                "kind": "READY",
                "state": "RUNNING",
                "launchedAt": "2024-01-01T00:00:00.000+00:00",
            }
            zk.create(f"{parent}/{task_id}", json.dumps(value).encode(), makepath=True)
        listed = wait_until(lambda: len(follower.get("/job/tasks/running").json()) == 2 and follower.get("/job/tasks/running").json(), 5)
        assert sorted(listed, key=lambda t: t["id"]) == sorted(
            (
                {
                    "id": task_id,
                    "metaInfo": {"jobName": job, "shardingItems": [item]},
                    "type": "READY",
                    "slaveId": f"agent-{item}",
                    "idle": False,
                }
                for item, task_id in enumerate(task_ids)
            ),
            key=lambda t: t["id"],
        )

        zk.delete(f"{parent}/{task_ids[0]}")
        wait_until(lambda: [t["id"] for t in follower.get("/job/tasks/running").json()] == [task_ids[1]], 5)
    finally:
        zk.delete(parent, recursive=True)
    wait_until(lambda: follower.get("/job/tasks/running").json() == [], 5)


def test_failover_tasks_written_into_zookeeper_show_up(
    api: httpx.Client, follower: httpx.Client, zk: KazooClient, root: str
) -> None:
    job = unique()
    register(api, job_body(job))  # a registered job: the scheduler keeps its entries (no agent can take them)
    entries = {
        str(item): FailoverEntry(job, item, "cron-X", f"{job}@-@{item}@-@READY@-@a1@-@u{item}", 1,
                                 FailoverCause.LOST, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        for item in (0, 2)
    }
    views = {item: {"taskInfo": {"jobName": job, "shardingItems": [int(item)]},
                    "originalTaskId": f"{job}@-@{item}@-@READY@-@a1@-@u{item}"} for item in entries}
    parent = f"{root}/state/failover/{job}"
    try:
        for item, entry in entries.items():
            zk.create(f"{parent}/{item}", json.dumps(entry.to_json()).encode(), makepath=True)
        listed = wait_until(lambda: len(follower.get("/job/tasks/failover").json()) == 2 and follower.get("/job/tasks/failover").json(), 5)
        assert sorted(listed, key=lambda t: t["taskInfo"]["shardingItems"]) == [views["0"], views["2"]]

        zk.delete(f"{parent}/0")
        wait_until(lambda: follower.get("/job/tasks/failover").json() == [views["2"]], 5)
    finally:
        zk.delete(parent, recursive=True)
        text_delete(api, "/job/unregister", job)
    wait_until(lambda: follower.get("/job/tasks/failover").json() == [], 5)


# ---- the /api prefix ----------------------------------------------------------------------------------


def test_every_job_route_also_works_under_the_api_prefix(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique()
    register(api, job_body(name), prefix="/api")
    assert api.get(f"/api/job/jobs/{name}").json() == api.get(f"/job/jobs/{name}").json()
    assert name in {job["jobName"] for job in api.get("/api/job/jobs").json()}
    assert_error(api.get(f"/api/job/jobs/{unique()}"), 404)

    assert api.put("/api/job/update", json=job_body(name, shardingTotalCount=9)).status_code == 204
    assert api.get(f"/job/jobs/{name}").json()["shardingTotalCount"] == 9

    assert api.post(f"/api/job/{name}/disable").status_code == 204
    assert api.get(f"/api/job/{name}/disable").json() is True
    assert_error(trigger(api, name, prefix="/api"), 409)
    assert api.post(f"/api/job/{name}/enable").status_code == 204
    assert api.get(f"/api/job/{name}/disable").json() is False

    assert trigger(api, name, prefix="/api").status_code == 204
    assert ready_times(api, name, prefix="/api") == "1"
    assert api.get("/api/job/tasks/running").json() == api.get("/job/tasks/running").json()
    assert api.get("/api/job/tasks/failover").json() == api.get("/job/tasks/failover").json()

    assert text_delete(api, "/api/job/unregister", name).status_code == 204
    assert zk.exists(f"{root}/config/job/{name}") is None

    other = unique()
    register(api, job_body(other), prefix="/api")
    assert text_delete(api, "/api/job/deregister", other).status_code == 204
    assert zk.exists(f"{root}/config/job/{other}") is None


def test_update_to_a_registered_app_removes_the_implied_app_it_leaves(api: httpx.Client) -> None:
    name, shared = unique(), unique("app")
    register(api, job_body(name))  # single-step: implies an app named like the job
    assert api.get(f"/app/{name}").status_code == 200
    assert api.post("/app", json=app_body(shared)).status_code == 204
    moved = job_body(name, appURL=None, appName=shared)
    assert api.put("/job/update", json=moved).status_code == 204
    assert api.get(f"/job/jobs/{name}").json()["appName"] == shared
    assert api.get(f"/app/{name}").status_code == 404  # the implied app went with its only job
    assert api.get(f"/app/{shared}").status_code == 200  # an app registered with POST /app stays
    assert text_delete(api, "/job/unregister", name).status_code == 204
    assert api.get(f"/app/{shared}").status_code == 200
