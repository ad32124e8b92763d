"""Bad input to the real master: always a 4xx JSON error, never a traceback, and ZooKeeper untouched.

Also the operational routes (``/openapi.json``, ``/ping``, ``/leader``, ``/metrics``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient

from tests.integration.api_helpers import zk_state
from tests.support import MasterProcess, wait_until

TEN_MB = 10 * 1024 * 1024






def unique(prefix: str = "job") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def job_body(name: str | None = None, **overrides: Any) -> dict[str, Any]:
    name = name or unique()
    body: dict[str, Any] = {
        "jobName": name,
        "cron": "0 0 0 1 1 ? 2099",  # never fires during the tests
        "shardingTotalCount": 3,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
    }
    body.update(overrides)
    return body


def assert_error(response: httpx.Response, status: int, path: str | None = None) -> dict[str, Any]:
    """``response`` is the API's JSON error: ``{"message": str, "details": [{"path", "errors"}]}``."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "details"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    for detail in body["details"]:
        assert set(detail) == {"path", "errors"}, detail
        assert isinstance(detail["path"], str)
        assert detail["errors"] and all(isinstance(e, str) and e for e in detail["errors"]), detail
    if path is not None:
        assert path in [d["path"] for d in body["details"]], body
    return body


@pytest.fixture(scope="module")
def leader_elected(api_master: MasterProcess) -> None:
    """Wait (bounded) until the master leads, so its own election writes are over before snapshots."""
    wait_until(
        lambda: api_master.get("/leader", timeout=2).status_code == 200,
        15,
        message="leader elected",
    )






@pytest.fixture
def root(api_master: MasterProcess, leader_elected: None) -> str:
    return f"/{api_master.namespace}"


@pytest.fixture
def unchanged(zk: KazooClient, root: str) -> Iterator[None]:
    """Assert that the test leaves the master's ZooKeeper tree exactly as it found it."""
    before = zk_state(zk, root)
    assert f"{root}/config/job" in before  # the snapshot is of the master's real tree
    yield
    assert zk_state(zk, root) == before


@pytest.fixture
def no_tracebacks_in_master_log(api_master: MasterProcess) -> Iterator[None]:
    """The master logged no unhandled error (a 500) while the test ran."""
    start = api_master.log_path.stat().st_size
    yield
    with open(api_master.log_path, "rb") as log:
        log.seek(start)
        new = log.read().decode(errors="replace")
    assert "Traceback" not in new
    assert "unhandled error" not in new


pytestmark = [pytest.mark.zk, pytest.mark.usefixtures("no_tracebacks_in_master_log")]


def post_json_text(api: httpx.Client, path: str, text: str | bytes, method: str = "POST") -> httpx.Response:
    content = text.encode() if isinstance(text, str) else text
    return api.request(method, path, content=content, headers={"Content-Type": "application/json"})


def test_the_valid_base_body_is_accepted(api: httpx.Client) -> None:
    """Control: every rejection below differs from this accepted body only in what it names."""
    body = job_body()
    assert api.post("/job/register", json=body).status_code == 204
    assert api.get(f"/job/jobs/{body['jobName']}").status_code == 200


# ---- malformed bodies -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path", ["/job/register", "/app"])
def test_malformed_json_is_a_400(api: httpx.Client, path: str) -> None:
    assert_error(post_json_text(api, path, '{"jobName": "x", '), 400)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("text", ["[1, 2]", '"foo_job"', "5", "null", "true"])
def test_json_that_is_not_an_object_is_a_400(api: httpx.Client, text: str) -> None:
    assert_error(post_json_text(api, "/job/register", text), 400)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_body_is_a_400(api: httpx.Client, text: str) -> None:
    assert_error(post_json_text(api, "/job/register", text), 400)
    assert_error(post_json_text(api, "/job/update", text, method="PUT"), 400)
    assert_error(post_json_text(api, "/app", text), 400)


@pytest.mark.usefixtures("unchanged")
def test_body_that_is_not_utf8_is_a_400(api: httpx.Client) -> None:
    assert_error(post_json_text(api, "/job/register", b'{"jobName": "\xff\xfe"}'), 400)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("method,path", [("POST", "/job/register"), ("PUT", "/job/update"), ("POST", "/app")])
def test_non_json_content_type_is_a_415(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(
        method, path, content=json.dumps(job_body()).encode(), headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 415)


# ---- invalid job fields ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
# Numeric strings ("5") are the original console's form and are accepted (test_api_console_forms.py).
@pytest.mark.parametrize("value", ["five", "2.5", "0x10", " 2", True, 5.5, None, [5]])
def test_sharding_total_count_of_a_wrong_type_is_a_422(api: httpx.Client, value: Any) -> None:
    assert_error(
        api.post("/job/register", json=job_body(shardingTotalCount=value)), 422, "shardingTotalCount"
    )


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shardingTotalCount", 0),
        ("shardingTotalCount", -1),
        ("shardingTotalCount", 10_001),
        ("cpuCount", 0),
        ("cpuCount", -0.5),
        ("memoryMB", 0),
        ("memoryMB", -64.0),
    ],
)
def test_non_positive_or_huge_counts_are_a_422(api: httpx.Client, field: str, value: Any) -> None:
    assert_error(api.post("/job/register", json=job_body(**{field: value})), 422, field)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpuCount", "a lot"),
        ("cpuCount", "NaN"),
        ("memoryMB", "64MB"),
        ("failover", "yes"),
        ("failover", "True"),
        ("jobName", 5),
        ("cron", 5),
        ("environment", ["A=1"]),
    ],
)
def test_other_fields_of_a_wrong_type_are_a_422(api: httpx.Client, field: str, value: Any) -> None:
    assert_error(api.post("/job/register", json=job_body(**{field: value})), 422, field)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("field", ["jobName", "cron", "shardingTotalCount", "cpuCount", "memoryMB"])
def test_missing_required_field_is_a_422(api: httpx.Client, field: str) -> None:
    body = job_body()
    del body[field]
    assert_error(api.post("/job/register", json=body), 422, field)


@pytest.mark.usefixtures("unchanged")
def test_neither_app_name_nor_app_url_is_a_422(api: httpx.Client) -> None:
    body = job_body()
    del body["appURL"]
    assert_error(api.post("/job/register", json=body), 422, "appName")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "cron", ["* * *", "0 0 12 * * MON", "0 0 25 * * ?", "abc", "", "0 61 * * * ?", "0 0 12 ? * FOO"]
)
def test_invalid_quartz_cron_is_a_422_on_cron(api: httpx.Client, cron: str) -> None:
    body = assert_error(api.post("/job/register", json=job_body(cron=cron)), 422, "cron")
    assert body["details"] == [d for d in body["details"] if d["path"] == "cron"]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", ["a/b", "/", "x" * 129, "..", ".", "", "héllo", "a b", "a%2Fb"])
def test_invalid_job_name_in_the_body_is_a_422(api: httpx.Client, name: str) -> None:
    body = job_body(unique())
    body["jobName"] = name
    assert_error(api.post("/job/register", json=body), 422, "jobName")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", ["a/b", "x" * 129, ".."])
def test_invalid_app_name_in_the_body_is_a_422(api: httpx.Client, name: str) -> None:
    app = {"appName": name, "appURL": "http://app_host/a.tar.gz", "bootstrapScript": "bin/start.sh"}
    assert_error(api.post("/app", json=app), 422, "appName")
    assert_error(api.post("/job/register", json=job_body(appName=name)), 422, "appName")


def test_a_name_of_exactly_128_characters_is_accepted(api: httpx.Client) -> None:
    name = ("n" * 118) + uuid.uuid4().hex[:10]
    assert len(name) == 128
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert api.get(f"/job/jobs/{name}").json()["jobName"] == name


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "url",
    [
        "/job/jobs/a%2Fb",
        "/job/jobs/a/b",
        "/job/jobs/%2E%2E",
        "/job/jobs/" + "x" * 129,
        "/job/a%2Fb/disable",
        "/job/%2E%2E/disable",
        "/app/a%2Fb",
        "/app/%2E%2E",
        "/app/" + "x" * 129,
        "/app/%2E%2E/disable",
    ],
)
def test_invalid_name_in_the_url_is_a_404(api: httpx.Client, url: str) -> None:
    assert_error(api.get(url), 404)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "url", ["/job/a%2Fb/disable", "/job/%2E%2E/enable", "/app/%2E%2E/disable", "/app/x%2Fy/enable"]
)
def test_invalid_name_in_the_url_of_a_write_is_a_404(api: httpx.Client, url: str) -> None:
    assert_error(api.post(url), 404)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("url", ["/app/%2E%2E", "/app/a%2Fb", "/app/" + "x" * 129])
def test_delete_of_an_invalid_app_name_is_a_404(api: httpx.Client, url: str) -> None:
    assert_error(api.delete(url), 404)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("params", ["0=a,3=d", "5=x", "0=a,0=b", "x=1", "-1=a", "novalue"])
def test_invalid_sharding_item_parameters_are_a_422(api: httpx.Client, params: str) -> None:
    body = job_body(shardingTotalCount=3, shardingItemParameters=params)
    assert_error(api.post("/job/register", json=body), 422, "shardingItemParameters")


@pytest.mark.usefixtures("unchanged")
def test_unknown_field_is_a_422(api: httpx.Client) -> None:
    body = assert_error(
        api.post("/job/register", json=job_body(shardingTotalCont=5)), 422, "shardingTotalCont"
    )
    assert "unknown field" in body["details"][0]["errors"]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_unknown_time_zone_is_a_422(api: httpx.Client, zone: str) -> None:
    assert_error(api.post("/job/register", json=job_body(timeZone=zone)), 422, "timeZone")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("job_type", ["SIMPLE", "DATAFLOW"])
def test_class_based_job_type_without_job_class_is_a_422(api: httpx.Client, job_type: str) -> None:
    assert_error(api.post("/job/register", json=job_body(jobType=job_type)), 422, "jobClass")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"jobType": "SCRIPT", "jobClass": "pkg.mod:run"}, "jobClass"),
        ({"jobType": "SIMPLE", "jobClass": "not a class"}, "jobClass"),
        ({"streamingProcess": True}, "streamingProcess"),
        ({"jobType": "BATCH"}, "jobType"),
        ({"jobExecutionType": "FOREVER"}, "jobExecutionType"),
        ({"appURL": "ftp://host/app.tar.gz"}, "appURL"),
        ({"environment": {"ELASTICJOB_SHARD": "1"}}, "environment"),
        ({"environment": {"1BAD": "x"}}, "environment"),
        ({"taskKillGracePeriodSeconds": 3601}, "taskKillGracePeriodSeconds"),
        ({"taskKillGracePeriodSeconds": -0.5}, "taskKillGracePeriodSeconds"),
    ],
)
def test_other_invalid_job_fields_are_a_422(api: httpx.Client, overrides: dict[str, Any], path: str) -> None:
    assert_error(api.post("/job/register", json=job_body(**overrides)), 422, path)


# ---- body size ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
def test_a_10_mb_body_with_content_length_is_a_413(api: httpx.Client) -> None:
    payload = json.dumps(job_body(description="x" * TEN_MB)).encode()
    response = api.post("/job/register", content=payload, headers={"Content-Type": "application/json"})
    assert_error(response, 413)


@pytest.mark.usefixtures("unchanged")
def test_a_10_mb_streamed_body_without_content_length_is_a_413(api: httpx.Client) -> None:
    chunk = b" " * (64 * 1024)

    def stream() -> Iterator[bytes]:
        yield b'{"description": "'
        for _ in range(TEN_MB // len(chunk)):
            yield chunk
        yield b'"}'

    request = api.build_request(
        "POST", "/job/register", content=stream(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_error(api.send(request), 413)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "overrides",
    [
        {"appURL": "http://app_host/" + "x" * 1_000_000},  # job + implied app: 2 MB in one ZooKeeper request
        {"scriptCommandLine": "x" * 400_000},
        {"environment": {f"VAR_{i}": "v" * 100 for i in range(5000)}},
    ],
    ids=["appURL", "scriptCommandLine", "environment"],
)
def test_a_configuration_too_large_to_store_is_a_422_not_a_zookeeper_failure(
    api: httpx.Client, overrides: dict[str, Any]
) -> None:
    """Under the 1 MiB body limit, but too large for one ZooKeeper request (jute.maxbuffer)."""
    payload = json.dumps(job_body(**overrides)).encode()
    assert len(payload) < 1024 * 1024
    body = assert_error(
        api.post("/job/register", content=payload, headers={"Content-Type": "application/json"}), 422
    )
    assert "limit" in body["message"]
    assert api.get("/ping").status_code == 200


@pytest.mark.usefixtures("unchanged")
def test_an_app_too_large_to_store_is_a_422(api: httpx.Client) -> None:
    app = {"appName": unique("app"), "appURL": "http://h/" + "x" * 600_000, "bootstrapScript": "s.sh"}
    assert_error(api.post("/app", json=app), 422)


def test_a_large_but_storable_configuration_is_accepted(api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name, scriptCommandLine="x" * 100_000)).status_code == 204
    assert len(api.get(f"/job/jobs/{name}").json()["scriptCommandLine"]) == 100_000


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_deeply_nested_json_is_a_400_not_a_500(api: httpx.Client, text: str) -> None:
    assert_error(post_json_text(api, "/job/register", text), 400)
    assert_error(post_json_text(api, "/app", text), 400)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("field", ["cpuCount", "memoryMB"])
def test_non_finite_numbers_are_a_422(api: httpx.Client, field: str, value: str) -> None:
    job = json.dumps(job_body(**{field: 12345.5})).replace("12345.5", value)
    assert_error(post_json_text(api, "/job/register", job), 422, field)
    app = json.dumps(
        {"appName": unique("app"), "appURL": "http://h/a", "bootstrapScript": "s", field: 12345.5}
    )
    assert_error(post_json_text(api, "/app", app.replace("12345.5", value)), 422, field)


# ---- name-as-text bodies --------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path", ["/job/unregister", "/job/deregister"])
@pytest.mark.parametrize("text", ["", "  \n", '""'])
def test_unregister_with_an_empty_body_is_a_400(api: httpx.Client, path: str, text: str) -> None:
    response = api.request(
        "DELETE", path, content=text.encode(), headers={"Content-Type": "application/text"}
    )
    assert_error(response, 400)


@pytest.mark.usefixtures("unchanged")
def test_unregister_of_an_unknown_job_is_a_404(api: httpx.Client) -> None:
    name = unique()
    response = api.request(
        "DELETE", "/job/unregister", content=name.encode(), headers={"Content-Type": "application/text"}
    )
    assert name in assert_error(response, 404)["message"]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path", ["/job/unregister", "/job/trigger"])
def test_invalid_name_as_text_is_a_422_on_job_name(api: httpx.Client, path: str) -> None:
    method = "DELETE" if "unregister" in path else "POST"
    response = api.request(method, path, content=b"a/b", headers={"Content-Type": "text/plain"})
    assert_error(response, 422, "jobName")


@pytest.mark.usefixtures("unchanged")
def test_name_as_text_with_a_binary_content_type_is_a_415(api: httpx.Client) -> None:
    response = api.request(
        "DELETE", "/job/unregister", content=b"some_job", headers={"Content-Type": "application/octet-stream"}
    )
    assert_error(response, 415)


@pytest.mark.usefixtures("unchanged")
def test_trigger_with_an_empty_body_is_a_400(api: httpx.Client) -> None:
    assert_error(api.post("/job/trigger", content=b"", headers={"Content-Type": "text/plain"}), 400)


# ---- routing --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path", ["/nope", "/job", "/job/jobs/a/b/c", "/api/nope", "/api/ping"])
def test_unknown_route_is_a_json_404(api: httpx.Client, path: str) -> None:
    assert_error(api.get(path), 404)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/job/register"),
        ("POST", "/job/jobs"),
        ("GET", "/job/unregister"),
        ("DELETE", "/job/trigger"),
        ("PATCH", "/app"),
        ("PUT", "/api/job/register"),
    ],
)
def test_wrong_method_is_a_json_405(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert_error(response, 405)
    assert "allow" in response.headers


@pytest.mark.parametrize("value", ["notabool", "2", ""])
def test_cascade_that_is_not_a_boolean_is_a_422(
    api: httpx.Client, root: str, zk: KazooClient, value: str
) -> None:
    app = unique("app")
    response = api.post(
        "/app", json={"appName": app, "appURL": "http://h/a.tar.gz", "bootstrapScript": "s.sh"}
    )
    assert response.status_code == 204
    before = zk_state(zk, root)
    assert f"{root}/config/app/{app}" in before
    assert_error(api.delete(f"/app/{app}", params={"cascade": value}), 422, "cascade")
    assert zk_state(zk, root) == before


# ---- operational routes ---------------------------------------------------------------------------------


def test_openapi_documents_job_register_with_the_job_schema(api: httpx.Client) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    register = document["paths"]["/job/register"]["post"]
    schema = register["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Job"}
    job_schema = document["components"]["schemas"]["Job"]
    assert {"jobName", "cron", "shardingTotalCount", "cpuCount", "memoryMB", "appURL"} <= set(
        job_schema["properties"]
    )
    assert {"jobName", "cron", "shardingTotalCount", "cpuCount", "memoryMB"} <= set(job_schema["required"])
    assert document["paths"]["/app"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/App"
    }
    for path in ("/job/unregister", "/job/deregister", "/job/trigger", "/job/tasks/ready", "/app/{appName}"):
        assert path in document["paths"]


def test_openapi_documents_the_errors_bodies_and_answers_the_api_really_has(api: httpx.Client) -> None:
    """What schemathesis (tests/e2e/test_api_fuzz.py) checks the API against must be the API's own shapes."""
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    error = {"$ref": "#/components/schemas/Error"}
    assert "HTTPValidationError" not in schemas and schemas["Error"]["required"] == ["message"]
    for item in document["paths"].values():
        for operation in item.values():
            for status in ("400", "404", "409", "413", "415", "422"):
                assert operation["responses"][status]["content"]["application/json"]["schema"] == error
    assert schemas["Job"]["properties"]["jobName"]["pattern"] == "^[A-Za-z0-9_.-]{1,128}$"
    assert schemas["App"]["properties"]["appURL"]["pattern"].startswith("^((https?)://")
    assert document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobSpec"
    }
    answers = {path: document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
               for path in ("/app/{appName}", "/app/list", "/job/jobs/{jobName}", "/job/jobs")}
    assert answers == {
        "/app/{appName}": {"$ref": "#/components/schemas/App"},
        "/app/list": {"type": "array", "items": {"$ref": "#/components/schemas/App"}},
        "/job/jobs/{jobName}": {"$ref": "#/components/schemas/JobView"},
        "/job/jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
    }
    assert {"nextFireTime", "lastFireTime"} <= set(schemas["JobView"]["properties"])


def test_openapi_documents_the_credentials_and_the_role_of_every_operation(api: httpx.Client) -> None:
    """From the role table (security/roles.py), which tests/e2e/test_auth.py checks route by route."""
    document = api.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {"type": "http", "scheme": "basic"} and schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert document["security"] == [{"basicAuth": []}, {"bearerAuth": []}, {"sessionCookie": []}]
    ping = document["paths"]["/ping"]["get"]
    assert ping["security"] == [] and "401" not in ping["responses"]
    roles = {(path, method): document["paths"][path][method]["x-elasticjob-role"]
             for path, method in (("/job/jobs", "get"), ("/job/trigger", "post"), ("/job/register", "post"),
                                  ("/v1/jobs/{job_id}/runs", "post"), ("/v1/jobs/{job_id}", "delete"))}
    assert roles == {("/job/jobs", "get"): "viewer", ("/job/trigger", "post"): "operator",
                     ("/job/register", "post"): "admin", ("/v1/jobs/{job_id}/runs", "post"): "operator",
                     ("/v1/jobs/{job_id}", "delete"): "admin"}
    for item in document["paths"].values():
        for operation in item.values():
            if operation.get("security") != []:
                assert {"401", "403"} <= set(operation["responses"]), operation["operationId"]


def test_ping_answers_pong(api: httpx.Client) -> None:
    response = api.get("/ping")
    assert response.status_code == 200
    assert response.text == "pong"


def test_leader_is_this_single_master(
    api: httpx.Client, api_master: MasterProcess, leader_elected: None
) -> None:
    response = api.get("/leader")
    assert response.status_code == 200
    assert response.json() == {
        "leader": f"127.0.0.1:{api_master.http_port}",
        "grpc": f"127.0.0.1:{api_master.grpc_port}",
        "self": True,
    }


def _metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", re.MULTILINE)
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def test_metrics_are_prometheus_text(api: httpx.Client, leader_elected: None) -> None:
    ping = '{method="GET",route="/ping",status="200"}'
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE elasticjob_http_requests_total counter" in response.text
    assert "elasticjob_master_is_leader 1.0" in response.text.splitlines()
    before = _metric(response.text, "elasticjob_http_requests_total", ping) or 0.0
    jobs_before = _metric(response.text, "elasticjob_registered_jobs")
    assert jobs_before is not None

    for _ in range(3):
        assert api.get("/ping").status_code == 200
    assert api.post("/job/register", json=job_body()).status_code == 204

    after = api.get("/metrics").text
    assert _metric(after, "elasticjob_http_requests_total", ping) == before + 3
    assert _metric(after, "elasticjob_registered_jobs") == jobs_before + 1
    assert (
        _metric(after, "elasticjob_http_requests_total", '{method="POST",route="/job/register",status="204"}')
        is not None
    )


def test_a_corrupt_job_znode_is_reported_clearly_and_skipped_in_lists(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = f"corrupt_{uuid.uuid4().hex[:8]}"
    zk.create(f"{root}/config/job/{name}", b'{"jobName": "x", "shardingTotalCount": "lots"}')
    try:
        # Written straight into ZooKeeper: the master's state sees it by its watch, a moment later.
        wait_until(lambda: api.get(f"/job/jobs/{name}").status_code != 404, 5)
        detail = api.get(f"/job/jobs/{name}")
        assert detail.status_code == 500
        body = detail.json()
        assert name in body["message"] and "not valid" in body["message"] and "Traceback" not in detail.text
        listed = api.get("/job/jobs")
        assert listed.status_code == 200
        assert name not in [j["jobName"] for j in listed.json()]
    finally:
        zk.delete(f"{root}/config/job/{name}")


def test_the_root_is_the_console_and_its_assets_are_served_from_the_package(api: httpx.Client) -> None:
    page = api.get("/", follow_redirects=False)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/app.js">' in page.text
    for asset, kind in (("/console/app.js", "javascript"), ("/console/vendor/preact-htm.js", "javascript"),
                        ("/console/vendor/pico.min.css", "text/css")):
        served = api.get(asset)
        assert served.status_code == 200 and kind in served.headers["content-type"], asset
    assert api.get("/console/nothing.js").status_code == 404
    assert api.get("/docs").status_code == 200
