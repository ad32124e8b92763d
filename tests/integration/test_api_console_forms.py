"""The original Elastic-Job-Cloud console's add/modify forms against a real master and ZooKeeper.

The bodies are exactly what its ``job_common.js`` (``getJob()``) and ``app_common.js`` (``getApp()``) send:
every input's value as a string, checkboxes as booleans, the inputs a job type hides as ``""``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient

from tests.integration.api_helpers import zk_state
from tests.integration.test_api_apps import assert_error

pytestmark = pytest.mark.zk


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def console_app(name: str, **inputs: Any) -> dict[str, Any]:
    """``getApp()``: the add/modify app form."""
    body: dict[str, Any] = {
        "appName": name,
        "cpuCount": "0.1",
        "memoryMB": "128",
        "bootstrapScript": "bin/start.sh",
        "appCacheEnable": True,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
        "eventTraceSamplingCount": "0",
    }
    body.update(inputs)
    return body


def console_script_job(name: str, app: str, **inputs: Any) -> dict[str, Any]:
    """``getJob()`` of the 2.1 console for a SCRIPT job: the class, bean and context inputs are empty."""
    body: dict[str, Any] = {
        "jobName": name,
        "appName": app,
        "jobClass": "",
        "cron": "0 0 0 1 1 ? 2099",
        "jobType": "SCRIPT",
        "cpuCount": "0.1",
        "jobExecutionType": "TRANSIENT",
        "memoryMB": "64",
        "bootstrapScript": "",
        "beanName": "",
        "shardingTotalCount": "2",
        "jobParameter": "",
        "failover": True,
        "misfire": False,
        "streamingProcess": False,
        "applicationContext": "",
        "shardingItemParameters": "0=a,1=b",
        "scriptCommandLine": "bin/run.sh",
        "description": "",
    }
    body.update(inputs)
    return body


def znode(zk: KazooClient, path: str) -> dict[str, Any]:
    data, _ = zk.get(path)
    value = json.loads(data)
    assert isinstance(value, dict)
    return value


@pytest.fixture
def app(api: httpx.Client) -> str:
    name = unique("formapp")
    response = api.post("/api/app", json=console_app(name))
    assert response.status_code == 204, response.text
    return name


def test_the_consoles_add_app_form_registers_the_app_with_numbers(
    api: httpx.Client, zk: KazooClient, root: str
) -> None:
    name = unique("formapp")
    response = api.post("/api/app", json=console_app(name))
    assert response.status_code == 204, response.text
    stored = znode(zk, f"{root}/config/app/{name}")
    assert stored["cpuCount"] == 0.1 and stored["memoryMB"] == 128.0
    assert stored["eventTraceSamplingCount"] == 0 and stored["appCacheEnable"] is True
    assert api.get(f"/api/app/{name}").json()["memoryMB"] == 128.0


def test_the_consoles_modify_app_form_updates_the_app_with_numbers(
    api: httpx.Client, zk: KazooClient, root: str, app: str
) -> None:
    response = api.put("/api/app", json=console_app(app, cpuCount="2", memoryMB="256.5",
                                                     eventTraceSamplingCount="10", appCacheEnable=False))
    assert response.status_code == 204, response.text
    stored = znode(zk, f"{root}/config/app/{app}")
    assert (stored["cpuCount"], stored["memoryMB"]) == (2.0, 256.5)
    assert stored["eventTraceSamplingCount"] == 10 and stored["appCacheEnable"] is False


def test_the_consoles_add_job_form_registers_the_normalised_job(
    api: httpx.Client, zk: KazooClient, root: str, app: str
) -> None:
    name = unique("formjob")
    response = api.post("/api/job/register", json=console_script_job(name, app))
    assert response.status_code == 204, response.text
    stored = znode(zk, f"{root}/config/job/{name}")
    assert stored["shardingTotalCount"] == 2
    assert stored["cpuCount"] == 0.1 and stored["memoryMB"] == 64.0
    assert stored["failover"] is True and stored["jobType"] == "SCRIPT"
    assert stored["scriptCommandLine"] == "bin/run.sh"
    # The inputs a SCRIPT job has no use for were empty: they are absent, not stored as "".
    for absent in ("jobClass", "beanName", "applicationContext", "bootstrapScript"):
        assert absent not in stored, absent


def test_the_consoles_modify_job_form_updates_the_normalised_job(
    api: httpx.Client, zk: KazooClient, root: str, app: str
) -> None:
    name = unique("formjob")
    assert api.post("/api/job/register", json=console_script_job(name, app)).status_code == 204
    body = console_script_job(name, app, shardingTotalCount="3", cpuCount="0.5", memoryMB="96",
                              shardingItemParameters="", misfire="true", scriptCommandLine="")
    response = api.put("/api/job/update", json=body)
    assert response.status_code == 204, response.text
    stored = znode(zk, f"{root}/config/job/{name}")
    assert (stored["shardingTotalCount"], stored["cpuCount"], stored["memoryMB"]) == (3, 0.5, 96.0)
    assert stored["misfire"] is True
    assert "scriptCommandLine" not in stored  # "" is absent: the app's bootstrap script runs


def test_bean_name_and_application_context_given_are_kept(
    api: httpx.Client, zk: KazooClient, root: str, app: str
) -> None:
    name = unique("formjob")
    body = console_script_job(name, app, beanName="fooBean", applicationContext="applicationContext.xml")
    assert api.post("/api/job/register", json=body).status_code == 204
    stored = znode(zk, f"{root}/config/job/{name}")
    assert (stored["beanName"], stored["applicationContext"]) == ("fooBean", "applicationContext.xml")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shardingTotalCount", "two"),
        ("shardingTotalCount", "-1"),
        ("shardingTotalCount", "1.5"),
        ("shardingTotalCount", "0"),
        ("cpuCount", "0.0001"),
        ("cpuCount", "-1"),
        ("cpuCount", "1e400"),
        ("memoryMB", "lots"),
        ("failover", "yes"),
        ("jobName", ""),
    ],
)
def test_garbage_in_the_job_form_is_a_422_naming_the_field(
    api: httpx.Client, zk: KazooClient, root: str, app: str, field: str, value: str
) -> None:
    before = zk_state(zk, root)
    body = console_script_job(unique("formjob"), app, **{field: value})
    assert_error(api.post("/api/job/register", json=body), 422, field)
    assert zk_state(zk, root) == before


def test_an_empty_job_class_of_a_simple_job_is_a_422(api: httpx.Client, app: str) -> None:
    body = console_script_job(unique("formjob"), app, jobType="SIMPLE")
    assert_error(api.post("/api/job/register", json=body), 422, "jobClass")


@pytest.mark.parametrize(
    ("field", "value"),
    [("cpuCount", "abc"), ("memoryMB", "-5"), ("eventTraceSamplingCount", "x"), ("appCacheEnable", "on")],
)
def test_garbage_in_the_app_form_is_a_422_naming_the_field(
    api: httpx.Client, zk: KazooClient, root: str, field: str, value: str
) -> None:
    before = zk_state(zk, root)
    assert_error(api.post("/api/app", json=console_app(unique("formapp"), **{field: value})), 422, field)
    assert zk_state(zk, root) == before


def test_metronome_jobs_stay_strict_about_numbers_as_strings(api: httpx.Client) -> None:
    body = {"id": f"strict.{uuid.uuid4().hex[:8]}",
            "run": {"cmd": "sleep 1", "cpus": "0.1", "mem": 32, "disk": 0}}
    response = api.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text
