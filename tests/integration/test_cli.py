"""The real ``elasticjob`` console command (a subprocess) against a real master over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from elasticjob.common.net import free_port
from tests.support import MasterProcess, wait_until

pytestmark = pytest.mark.zk

RUN_ID = re.compile(r"[0-9]{14}[0-9a-z]{5}")


def unique(prefix: str = "job", sep: str = "_") -> str:
    """A fresh name; ``sep="-"`` for a Metronome id (lower-case, digits, ``-``)."""
    return f"{prefix}{sep}{uuid.uuid4().hex[:10]}"


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


def run(target: MasterProcess | str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``elasticjob <resource> --url URL <action> ...`` as a child process, against a master (with its
    admin's credentials in the environment) or a bare URL; never inherits ELASTICJOB_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}
    url = target if isinstance(target, str) else target.url
    if isinstance(target, MasterProcess):
        env.update(target.users.env() if target.users is not None else {})
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
    with api_master.http() as client:
        yield client


@pytest.fixture
def url(api_master: MasterProcess) -> str:
    return api_master.url


def write(tmp_path: Path, document: Any, name: str = "doc.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


# ---- jobs ---------------------------------------------------------------------------------------------


def metronome_job(job_id: str, with_schedule: bool = True, **run: Any) -> dict[str, Any]:
    """The DC/OS docs' ``myjob`` (seed 000) under another id."""
    body: dict[str, Any] = {
        "id": job_id,
        "description": "A job that sleeps regularly",
        "run": {"cmd": "sleep 20000", "cpus": 0.01, "mem": 32, "disk": 0, **run},
    }
    if with_schedule:
        body["schedules"] = [
            {"id": "sleep-schedule", "enabled": True, "cron": "20 0 * * *", "concurrencyPolicy": "ALLOW"}
        ]
    return body


def v1_job(api: httpx.Client, tmp_path: Path, with_schedule: bool = True) -> str:
    job_id = unique("myjob", "-")
    response = api.post("/v1/jobs", json=metronome_job(job_id, with_schedule))
    assert response.status_code == 201, response.text
    return job_id


def start_run(api: httpx.Client, job_id: str) -> str:
    response = api.post(f"/v1/jobs/{job_id}/runs")
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def native_run(api: httpx.Client, job: str, run_id: str) -> dict[str, Any]:
    response = api.get(f"/job/jobs/{job}/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_job_add_registers_a_native_file(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    body = job_body(name, shardingItemParameters="0=a,1=b")
    assert ok(run(api_master, "job", "add", write(tmp_path, body))).strip() == f"job {name} added"
    job = api.get(f"/job/jobs/{name}").json()
    assert {k: job[k] for k in body} == body


def test_job_add_reads_stdin(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    ok(run(api_master, "job", "add", "-", stdin=json.dumps(job_body(name))))
    assert api.get(f"/job/jobs/{name}").status_code == 200


def test_job_add_of_a_metronome_file_creates_the_job_and_its_schedule(
    api_master: MasterProcess, api: httpx.Client, tmp_path: Path
) -> None:
    job_id = unique("myjob", "-")
    assert ok(run(api_master, "job", "add", write(tmp_path, metronome_job(job_id)))).strip() == f"job {job_id} added"
    job = api.get(f"/v1/jobs/{job_id}", params={"embed": "schedules"}).json()
    assert job["run"]["cmd"] == "sleep 20000" and job["description"] == "A job that sleeps regularly"
    assert [s["id"] for s in job["schedules"]] == ["sleep-schedule"]
    assert api.get(f"/job/jobs/{job_id}").json()["dialect"] == "metronome"


def test_job_add_of_a_duplicate_fails_with_409(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    job_id = v1_job(api, tmp_path)
    stderr = failed(run(api_master, "job", "add", write(tmp_path, metronome_job(job_id))))
    assert stderr.startswith(f"error: Job with this id already exists: {job_id} (HTTP 409)")


def test_job_add_of_an_invalid_metronome_file_names_the_field(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    job_id = unique("myjob", "-")
    stderr = failed(run(api_master, "job", "add", write(tmp_path, metronome_job(job_id, mem=1))))
    assert stderr.startswith("error: Object is not valid (HTTP 422)\n")
    assert "\n  /run/mem: " in stderr
    assert api.get(f"/v1/jobs/{job_id}").status_code == 404


def test_job_add_of_a_document_of_neither_shape_fails_before_calling_the_master(tmp_path: Path) -> None:
    path = write(tmp_path, {"id": "x"})
    stderr = failed(run(f"http://127.0.0.1:{free_port()}", "job", "add", path))
    assert "neither a Metronome job (with `run`) nor a native job (with `jobName`)" in stderr


def test_job_list_shows_a_table_and_json(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    scheduled = v1_job(api, tmp_path)
    unscheduled = v1_job(api, tmp_path, with_schedule=False)
    running = v1_job(api, tmp_path, with_schedule=False)
    start_run(api, running)

    lines = ok(run(api_master, "job", "list")).splitlines()
    assert lines[0].split() == ["ID", "STATUS", "LAST", "RUN", "SCHEDULE", "NEXT", "RUN", "DESCRIPTION"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[scheduled][:7] == [scheduled, "Scheduled", "N/A", "20", "0", "*", "*"]
    assert rows[scheduled][9] == "00:20:00"  # NEXT RUN: date and time
    assert rows[unscheduled][:3] == [unscheduled, "Unscheduled", "N/A"]
    assert rows[running][:3] == [running, "Running", "N/A"]
    columns = [lines[0].index(title) for title in ("STATUS", "LAST RUN", "SCHEDULE")]
    row = next(line for line in lines if line.startswith(scheduled + " "))
    assert [row.index(cell) for cell in ("Scheduled", "N/A", "20 0")] == columns  # aligned

    listed = {job["id"]: job for job in json.loads(ok(run(api_master, "job", "list", "--json")))}
    assert listed[scheduled]["schedules"][0]["cron"] == "20 0 * * *"
    assert [r["jobId"] for r in listed[running]["activeRuns"]] == [running]
    assert listed[unscheduled]["historySummary"]["successCount"] == 0


def test_job_show_prints_the_v1_job_and_the_native_one(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    job_id = v1_job(api, tmp_path)
    shown = json.loads(ok(run(api_master, "job", "show", job_id)))
    assert shown == api.get(f"/v1/jobs/{job_id}", params={"embed": "schedules"}).json()
    assert shown["schedules"][0]["id"] == "sleep-schedule"
    assert json.loads(ok(run(api_master, "job", "show", job_id, "--native"))) == api.get(f"/job/jobs/{job_id}").json()

    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert json.loads(ok(run(api_master, "job", "show", name, "--json")))["run"]["shards"] == 2


def test_job_show_of_an_unknown_job_fails_with_the_masters_message(api_master: MasterProcess) -> None:
    name = unique()
    assert failed(run(api_master, "job", "show", name)) == f"error: Job not found: {name} (HTTP 404)\n"
    assert f"job '{name}' does not exist (HTTP 404)" in failed(run(api_master, "job", "show", name, "--native"))


def test_job_run_prints_the_run_id_of_a_queued_run(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    run_id = ok(run(api_master, "job", "run", name)).strip()
    assert RUN_ID.fullmatch(run_id), run_id
    found = native_run(api, name, run_id)
    assert (found["cause"], found["status"]) == ("MANUAL", "INITIAL")
    assert ready_times(json.loads(ok(run(api_master, "job", "tasks", "ready"))), name) == "1"
    ok(run(api_master, "job", "run", name))
    assert ready_times(json.loads(ok(run(api_master, "job", "tasks", "ready"))), name) == "2"


def test_job_run_with_env_and_a_job_parameter_gives_the_run_its_own(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    plain = ok(run(api_master, "job", "run", name)).strip()
    run_id = ok(
        run(api_master, "job", "run", name, "--env", "MODE=full", "--env", "DAY=2026=12", "--job-parameter", "p=1")
    ).strip()
    assert run_id != plain
    found = native_run(api, name, run_id)
    assert found["environment"] == {"MODE": "full", "DAY": "2026=12"} and found["jobParameter"] == "p=1"
    assert native_run(api, name, plain)["environment"] == {}


def test_job_run_with_a_reserved_env_name_fails_with_the_field(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    stderr = failed(run(api_master, "job", "run", name, "--env", "ELASTICJOB_X=1"))
    assert "(HTTP 422)" in stderr and "\n  /env/ELASTICJOB_X" in stderr and "reserved" in stderr


def test_job_run_of_an_unknown_job_fails(api_master: MasterProcess) -> None:
    name = unique()
    assert failed(run(api_master, "job", "run", name)) == f"error: Job not found: {name} (HTTP 404)\n"


def test_job_run_wait_reports_progress_and_gives_up_after_the_timeout(api_master: MasterProcess, api: httpx.Client) -> None:
    """No agents here: the run stays queued, so --wait ends at its --timeout with exit 1."""
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    result = run(api_master, "job", "run", name, "--wait", "--timeout", "1")
    assert result.returncode == 1, result.stderr
    run_id = result.stdout.strip()
    assert RUN_ID.fullmatch(run_id)
    assert f"{run_id} INITIAL: no agents registered" in result.stderr.splitlines()  # the reason it waits
    assert f"error: run {run_id} of job {name} is still INITIAL after 1 s" in result.stderr


def test_job_show_runs_lists_active_runs_and_one_run_with_its_tasks(api_master: MasterProcess, api: httpx.Client) -> None:
    job_id = unique("myjob", "-")
    assert api.post("/v1/jobs", json=metronome_job(job_id, with_schedule=False)).status_code == 201
    first, second = start_run(api, job_id), start_run(api, job_id)

    lines = ok(run(api_master, "job", "show", "runs", job_id)).splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "CAUSE", "CREATED", "FINISHED", "TASKS"]
    assert sorted(line.split()[:3] for line in lines[1:]) == sorted(
        [[first, "INITIAL", "MANUAL"], [second, "INITIAL", "MANUAL"]]
    )
    listed = json.loads(ok(run(api_master, "job", "show", "runs", job_id, "--json")))
    assert sorted(r["runId"] for r in listed) == sorted([first, second])

    one = ok(run(api_master, "job", "show", "runs", job_id, "--run-id", first)).splitlines()
    assert one[0] == f"run {first} of job {job_id}: INITIAL (MANUAL): no agents registered"
    assert one[1].split() == ["TASK", "SHARD", "STATE", "AGENT", "EXIT", "STARTED", "FINISHED", "MESSAGE"]
    assert json.loads(ok(run(api_master, "job", "show", "runs", job_id, "--run-id", first, "--json"))) == native_run(
        api, job_id, first
    )
    missing = "20990101000000abcde"
    assert "(HTTP 404)" in failed(run(api_master, "job", "show", "runs", job_id, "--run-id", missing))


def test_job_kill_stops_a_run_and_the_history_shows_it_failed(api_master: MasterProcess, api: httpx.Client) -> None:
    job_id = unique("myjob", "-")
    assert api.post("/v1/jobs", json=metronome_job(job_id, with_schedule=False)).status_code == 201
    killed, kept = start_run(api, job_id), start_run(api, job_id)
    assert ok(run(api_master, "job", "kill", job_id, killed)).strip() == f"run {killed} of job {job_id} stopped"
    wait_until(lambda: native_run(api, job_id, killed)["status"] == "FAILED", 15, message="the run ends")
    assert native_run(api, job_id, kept)["status"] == "INITIAL"

    active = ok(run(api_master, "job", "show", "runs", job_id)).splitlines()[1:]
    assert [line.split()[0] for line in active] == [kept]
    every = ok(run(api_master, "job", "show", "runs", job_id, "--all")).splitlines()[1:]
    assert sorted(line.split()[:2] for line in every) == sorted([[killed, "FAILED"], [kept, "INITIAL"]])

    history = ok(run(api_master, "job", "history", job_id)).splitlines()
    assert history[0].startswith(f"{job_id}: 0 successful, 1 failed; last success N/A, last failure 2")
    assert history[1].split() == ["ID", "STATUS", "STARTED", "FINISHED"]
    assert [line.split()[:2] for line in history[2:]] == [[killed, "FAILED"]]
    assert [line.split()[0] for line in ok(run(api_master, "job", "history", job_id, "--failures")).splitlines()[2:]] == [
        killed
    ]
    assert ok(run(api_master, "job", "history", job_id)).splitlines()[2:] == ok(
        run(api_master, "job", "history", job_id, "--last")
    ).splitlines()[2:]
    as_json = json.loads(ok(run(api_master, "job", "history", job_id, "--json")))
    assert [r["id"] for r in as_json["history"]["failedFinishedRuns"]] == [killed]
    assert [r["id"] for r in json.loads(ok(run(api_master, "job", "history", job_id, "--failures", "--json")))] == [killed]

    assert "(HTTP 409)" in failed(run(api_master, "job", "kill", job_id, killed))  # it has ended


def test_job_kill_all_stops_every_active_run(api_master: MasterProcess, api: httpx.Client) -> None:
    job_id = unique("myjob", "-")
    assert api.post("/v1/jobs", json=metronome_job(job_id, with_schedule=False)).status_code == 201
    runs = {start_run(api, job_id), start_run(api, job_id)}
    out = ok(run(api_master, "job", "kill", job_id, "--all")).splitlines()
    assert sorted(out) == sorted(f"run {r} of job {job_id} stopped" for r in runs)
    wait_until(lambda: api.get(f"/v1/jobs/{job_id}/runs").json() == [], 15, message="no active runs")
    assert ok(run(api_master, "job", "kill", job_id, "--all")).strip() == f"job {job_id} has no active runs"


@pytest.mark.parametrize("args", [(), ("RUN", "--all")])
def test_job_kill_needs_a_run_id_or_all(api_master: MasterProcess, args: tuple[str, ...]) -> None:
    result = run(api_master, "job", "kill", "some_job", *args)
    assert result.returncode == 2 and "give either RUN_ID or --all" in result.stderr
    assert result.stdout == ""


def test_job_remove_refuses_a_job_with_active_runs_unless_asked(api_master: MasterProcess, api: httpx.Client) -> None:
    job_id = unique("myjob", "-")
    assert api.post("/v1/jobs", json=metronome_job(job_id, with_schedule=False)).status_code == 201
    start_run(api, job_id)
    stderr = failed(run(api_master, "job", "remove", job_id))
    assert stderr.startswith("error: There are active job runs. Override with stopCurrentJobRuns=true")
    assert "(HTTP 409)" in stderr
    assert ok(run(api_master, "job", "remove", job_id, "--stop-current-job-runs")).strip() == f"job {job_id} removed"
    assert api.get(f"/v1/jobs/{job_id}").status_code == 404


def test_job_history_of_an_unknown_job_fails(api_master: MasterProcess) -> None:
    name = unique()
    assert failed(run(api_master, "job", "history", name)) == f"error: Job not found: {name} (HTTP 404)\n"


def test_job_schedule_add_show_update_remove(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    job_id = v1_job(api, tmp_path, with_schedule=False)
    nightly = {"id": "nightly", "cron": "20 0 * * *", "timezone": "UTC", "concurrencyPolicy": "ALLOW",
               "enabled": True, "startingDeadlineSeconds": 900}
    path = write(tmp_path, nightly, "nightly.json")
    assert ok(run(api_master, "job", "schedule", "add", job_id, path)).strip() == f"schedule nightly of job {job_id} added"
    stderr = failed(run(api_master, "job", "schedule", "add", job_id, path))
    assert "A schedule with id nightly already exists (HTTP 409)" in stderr

    lines = ok(run(api_master, "job", "schedule", "show", job_id)).splitlines()
    assert lines[0].split() == ["ID", "CRON", "TIMEZONE", "ENABLED", "CONCURRENCY", "NEXT", "RUN"]
    cells = lines[1].split()
    assert cells[:10] == ["nightly", "20", "0", "*", "*", "*", "UTC", "true", "ALLOW", cells[9]]
    assert cells[10] == "00:20:00"
    shown = json.loads(ok(run(api_master, "job", "schedule", "show", job_id, "--json")))
    assert shown == api.get(f"/v1/jobs/{job_id}/schedules").json()
    assert shown[0]["nextRunAt"].endswith("T00:20:00.000+0000")

    changed = write(tmp_path, {**nightly, "cron": "0 3 * * *"}, "changed.json")
    assert ok(run(api_master, "job", "schedule", "update", job_id, changed)).strip() == (
        f"schedule nightly of job {job_id} updated"
    )
    assert api.get(f"/v1/jobs/{job_id}/schedules/nightly").json()["cron"] == "0 3 * * *"
    bad = write(tmp_path, {**nightly, "cron": "0 0 31 2 *"}, "bad.json")
    assert "\n  /cron: " in failed(run(api_master, "job", "schedule", "update", job_id, bad))

    assert ok(run(api_master, "job", "schedule", "remove", job_id, "nightly")).strip() == (
        f"schedule nightly of job {job_id} removed"
    )
    assert json.loads(ok(run(api_master, "job", "schedule", "show", job_id, "--json"))) == []
    assert "Schedule not found: nightly (HTTP 404)" in failed(run(api_master, "job", "schedule", "remove", job_id, "nightly"))


def test_job_log_without_runs_or_tasks(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert failed(run(api_master, "job", "log", name)) == f"error: job {name} has no runs yet\n"
    run_id = ok(run(api_master, "job", "run", name)).strip()
    result = run(api_master, "job", "log", name)
    assert ok(result) == "" and result.stderr == f"run {run_id} of job {name} has no tasks yet (INITIAL)\n"
    assert "(HTTP 404)" in failed(run(api_master, "job", "log", name, "20990101000000abcde"))
    assert "(HTTP 404)" in failed(run(api_master, "job", "log", name, "--task", "no-such-task"))


def test_job_disable_and_enable(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert ok(run(api_master, "job", "disable", name)).strip() == f"job {name} disabled"
    assert api.get(f"/job/{name}/disable").json() is True

    stderr = failed(run(api_master, "job", "run", name))
    assert "(HTTP 409)" in stderr

    assert ok(run(api_master, "job", "enable", name)).strip() == f"job {name} enabled"
    assert api.get(f"/job/{name}/disable").json() is False


@pytest.mark.parametrize("kind", ["running", "failover"])
def test_job_tasks_prints_the_api_list(api_master: MasterProcess, api: httpx.Client, kind: str) -> None:
    assert json.loads(ok(run(api_master, "job", "tasks", kind, "--json"))) == api.get(f"/job/tasks/{kind}").json()


def test_job_executions_prints_a_table_and_json(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert ok(run(api_master, "job", "executions", name)).splitlines() == ["JOB  SHARD  STATE  AGENT  STARTED  CAUSE  TASK"]
    page = json.loads(ok(run(api_master, "job", "executions", name, "--json")))
    assert page == api.get("/job/events/executions", params={"jobName": name, "per_page": 20}).json()


def test_job_update_replaces_a_native_configuration(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    changed = job_body(name, shardingTotalCount=6, cron="0 30 * * * ?")
    assert ok(run(api_master, "job", "update", write(tmp_path, changed))).strip() == f"job {name} updated"
    job = api.get(f"/job/jobs/{name}").json()
    assert (job["shardingTotalCount"], job["cron"]) == (6, "0 30 * * * ?")


def test_job_update_replaces_a_metronome_spec_and_keeps_its_schedule(
    api_master: MasterProcess, api: httpx.Client, tmp_path: Path
) -> None:
    job_id = v1_job(api, tmp_path)
    changed = {**metronome_job(job_id, with_schedule=False), "description": "changed"}
    assert ok(run(api_master, "job", "update", write(tmp_path, changed))).strip() == f"job {job_id} updated"
    job = api.get(f"/v1/jobs/{job_id}", params={"embed": "schedules"}).json()
    assert job["description"] == "changed" and [s["id"] for s in job["schedules"]] == ["sleep-schedule"]


def test_job_update_of_an_unknown_job_fails(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    assert "(HTTP 404)" in failed(run(api_master, "job", "update", write(tmp_path, job_body(name))))
    assert api.get(f"/job/jobs/{name}").status_code == 404
    job_id = unique("myjob", "-")
    stderr = failed(run(api_master, "job", "update", write(tmp_path, metronome_job(job_id))))
    assert stderr == f"error: Job not found: {job_id} (HTTP 404)\n"


def test_job_remove(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    assert ok(run(api_master, "job", "remove", name)).strip() == f"job {name} removed"
    assert api.get(f"/job/jobs/{name}").status_code == 404
    assert api.get(f"/app/{name}").status_code == 404
    assert failed(run(api_master, "job", "remove", name)) == f"error: Job not found: {name} (HTTP 404)\n"


def test_names_cannot_reach_other_resources_through_the_url(api_master: MasterProcess, api: httpx.Client) -> None:
    """A name is one URL segment: ``../../app/X`` must not disable the app X."""
    app = unique("app")
    assert api.post("/app", json=app_body(app)).status_code == 204
    failed(run(api_master, "job", "disable", f"../app/{app}"))
    failed(run(api_master, "job", "show", f"../app/{app}"))
    assert api.get(f"/app/{app}/disable").json() is False


def test_url_may_also_follow_the_action(api_master: MasterProcess, url: str, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    credentials = api_master.users.env() if api_master.users is not None else {}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}, **credentials}
    outputs = [
        ok(subprocess.run([sys.executable, "-m", "elasticjob", *args], capture_output=True, text=True,
                          timeout=30, env=env))
        for args in (["job", "show", name, "--url", url], ["job", "schedule", "show", name, "--json", "--url", url])
    ]
    assert json.loads(outputs[0])["id"] == name
    assert [s["id"] for s in json.loads(outputs[1])] == ["default"]  # the native cron, as a /v1 schedule


def test_url_from_the_environment(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique()
    assert api.post("/job/register", json=job_body(name)).status_code == 204
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ELASTICJOB_")}, **api_master.env()}
    result = subprocess.run(
        [sys.executable, "-m", "elasticjob", "job", "show", name, "--native"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert json.loads(ok(result))["jobName"] == name


# ---- apps ---------------------------------------------------------------------------------------------


def test_app_add_list_show(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    name = unique("app")
    assert (
        ok(run(api_master, "app", "add", write(tmp_path, app_body(name, cpuCount=2.0)))).strip() == "app registered"
    )
    shown = json.loads(ok(run(api_master, "app", "show", name, "--json")))
    assert shown == api.get(f"/app/{name}").json()
    assert shown["cpuCount"] == 2.0 and shown["memoryMB"] == 128.0

    lines = ok(run(api_master, "app", "list")).splitlines()
    assert lines[0].split() == ["NAME", "URL", "CPUS", "MEM(MB)"]
    row = next(line for line in lines if line.startswith(name + " "))
    assert row.split() == [name, f"http://app_host:8080/{name}.tar.gz", "2.0", "128.0"]
    assert shown in json.loads(ok(run(api_master, "app", "list", "--json")))


def test_app_update(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    name = unique("app")
    assert api.post("/app", json=app_body(name)).status_code == 204
    assert (
        ok(run(api_master, "app", "update", write(tmp_path, app_body(name, memoryMB=512.0)))).strip()
        == "app updated"
    )
    assert api.get(f"/app/{name}").json()["memoryMB"] == 512.0


def test_app_disable_and_enable(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique("app")
    assert api.post("/app", json=app_body(name)).status_code == 204
    assert ok(run(api_master, "app", "disable", name)).strip() == f"app {name} disabled"
    assert api.get(f"/app/{name}/disable").json() is True
    assert ok(run(api_master, "app", "enable", name)).strip() == f"app {name} enabled"
    assert api.get(f"/app/{name}/disable").json() is False


def test_app_remove_refuses_an_app_in_use_unless_cascade(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    app, job = unique("app"), unique()
    ok(run(api_master, "app", "add", write(tmp_path, app_body(app), "app.json")))
    ok(run(api_master, "job", "add", write(tmp_path, job_body(job, appURL=None, appName=app), "job.json")))

    stderr = failed(run(api_master, "app", "remove", app))
    assert "(HTTP 409)" in stderr and job in stderr
    assert api.get(f"/app/{app}").status_code == 200

    assert ok(run(api_master, "app", "remove", app, "--cascade")).strip() == f"app {app} removed"
    assert api.get(f"/app/{app}").status_code == 404
    assert api.get(f"/job/jobs/{job}").status_code == 404


def test_app_remove_of_an_unused_app(api_master: MasterProcess, api: httpx.Client) -> None:
    name = unique("app")
    assert api.post("/app", json=app_body(name)).status_code == 204
    ok(run(api_master, "app", "remove", name))
    assert api.get(f"/app/{name}").status_code == 404


# ---- errors -------------------------------------------------------------------------------------------


def test_invalid_job_file_names_the_field(api_master: MasterProcess, api: httpx.Client, tmp_path: Path) -> None:
    name = unique()
    stderr = failed(run(api_master, "job", "add", write(tmp_path, job_body(name, shardingTotalCount="five"))))
    assert "(HTTP 422)" in stderr
    assert "\n  shardingTotalCount: " in stderr
    assert api.get(f"/job/jobs/{name}").status_code == 404


def test_invalid_cron_in_a_job_file_names_the_field(api_master: MasterProcess, tmp_path: Path) -> None:
    stderr = failed(run(api_master, "job", "add", write(tmp_path, job_body(unique(), cron="0 0 25 * * ?"))))
    assert "\n  cron: " in stderr


def test_invalid_app_file_names_the_field(api_master: MasterProcess, tmp_path: Path) -> None:
    stderr = failed(run(api_master, "app", "add", write(tmp_path, app_body(unique("app"), memoryMB=0))))
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
    "args",
    [("job", "list"), ("job", "show", "x"), ("app", "list"), ("job", "run", "x"), ("job", "log", "x"),
     ("job", "schedule", "show", "x"), ("job", "kill", "x", "--all")],
)
def test_unreachable_master_exits_3_with_a_clear_error(args: tuple[str, ...]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = run(dead, *args)
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot reach the master at {dead} (")
    assert result.stderr.endswith("is it running? Set --url or ELASTICJOB_URL\n")
    assert result.stderr.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize(
    "args",
    [("job", "frobnicate"), ("job", "show"), ("job", "run", "x", "--env", "NOEQUALS"), ("job", "list", "--bad"),
     ("job", "schedule"), ("app", "remove")],
)
def test_usage_errors_exit_2(api_master: MasterProcess, args: tuple[str, ...]) -> None:
    result = run(api_master, *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and "usage: elasticjob" in result.stderr


@pytest.mark.parametrize("args", [("job", "--help"), ("app", "--help"), ("job", "run", "--help")])
def test_help_documents_the_exit_codes(args: tuple[str, ...]) -> None:
    out = ok(subprocess.run([sys.executable, "-m", "elasticjob", *args], capture_output=True, text=True, timeout=30))
    assert "exit status:" in out
    assert "\n  3  the master could not be reached" in out and "\n  2  usage error" in out
