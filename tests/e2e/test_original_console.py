"""Every HTTP call of the original Elastic-Job-Cloud 2.1 console, replayed against a real cluster.

The console is the scheduler's ``console/`` static pages (``elastic-job-cloud/elastic-job-cloud-scheduler/
src/main/resources/console/`` of apache/shardingsphere-elasticjob, before the 3.0 rename; read at commit
3ea47dec, the 2.1 pages in Chinese, except the add/modify scripts, whose 2.1 versions call
``app_common.js``'s and ``job_common.js``'s ``submitConfirm``). ``CALLS`` names, for each call, the file
it comes from, with the method and path it sends; the test replays them in the order an operator uses the
pages and asserts each answers 2xx and carries the fields the page reads. It fails if a call of
``CALLS`` was not replayed. The dashboard's nine calls (``js/history/job_dashboard.js``) are covered by
``tests/e2e/test_statistics.py``; the form bodies' edge cases by ``tests/integration/
test_api_console_forms.py``.

How the pages send them (jQuery 2.1.4, bootstrap-table):
- With an auth file (the suite's default), every call carries HTTP Basic credentials, as the browser sent
  them for the original console (``cluster.api``: the admin's).
- A bootstrap-table of ``queryParamsType: "limit"`` with client-side paging (apps, jobs) adds
  ``search=&sort=&order=asc&offset=0&limit=10``, and ``_=<ms>`` where the page set ``cache: false``.
  The jobs table's markup is not stored at that commit; its query is taken as the apps table's (the
  scripts set the same options).
- The status tabs (``html/job/job_status.html``) name ``data-query-params="queryParams"``, which that page
  does not define: bootstrap-table then sends the name itself (``?queryParams``), or, once the operator
  has opened a history page, that page's ``queryParams`` (its fields empty).
- The history tables page on the server with ``per_page``/``page`` and send every search field, empty
  ones as ``name=``; ``sort`` is the sorted column (``isSuccess`` for the result column) or empty, and
  ``order`` ``asc`` unless the operator sorted descending. Dates are the date picker's
  ``YYYY-MM-DD HH:mm:ss``; the master reads a time without an offset as UTC (the original: its own time
  zone), so this test sends UTC wall-clock times, as a browser in UTC would.
- ``isSuccess`` is the radio buttons' ``1``, ``0`` or ``""``.
- ``dataType: "json"`` on the forms and void calls: jQuery takes a 204 with no body as success, so those
  must answer exactly that.
- The name checks of the add forms (``GET /api/app/{name}``, ``GET /api/job/jobs/{name}``) treat an error
  answer as "not registered yet": for a new name the master's 404 is what lets the form submit (the
  original answered an error too).

Not replayed, with why:
- ``authorityControl()`` (``js/common/common.js``) sends ``HEAD /`` and reads the original's ``identify``
  header (its guest/root login). That goes to whatever serves the pages, not to ``/api``, and only its
  ``complete`` callback runs: without the header every button stays enabled.
- No 2.1 page triggers a job; the test triggers through the API's ``POST /api/job/trigger`` (the
  original's route) to have history to search.
- ``DELETE /api/app/{name}`` of an app that still has jobs: the original removed the jobs with it (its
  dialog says so); this master answers 409 unless ``?cascade=true``, which the console does not send.
  The operator's order here removes the job first, as the README asks.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

# What a shard does is told by the job parameter: the only input of the console's form a script reads.
SCRIPT = """#!/bin/sh
if [ "$ELASTICJOB_JOB_PARAMETER" = "fail-shard-1" ] && [ "$ELASTICJOB_SHARDING_ITEM" = "1" ]; then
  echo "shard 1 fails" >&2; exit 3
fi
if [ "$ELASTICJOB_JOB_PARAMETER" = "sleep" ]; then sleep 120; fi
echo done
"""

# (file the call comes from, method, path under the page's origin with {app}/{job} for the names)
CALLS: list[tuple[str, str, str]] = [
    ("js/common/common.js refreshAppNavTag", "GET", "/api/app/list"),
    ("js/common/common.js refreshJobNavTag", "GET", "/api/job/jobs"),
    ("js/app/apps_overview.js renderAppOverview", "GET", "/api/app/list"),
    ("js/app/app_common.js validate (appName taken?)", "GET", "/api/app/{app}"),
    ("js/app/app_common.js submitConfirm (add_app.js)", "POST", "/api/app"),
    ("js/common/common.js selectAppStatus (apps_overview.js operationApp)", "GET", "/api/app/{app}/disable"),
    ("js/app/apps_overview.js bindDetailAppButton", "GET", "/api/app/{app}"),
    ("js/app/apps_overview.js bindModifyAppButton", "GET", "/api/app/{app}"),
    ("js/app/app_common.js submitConfirm (modify_app.js)", "PUT", "/api/app"),
    ("js/job/jobs_overview.js renderJobOverview", "GET", "/api/job/jobs"),
    ("js/job/job_common.js validate (jobName taken?)", "GET", "/api/job/jobs/{job}"),
    ("js/job/job_common.js validate (jobAppName registered?)", "GET", "/api/app/{app}"),
    ("js/job/job_common.js submitJobForm (add_job.js)", "POST", "/api/job/register"),
    ("js/job/jobs_overview.js selectJobStatus (operationJob)", "GET", "/api/job/{job}/disable"),
    ("js/job/jobs_overview.js bindDetailJobButton", "GET", "/api/job/jobs/{job}"),
    ("js/job/jobs_overview.js bindModifyJobButton", "GET", "/api/job/jobs/{job}"),
    ("js/job/job_common.js submitJobForm (modify_job.js)", "PUT", "/api/job/update"),
    ("html/job/job_status.html running tab data-url", "GET", "/api/job/tasks/running"),
    ("html/job/job_status.html ready tab data-url", "GET", "/api/job/tasks/ready"),
    ("html/job/job_status.html failover tab data-url", "GET", "/api/job/tasks/failover"),
    ("html/history/job_exec_details.html data-url, js/history/job_exec_details.js queryParams", "GET",
     "/api/job/events/executions"),
    ("html/history/job_exec_status.html data-url, js/history/job_exec_status.js queryParams", "GET",
     "/api/job/events/statusTraces"),
    ("js/job/jobs_overview.js bindDisableJobButton", "POST", "/api/job/{job}/disable"),
    ("js/job/jobs_overview.js bindEnableJobButton (selectAppStatus first)", "DELETE", "/api/job/{job}/disable"),
    ("js/app/apps_overview.js bindDisableAppButton", "POST", "/api/app/{app}/disable"),
    ("js/app/apps_overview.js bindEnableAppButton", "DELETE", "/api/app/{app}/disable"),
    ("js/job/jobs_overview.js bindDeleteJobButton", "DELETE", "/api/job/deregister"),
    ("js/app/apps_overview.js bindDeleteAppButton", "DELETE", "/api/app/{app}"),
]

APP = "console_app"
JOB = "console_job"
SLEEPER = "console_sleeper"
WAITER = "console_waiter"
JSON = "application/json"


class Console:
    """Sends what the pages send, and remembers which of ``CALLS`` it sent."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.made: set[tuple[str, str, str]] = set()

    def send(
        self,
        source: str,
        method: str,
        path: str,
        query: str = "",
        *,
        json_body: Any = None,
        raw: bytes | None = None,
        content_type: str | None = None,
        status: int = 200,
    ) -> httpx.Response:
        template = path.replace(f"/{APP}", "/{app}")
        for name in (JOB, SLEEPER, WAITER):
            template = template.replace(f"/{name}", "/{job}")
        call = next((c for c in CALLS if c[0] == source and c[1] == method and c[2] == template), None)
        assert call is not None, (source, method, template)
        self.made.add(call)
        headers = {"Content-Type": content_type} if content_type else {}
        content = raw if raw is not None else (None if json_body is None else json.dumps(json_body).encode())
        response = self.client.request(method, path + (f"?{query}" if query else ""), content=content,
                                       headers=headers)
        assert response.status_code == status, (source, method, path, query, response.text)
        if status >= 400:
            body = response.json()
            assert set(body) == {"message", "details"} and body["message"], body
        elif status == 204:
            assert response.content == b"", (source, response.content)  # dataType "json" takes it so
        return response

    def json(self, source: str, method: str, path: str, query: str = "", **kwargs: Any) -> Any:
        response = self.send(source, method, path, query, **kwargs)
        assert response.headers["content-type"].startswith(JSON), response.headers
        return response.json()


def _ms() -> str:
    return str(int(time.time() * 1000))


def _table(cache_false: bool = True) -> str:
    """What a client-side paged bootstrap-table of ``queryParamsType: "limit"`` sends."""
    return "search=&sort=&order=asc&offset=0&limit=10" + (f"&_={_ms()}" if cache_false else "")


def _picker(at: dt.datetime) -> str:
    """The history pages' date picker: ``YYYY-MM-DD HH:mm:ss`` (UTC wall clock, see the docstring)."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _exec_query(**fields: str) -> str:
    """job_exec_details.js ``queryParams``: every field, in its order, empty unless given."""
    base = {"per_page": "10", "page": "1", "q": "", "sort": "", "order": "asc", "jobName": "", "taskId": "",
            "startTime": "", "endTime": "", "ip": "", "isSuccess": ""}
    return str(httpx.QueryParams({**base, **fields}))


def _status_query(**fields: str) -> str:
    """job_exec_status.js ``queryParams``."""
    base = {"per_page": "10", "page": "1", "q": "", "sort": "", "order": "asc", "jobName": "", "taskId": "",
            "slaveId": "", "source": "", "executionType": "", "state": "", "startTime": "", "endTime": ""}
    return str(httpx.QueryParams({**base, **fields}))


def _app_form(name: str, url: str, **inputs: Any) -> dict[str, Any]:
    """app_common.js ``getApp()``."""
    return {"appName": name, "cpuCount": "0.1", "memoryMB": "16", "bootstrapScript": "bin/run.sh",
            "appCacheEnable": True, "appURL": url, "eventTraceSamplingCount": "0", **inputs}


def _job_form(name: str, **inputs: Any) -> dict[str, Any]:
    """job_common.js ``getJob()`` of a SCRIPT job (the hidden inputs empty)."""
    return {"jobName": name, "appName": APP, "jobClass": "", "cron": "0 0 0 1 1 ? 2099", "jobType": "SCRIPT",
            "cpuCount": "0.1", "jobExecutionType": "TRANSIENT", "memoryMB": "16", "bootstrapScript": "",
            "beanName": "", "shardingTotalCount": "2", "jobParameter": "", "failover": False, "misfire": False,
            "streamingProcess": False, "applicationContext": "", "shardingItemParameters": "0=a,1=b",
            "scriptCommandLine": "", "description": "made by the 2.1 console", **inputs}


APP_FIELDS = {"appName", "cpuCount", "memoryMB", "bootstrapScript", "appURL", "eventTraceSamplingCount",
              "appCacheEnable"}  # apps_overview.js renderApp
JOB_FIELDS = {"jobName", "appName", "cron", "jobExecutionType", "shardingTotalCount", "cpuCount", "memoryMB",
              "failover", "misfire", "jobType"}  # jobs_overview.js renderJob (the rest may be absent: "")
EXEC_FIELDS = {"jobName", "taskId", "ip", "shardingItem", "source", "success", "failureCause", "startTime",
               "completeTime"}  # job_exec_details.html columns
TRACE_FIELDS = {"jobName", "taskId", "slaveId", "source", "shardingItems", "executionType", "state",
                "creationTime", "message"}  # job_exec_status.html columns


def _apps_pages(console: Console) -> list[dict[str, Any]]:
    """apps_overview.html as it loads: the table, then each row's enable/disable button state."""
    apps = console.json("js/app/apps_overview.js renderAppOverview", "GET", "/api/app/list", _table())
    for app in apps:
        assert {"appName", "appURL", "bootstrapScript"} <= set(app)
        disabled = console.json("js/common/common.js selectAppStatus (apps_overview.js operationApp)", "GET",
                                f"/api/app/{app['appName']}/disable", content_type=JSON)
        assert isinstance(disabled, bool)
    return list(apps)


def _jobs_page(console: Console) -> dict[str, bool]:
    """jobs_overview.html as it loads: the table, then each row's enable/disable button state."""
    jobs = console.json("js/job/jobs_overview.js renderJobOverview", "GET", "/api/job/jobs", _table())
    states = {}
    for job in jobs:
        assert {"jobName", "appName", "shardingTotalCount", "cron"} <= set(job)  # and jobClass, may be absent
        states[job["jobName"]] = console.json("js/job/jobs_overview.js selectJobStatus (operationJob)", "GET",
                                              f"/api/job/{job['jobName']}/disable", content_type=JSON)
    return states


def _nav_tags(console: Console) -> tuple[int, int]:
    apps = console.json("js/common/common.js refreshAppNavTag", "GET", "/api/app/list", f"_={_ms()}")
    jobs = console.json("js/common/common.js refreshJobNavTag", "GET", "/api/job/jobs", f"_={_ms()}")
    return len(apps), len(jobs)


def _status_tab(console: Console, tab: str, query: str) -> list[dict[str, Any]]:
    source = f"html/job/job_status.html {tab} tab data-url"
    rows = console.json(source, "GET", f"/api/job/tasks/{tab}", query)
    assert isinstance(rows, list)
    return rows


def _executions(console: Console, **fields: str) -> dict[str, Any]:
    source = "html/history/job_exec_details.html data-url, js/history/job_exec_details.js queryParams"
    page = console.json(source, "GET", "/api/job/events/executions", _exec_query(**fields))
    assert set(page) == {"total", "rows"} and page["total"] >= len(page["rows"])
    for row in page["rows"]:
        assert set(row) >= EXEC_FIELDS, row
    return page


def _traces(console: Console, **fields: str) -> dict[str, Any]:
    source = "html/history/job_exec_status.html data-url, js/history/job_exec_status.js queryParams"
    page = console.json(source, "GET", "/api/job/events/statusTraces", _status_query(**fields))
    assert set(page) == {"total", "rows"} and page["total"] >= len(page["rows"])
    for row in page["rows"]:
        assert set(row) >= TRACE_FIELDS, row
    return page


def _task_ids(page: dict[str, Any]) -> set[str]:
    return {row["taskId"] for row in page["rows"]}


def test_every_call_of_the_original_console_answers_in_an_operators_order(
    cluster: Cluster, tmp_path: Path
) -> None:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "console.tar.gz", executable=("bin/run.sh",))
    cluster.start_master()
    agent = cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    with cluster.api as client:
        console = Console(client)
        # index.html: the nav tags, then the apps page.
        assert _nav_tags(console) == (0, 0)
        assert _apps_pages(console) == []

        # Add app: the name check (a new name is an error answer: "not registered"), then the form.
        console.send("js/app/app_common.js validate (appName taken?)", "GET", f"/api/app/{APP}",
                     content_type=JSON, status=404)
        console.send("js/app/app_common.js submitConfirm (add_app.js)", "POST", "/api/app",
                     json_body=_app_form(APP, tarball.as_uri()), content_type=JSON, status=204)
        assert [a["appName"] for a in _apps_pages(console)] == [APP]
        assert _nav_tags(console) == (1, 0)

        # App detail, modify (the form filled from the app, one input changed), and the page again.
        app = console.json("js/app/apps_overview.js bindDetailAppButton", "GET", f"/api/app/{APP}",
                           content_type=JSON)
        assert set(app) >= APP_FIELDS and app["appURL"] == tarball.as_uri()
        app = console.json("js/app/apps_overview.js bindModifyAppButton", "GET", f"/api/app/{APP}")
        form = _app_form(APP, app["appURL"], cpuCount=str(app["cpuCount"]), memoryMB="32",
                         bootstrapScript=app["bootstrapScript"], appCacheEnable=app["appCacheEnable"],
                         eventTraceSamplingCount=str(app["eventTraceSamplingCount"]))
        console.send("js/app/app_common.js submitConfirm (modify_app.js)", "PUT", "/api/app", json_body=form,
                     content_type=JSON, status=204)
        assert client.get(f"/api/app/{APP}").json()["memoryMB"] == 32
        _apps_pages(console)

        # Jobs page, add job (name and app checks, then the form), detail, modify.
        assert _jobs_page(console) == {}
        console.send("js/job/job_common.js validate (jobName taken?)", "GET", f"/api/job/jobs/{JOB}",
                     content_type=JSON, status=404)
        console.json("js/job/job_common.js validate (jobAppName registered?)", "GET", f"/api/app/{APP}",
                     content_type=JSON)
        console.send("js/job/job_common.js submitJobForm (add_job.js)", "POST", "/api/job/register",
                     json_body=_job_form(JOB, scriptCommandLine="bin/run.sh"), content_type=JSON, status=204)
        assert _jobs_page(console) == {JOB: False}
        job = console.json("js/job/jobs_overview.js bindDetailJobButton", "GET", f"/api/job/jobs/{JOB}",
                           content_type=JSON)
        assert set(job) >= JOB_FIELDS and job["jobType"] == "SCRIPT" and job["shardingTotalCount"] == 2
        job = console.json("js/job/jobs_overview.js bindModifyJobButton", "GET", f"/api/job/jobs/{JOB}")
        # renderJob fills every input but the script's command line: the form sends it as typed again.
        form = _job_form(JOB, cron=job["cron"], shardingTotalCount=str(job["shardingTotalCount"]),
                         cpuCount=str(job["cpuCount"]), memoryMB=str(job["memoryMB"]),
                         shardingItemParameters=job.get("shardingItemParameters", ""),
                         description="changed by the 2.1 console", scriptCommandLine="bin/run.sh")
        form["jobParameter"] = "fail-shard-1"
        console.send("js/job/job_common.js submitJobForm (modify_job.js)", "PUT", "/api/job/update",
                     json_body=form, content_type=JSON, status=204)
        assert client.get(f"/api/job/jobs/{JOB}").json()["description"] == "changed by the 2.1 console"
        assert _nav_tags(console) == (1, 1)

        # Two more jobs through the form: one that runs long, one too big for the agent (it waits).
        for name, inputs in ((SLEEPER, {"jobParameter": "sleep", "failover": True}),
                             (WAITER, {"memoryMB": "4096"})):
            body = _job_form(name, shardingTotalCount="1", shardingItemParameters="", scriptCommandLine="bin/run.sh",
                             **inputs)
            console.send("js/job/job_common.js submitJobForm (add_job.js)", "POST", "/api/job/register",
                         json_body=body, content_type=JSON, status=204)

        # Status pages, before anything ran: empty lists.
        for tab in ("running", "ready", "failover"):
            assert _status_tab(console, tab, "queryParams") == []

        # Trigger (the API's route: no 2.1 page has the button) and wait for the job's two shards.
        started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
        for name in (JOB, SLEEPER, WAITER):
            response = client.post("/api/job/trigger", content=name.encode(), headers={"Content-Type": JSON})
            assert response.status_code == 204, response.text

        def ended() -> list[dict[str, Any]] | None:
            rows = _executions(console, jobName=JOB)["rows"]
            return rows if len([r for r in rows if r["completeTime"]]) == 2 else None

        rows = wait_until(ended, 30, message="both shards end")
        wait_until(lambda: _status_tab(console, "running", "queryParams"), 30, message="the sleeper runs")

        # The status tabs, fresh (?queryParams) and after a history page defined its queryParams.
        for query in ("queryParams", _status_query()):
            running = _status_tab(console, "running", query)
            assert [r["metaInfo"]["jobName"] for r in running] == [SLEEPER]
            assert {"id", "slaveId", "type"} <= set(running[0]) and running[0]["metaInfo"]["shardingItems"] == [0]
            ready = _status_tab(console, "ready", query)
            assert [(r["jobName"], r["times"]) for r in ready] == [(WAITER, "1")]
            assert _status_tab(console, "failover", query) == []
        agent_id = running[0]["slaveId"]

        # Execution history: the page as it opens, then each search field, then each sortable column.
        by_task = {r["taskId"]: r for r in rows}
        succeeded = {t for t, r in by_task.items() if r["success"]}
        failed = set(by_task) - succeeded
        assert len(succeeded) == len(failed) == 1
        assert _executions(console)["total"] >= 2
        assert _task_ids(_executions(console, jobName=JOB)) == set(by_task)
        some_task = next(iter(failed))
        assert _task_ids(_executions(console, taskId=some_task)) == {some_task}
        assert _task_ids(_executions(console, jobName=JOB, ip="127.0.0.1")) == set(by_task)
        assert _executions(console, ip="10.9.9.9")["total"] == 0
        assert _task_ids(_executions(console, jobName=JOB, isSuccess="1")) == succeeded
        assert _task_ids(_executions(console, jobName=JOB, isSuccess="0")) == failed
        # The picker has whole seconds: the window's end is a minute ahead, as an operator would pick it.
        window = {"startTime": _picker(started), "endTime": _picker(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))}
        assert _task_ids(_executions(console, jobName=JOB, **window)) == set(by_task)
        before = {"startTime": _picker(started - dt.timedelta(hours=1)), "endTime": _picker(started)}
        assert _executions(console, jobName=JOB, **before)["total"] == 0
        assert _executions(console, startTime=window["startTime"])["total"] >= 2
        for sort in ("jobName", "ip", "source", "isSuccess", "startTime", "completeTime"):
            for order in ("asc", "desc"):
                assert _executions(console, jobName=JOB, sort=sort, order=order)["total"] == 2
        assert _executions(console, per_page="20", page="2")["rows"] == []
        assert next(r for r in rows if not r["success"])["failureCause"]

        # Status history: as it opens, then each search field.
        traces = _traces(console, jobName=JOB)
        assert {r["state"] for r in traces["rows"]} >= {"TASK_STAGING", "TASK_RUNNING", "TASK_FINISHED",
                                                         "TASK_FAILED"}
        assert _traces(console)["total"] >= traces["total"]
        assert _task_ids(_traces(console, taskId=some_task)) == {some_task}
        assert {r["slaveId"] for r in _traces(console, slaveId=agent_id)["rows"]} == {agent_id}
        assert _traces(console, slaveId="no-such-agent")["total"] == 0
        for source, states in (("CLOUD_SCHEDULER", {"TASK_STAGING"}),
                               ("CLOUD_EXECUTOR", {"TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED"})):
            assert {r["state"] for r in _traces(console, jobName=JOB, source=source)["rows"]} == states
        assert _traces(console, jobName=JOB, source="CLOUD_SCHEDULER", state="TASK_RUNNING")["total"] == 0
        assert _traces(console, jobName=JOB, executionType="READY")["total"] == traces["total"]
        assert _traces(console, jobName=JOB, executionType="FAILOVER")["total"] == 0
        for state in ("TASK_STAGING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED"):
            assert {r["state"] for r in _traces(console, jobName=JOB, state=state)["rows"]} == {state}
        assert _traces(console, state="TASK_KILLED")["total"] == 0
        assert _traces(console, jobName=JOB, **window)["total"] == traces["total"]
        assert _traces(console, jobName=JOB, **before)["total"] == 0
        for sort in ("jobName", "slaveId", "source", "executionType", "state", "creationTime"):
            assert _traces(console, jobName=JOB, sort=sort, order="desc")["total"] == traces["total"]

        # The failover tab: the sleeper's agent dies, its shard waits to run again, then runs on a new agent.
        agent.kill()
        failover = wait_until(lambda: _status_tab(console, "failover", "queryParams"), 30,
                              message="the lost shard is queued for failover")
        assert failover[0]["taskInfo"] == {"jobName": SLEEPER, "shardingItems": [0]}
        assert failover[0]["originalTaskId"].startswith(f"{SLEEPER}@-@0@-@READY@-@")
        cluster.start_agent(cpus=2, mem=1024)
        wait_until(lambda: _traces(console, jobName=SLEEPER, executionType="FAILOVER")["rows"], 30,
                   message="the shard runs again, as a FAILOVER task")
        assert {r["executionType"] for r in _traces(console, jobName=SLEEPER, executionType="FAILOVER")["rows"]} \
            == {"FAILOVER"}
        assert {r["executionType"] for r in _traces(console, jobName=SLEEPER, executionType="READY")["rows"]} \
            == {"READY"}

        # Disable and enable the job, then the app (an enabled job's button asks for its app's state first).
        console.send("js/job/jobs_overview.js bindDisableJobButton", "POST", f"/api/job/{JOB}/disable",
                     content_type=JSON, status=204)
        assert _jobs_page(console)[JOB] is True
        assert console.json("js/common/common.js selectAppStatus (apps_overview.js operationApp)", "GET",
                            f"/api/app/{APP}/disable", content_type=JSON) is False
        console.send("js/job/jobs_overview.js bindEnableJobButton (selectAppStatus first)", "DELETE",
                     f"/api/job/{JOB}/disable", content_type=JSON, status=204)
        assert _jobs_page(console)[JOB] is False
        console.send("js/app/apps_overview.js bindDisableAppButton", "POST", f"/api/app/{APP}/disable",
                     content_type=JSON, status=204)
        assert client.get(f"/api/app/{APP}/disable").json() is True
        console.send("js/app/apps_overview.js bindEnableAppButton", "DELETE", f"/api/app/{APP}/disable",
                     content_type=JSON, status=204)
        assert client.get(f"/api/app/{APP}/disable").json() is False

        # Delete the jobs (the body is the bare name, sent as application/json), then the app.
        for name in (JOB, SLEEPER, WAITER):
            console.send("js/job/jobs_overview.js bindDeleteJobButton", "DELETE", "/api/job/deregister",
                         raw=name.encode(), content_type=JSON, status=204)
        assert _jobs_page(console) == {}
        console.send("js/app/apps_overview.js bindDeleteAppButton", "DELETE", f"/api/app/{APP}",
                     content_type=JSON, status=204)
        assert _apps_pages(console) == []
        assert _nav_tags(console) == (0, 0)

    assert set(CALLS) == console.made, set(CALLS) - console.made
