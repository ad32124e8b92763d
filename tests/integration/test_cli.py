"""The real ``elasticjob`` console command (a subprocess) against a real master over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from elasticjob.common.net import free_port
from tests.support import MasterProcess

pytestmark = pytest.mark.zk


def unique(prefix: str = "job") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def job_body(name: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobName": name,
        "cron": "0 0 0 1 1 ? 2099",  # never fires during the tests
        "shardingTotalCount": 2,
        "cpuCount": 0.1,
        "memoryMB": 64.0,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def app_body(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        "appName": name,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
        "bootstrapScript": "bin/start.sh",
        **overrides,
    }


def run(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``elasticjob <resource> --url URL <action> ...`` as a child process; never inherits ELASTICJOB_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}
    resource, *rest = args
    return subprocess.run(
        [sys.executable, "-m", "elasticjob", "--log-level", "WARNING", resource, "--url", url, *rest],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed the way the CLI promises: exit 1, ``error:`` on stderr, nothing on stdout."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return result.stderr


def ready_times(ready: list[dict[str, Any]], name: str) -> str | None:
    times = [entry["times"] for entry in ready if entry["jobName"] == name]
    assert len(times) <= 1
    return times[0] if times else None


@pytest.fixture(scope="module")
def api(api_master: MasterProcess) -> Iterator[httpx.Client]:
    """One HTTP client per module (building one per test costs more than most of these tests)."""
    with httpx.Client(base_url=api_master.url, timeout=15) as client:
        yield client


@pytest.fixture
def url(api_master: MasterProcess) -> str:
    return api_master.url


def write(tmp_path: Path, document: Any, name: str = "doc.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


# ---- jobs ---------------------------------------------------------------------------------------------


def test_job_add_registers_the_file(url: str, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    body = job_body(name, shardingItemParameters="0=a,1=b")
    assert ok(run(url, "job", "add", write(tmp_path, body))).strip() == "job registered"
    job = api.get(f"/job/jobs/{name}").json()
    assert {k: job[k] for k in body} == body


def test_job_add_reads_stdin(url: str, api: httpx.Client) -> None:
    name = unique()
    ok(run(url, "job", "add", "-", stdin=json.dumps(job_body(name))))
    assert api.get(f"/job/jobs/{name}").status_code == 200


def test_job_list_shows_a_table_and_json(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name, cron="0 0 12 ? * MON")).status_code == 204

    lines = ok(run(url, "job", "list")).splitlines()
    assert lines[0].split() == ["NAME", "APP", "CRON", "SHARDS", "TYPE"]
    row = next(line for line in lines if line.startswith(name + " "))
    assert row.split() == [name, name, "0", "0", "12", "?", "*", "MON", "2", "TRANSIENT"]

    listed = json.loads(ok(run(url, "job", "list", "--json")))
    from_api = [job for job in api.get("/job/jobs").json() if job["jobName"] == name]
    assert len(from_api) == 1
    assert [job for job in listed if job["jobName"] == name] == from_api


def test_job_show_prints_the_job_as_json(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert json.loads(ok(run(url, "job", "show", name))) == api.get(f"/job/jobs/{name}").json()


def test_job_show_of_an_unknown_job_fails_with_the_masters_message(url: str) -> None:
    name = unique()
    stderr = failed(run(url, "job", "show", name))
    assert f"job '{name}' does not exist" in stderr
    assert "(HTTP 404)" in stderr


def test_job_run_queues_a_firing_seen_by_job_tasks_ready(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert ok(run(url, "job", "run", name)).strip() == f"job {name} triggered"
    assert ready_times(json.loads(ok(run(url, "job", "tasks", "ready"))), name) == "1"
    ok(run(url, "job", "run", name))
    assert ready_times(json.loads(ok(run(url, "job", "tasks", "ready"))), name) == "2"


@pytest.mark.parametrize("kind", ["running", "failover"])
def test_job_tasks_prints_the_api_list(url: str, api: httpx.Client, kind: str) -> None:
    assert json.loads(ok(run(url, "job", "tasks", kind))) == api.get(f"/job/tasks/{kind}").json()


def test_job_disable_and_enable(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert ok(run(url, "job", "disable", name)).strip() == f"job {name} disabled"
    assert api.get(f"/job/{name}/disable").json() is True

    stderr = failed(run(url, "job", "run", name))
    assert "(HTTP 409)" in stderr

    assert ok(run(url, "job", "enable", name)).strip() == f"job {name} enabled"
    assert api.get(f"/job/{name}/disable").json() is False


def test_job_update_replaces_the_configuration(url: str, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    changed = job_body(name, shardingTotalCount=6, cron="0 30 * * * ?")
    assert ok(run(url, "job", "update", write(tmp_path, changed))).strip() == "job updated"
    job = api.get(f"/job/jobs/{name}").json()
    assert (job["shardingTotalCount"], job["cron"]) == (6, "0 30 * * * ?")


def test_job_update_of_an_unknown_job_fails(url: str, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    assert "(HTTP 404)" in failed(run(url, "job", "update", write(tmp_path, job_body(name))))
    assert api.get(f"/job/jobs/{name}").status_code == 404


def test_job_remove(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert ok(run(url, "job", "remove", name)).strip() == f"job {name} removed"
    assert api.get(f"/job/jobs/{name}").status_code == 404
    assert api.get(f"/app/{name}").status_code == 404
    assert "(HTTP 404)" in failed(run(url, "job", "remove", name))


def test_names_cannot_reach_other_resources_through_the_url(url: str, api: httpx.Client) -> None:
    """A name is one URL segment: ``../../app/X`` must not disable the app X."""
    app = unique("app")
    assert api.post("/app", json=app_body(app)).status_code == 204
    failed(run(url, "job", "disable", f"../app/{app}"))
    failed(run(url, "job", "show", f"../app/{app}"))
    assert api.get(f"/app/{app}/disable").json() is False


def test_url_may_also_follow_the_action(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "job", "show", name, "--url", url],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert json.loads(ok(result))["jobName"] == name


def test_url_from_the_environment(url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}, "ELASTICJOB_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "job", "show", name],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert json.loads(ok(result))["jobName"] == name


# ---- apps ---------------------------------------------------------------------------------------------


def test_app_add_list_show(url: str, api: httpx.Client, tmp_path: Path) -> None:
    name = unique("app")
    assert (
        ok(run(url, "app", "add", write(tmp_path, app_body(name, cpuCount=2.0)))).strip() == "app registered"
    )
    shown = json.loads(ok(run(url, "app", "show", name)))
    assert shown == api.get(f"/app/{name}").json()
    assert shown["cpuCount"] == 2.0 and shown["memoryMB"] == 128.0

    lines = ok(run(url, "app", "list")).splitlines()
    assert lines[0].split() == ["NAME", "URL", "CPUS", "MEM(MB)"]
    row = next(line for line in lines if line.startswith(name + " "))
    assert row.split() == [name, f"http://app_host:8080/{name}.tar.gz", "2.0", "128.0"]
    assert shown in json.loads(ok(run(url, "app", "list", "--json")))


def test_app_update(url: str, api: httpx.Client, tmp_path: Path) -> None:
    name = unique("app")
    assert api.post("/app", json=app_body(name)).status_code == 204
    assert (
        ok(run(url, "app", "update", write(tmp_path, app_body(name, memoryMB=512.0)))).strip()
        == "app updated"
    )
    assert api.get(f"/app/{name}").json()["memoryMB"] == 512.0


def test_app_disable_and_enable(url: str, api: httpx.Client) -> None:
    name = unique("app")
    assert api.post("/app", json=app_body(name)).status_code == 204
    assert ok(run(url, "app", "disable", name)).strip() == f"app {name} disabled"
    assert api.get(f"/app/{name}/disable").json() is True
    assert ok(run(url, "app", "enable", name)).strip() == f"app {name} enabled"
    assert api.get(f"/app/{name}/disable").json() is False


def test_app_remove_refuses_an_app_in_use_unless_cascade(url: str, api: httpx.Client, tmp_path: Path) -> None:
    app, job = unique("app"), unique()
    ok(run(url, "app", "add", write(tmp_path, app_body(app), "app.json")))
    ok(run(url, "job", "add", write(tmp_path, job_body(job, appURL=None, appName=app), "job.json")))

    stderr = failed(run(url, "app", "remove", app))
    assert "(HTTP 409)" in stderr and job in stderr
    assert api.get(f"/app/{app}").status_code == 200

    assert ok(run(url, "app", "remove", app, "--cascade")).strip() == f"app {app} removed"
    assert api.get(f"/app/{app}").status_code == 404
    assert api.get(f"/job/jobs/{job}").status_code == 404


def test_app_remove_of_an_unused_app(url: str, api: httpx.Client) -> None:
    name = unique("app")
    assert api.post("/app", json=app_body(name)).status_code == 204
    ok(run(url, "app", "remove", name))
    assert api.get(f"/app/{name}").status_code == 404


# ---- errors -------------------------------------------------------------------------------------------


def test_invalid_job_file_names_the_field(url: str, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    stderr = failed(run(url, "job", "add", write(tmp_path, job_body(name, shardingTotalCount="5"))))
    assert "(HTTP 422)" in stderr
    assert "\n  shardingTotalCount: " in stderr
    assert api.get(f"/job/jobs/{name}").status_code == 404


def test_invalid_cron_in_a_job_file_names_the_field(url: str, tmp_path: Path) -> None:
    stderr = failed(run(url, "job", "add", write(tmp_path, job_body(unique(), cron="0 0 25 * * ?"))))
    assert "\n  cron: " in stderr


def test_invalid_app_file_names_the_field(url: str, tmp_path: Path) -> None:
    stderr = failed(run(url, "app", "add", write(tmp_path, app_body(unique("app"), memoryMB=0))))
    assert "\n  memoryMB: " in stderr


def test_job_file_that_is_not_json_fails_before_calling_the_master(tmp_path: Path) -> None:
    path = write(tmp_path, "{not json")
    stderr = failed(run(f"http://127.0.0.1:{free_port()}", "job", "add", path))
    assert f"{path} is not valid JSON" in stderr


def test_missing_job_file_fails(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.json")
    stderr = failed(run(f"http://127.0.0.1:{free_port()}", "job", "add", path))
    assert f"cannot read {path}" in stderr


@pytest.mark.parametrize(
    "args", [("job", "list"), ("job", "show", "x"), ("app", "list"), ("job", "run", "x")]
)
def test_unreachable_master_is_a_clear_error(args: tuple[str, ...]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    stderr = failed(run(dead, *args))
    assert f"cannot reach the master at {dead}" in stderr
    assert stderr.count("\n") == 1  # one line, no traceback
