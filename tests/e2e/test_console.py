"""The web console in a real browser (Debian's Chromium, headless, driven by Playwright) against a real
cluster: the pages an operator uses every day, each test saving a screenshot of its page
(``ELASTICJOB_SCREENSHOTS``, default ``.run/screenshots``; the README's come from here).

With the suite's auth file the console is used as its admin: the dashboard's test logs in through the
login page, the others take the session straight from ``POST /auth/login`` (the login test has its own
users and checks what each role sees)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from tests.e2e.conftest import Cluster
from tests.support import ApiUsers, MasterProcess, build_tarball

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("ELASTICJOB_SCREENSHOTS", Path(__file__).parents[2] / ".run" / "screenshots"))
SCRIPT = """#!/bin/sh
echo "hello from shard $ELASTICJOB_SHARDING_ITEM ${GREETING:-}"
echo "to stderr" >&2
sleep "${SLEEP:-0}"
"""
NEVER = "0 0 0 1 1 ? 2099"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    shoot(opened, request.node.name)
    context.close()
    assert errors == [], errors  # no script error on any page the test visited


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _cluster(cluster: Cluster, tmp_path: Path, *jobs: tuple[str, str, int]) -> str:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "hello.tar.gz", executable=("bin/run.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024, attributes="rack=r1", agent_id="agent-one")
    cluster.wait_agents(1)
    with cluster.api as client:
        app = {"appName": "hello", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
               "cpuCount": 0.1, "memoryMB": 16}
        assert client.post("/app", json=app).status_code == 204
        for name, sleep, memory in jobs:
            job = {"jobName": name, "appName": "hello", "cron": NEVER, "shardingTotalCount": 2,
                   "cpuCount": 0.1, "memoryMB": memory, "environment": {"SLEEP": sleep}}
            assert client.post("/job/register", json=job).status_code == 204
    return cluster.masters[0].url


def _log_in(context: BrowserContext, master: MasterProcess) -> None:
    """Give ``context`` a console session as the suite's admin, from ``POST /auth/login``; nothing to do
    for a master without an auth file."""
    if master.users is None:
        return
    answer = context.request.post(f"{master.url}/auth/login",
                                  data={"user": ApiUsers.ADMIN, "password": master.users.password})
    assert answer.status == 204, answer.text()


def _log_in_on_the_page(page: Page, master: MasterProcess) -> None:
    """Log in as the suite's admin on the login screen the console shows; nothing to do without auth."""
    if master.users is None:
        return
    page.get_by_label("User").fill(ApiUsers.ADMIN)
    page.get_by_label("Password").fill(master.users.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("who")).to_have_text("admin (admin)")


def _runs_with(page: Page, status: str) -> Locator:
    return page.get_by_test_id("runs").locator("tbody tr").filter(
        has=page.get_by_test_id("status").filter(has_text=status))


def _open_run(page: Page, status: str) -> None:
    """Open the newest run listed with ``status`` (newest first)."""
    _runs_with(page, status).first.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"#/jobs/[^/]+/runs/\d{14}[0-9a-z]{5}$"))


def test_dashboard_shows_the_cluster_and_its_task_results(cluster: Cluster, tmp_path: Path, page: Page) -> None:
    url = _cluster(cluster, tmp_path, ("greeter", "0", 32), ("sleeper", "300", 32))
    with cluster.api as client:  # results for the charts: one run of two shards
        assert client.post("/job/trigger", content=b"greeter").status_code == 204
    page.goto(url + "/")
    _log_in_on_the_page(page, cluster.masters[0])
    expect(page.get_by_test_id("registeredJobs")).to_contain_text("2")
    expect(page.get_by_test_id("registeredApps")).to_contain_text("1")
    expect(page.get_by_test_id("agents")).to_have_text("1")
    expect(page.get_by_test_id("zookeeper")).to_contain_text("CONNECTED")
    expect(page.get_by_test_id("leader")).to_have_text(url.removeprefix("http://"))
    expect(page.get_by_test_id("cpu-bar")).to_contain_text("/ 2")
    expect(page.get_by_test_id("mem-bar")).to_contain_text("/ 1,024 MB")
    # The charts show the finished shards (the statistics API; the page refreshes them every minute).
    expect(page.get_by_test_id("chart-day")).to_contain_text("succeeded 2", timeout=90_000)
    expect(page.get_by_test_id("chart-hour").locator("canvas")).to_have_count(1)
    shoot(page, "dashboard")

    # The job list: filter, sort from the keyboard, page.
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.get_by_role("link", name="greeter")).to_be_visible()
    header = page.get_by_role("columnheader", name=re.compile("^Name"))
    header.focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_test_id("jobs").get_by_role("link").first).to_have_text("sleeper")
    page.get_by_placeholder("Filter by name").fill("sleep")
    expect(page.get_by_role("link", name="greeter")).to_have_count(0)
    expect(page.get_by_role("link", name="sleeper")).to_be_visible()
    page.get_by_placeholder("Filter by name").fill("nothing-like-this")
    expect(page.get_by_text("Nothing matches the filter.")).to_be_visible()

    # The same console in Chinese.
    page.get_by_label("Language").select_option("zh")
    expect(page.get_by_role("link", name="作业", exact=True)).to_be_visible()
    page.get_by_label("语言").select_option("en")
    expect(page.get_by_role("link", name="Jobs", exact=True)).to_be_visible()


def test_create_a_job_through_the_form_see_it_fire_read_a_log_disable_and_delete_it(
    cluster: Cluster, tmp_path: Path, page: Page
) -> None:
    url = _cluster(cluster, tmp_path)
    _log_in(page.context, cluster.masters[0])
    page.goto(url + "/#/jobs")
    page.get_by_test_id("new-job").click()
    page.locator("#field-jobName").fill("every.two")
    page.locator("#field-appName").select_option("hello")
    page.locator("#field-cron").fill("0/2 * * * * ?")
    page.locator("#field-timeZone").fill("Europe/Berlin")
    page.locator("#field-shardingTotalCount").fill("2")
    page.locator("#field-memoryMB").fill("32")
    page.locator("#field-environment").fill("GREETING=from-the-form")
    # The JSON editor shows what the form holds, and what is typed into it shows in the form.
    editor = page.get_by_test_id("json-editor")
    shown = json.loads(editor.input_value())
    assert shown["jobName"] == "every.two" and shown["shardingTotalCount"] == 2
    assert shown["environment"] == {"GREETING": "from-the-form"} and shown["cron"] == "0/2 * * * * ?"
    editor.fill(json.dumps({**shown, "description": "typed as JSON"}))
    expect(page.locator("#field-description")).to_have_value("typed as JSON")
    expect(page.locator("#field-jobName")).to_have_value("every.two")
    page.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"#/jobs/every\.two$"))
    firings = page.get_by_test_id("next-firings").locator("li")
    expect(firings).to_have_count(5)
    expect(firings.first).to_contain_text("+01:00")
    # It fires on its schedule, and both shards succeed.
    expect(_runs_with(page, "SUCCESS").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("shards").locator("tbody tr")).to_have_count(2)
    # Newest first.
    created = page.get_by_test_id("runs").locator("tbody tr td:first-child a").all_inner_texts()
    assert len(created) >= 2 and created == sorted(created, key=lambda c: dt.datetime.strptime(
        c, "%m/%d/%Y, %I:%M:%S %p"), reverse=True), created
    shoot(page, "job-detail")
    _open_run(page, "SUCCESS")
    expect(page.get_by_test_id("tasks").locator(".state-FINISHED")).to_have_count(2)
    page.get_by_role("button", name="Shard 1").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello from shard 1 from-the-form")
    page.get_by_label("Stream").select_option("stderr")
    expect(page.get_by_test_id("log")).to_contain_text("to stderr")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert "to stderr" in Path(download.value.path()).read_text()
    # A finished run's record can be deleted.
    run_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Delete record").click()
    page.get_by_test_id("confirm").click()
    expect(page).to_have_url(re.compile(r"#/jobs/every\.two$"))
    with cluster.api as client:
        assert client.get(f"/job/jobs/every.two/runs/{run_id}").status_code == 404

    # Edit it through the form: the change is saved.
    page.get_by_role("button", name="Edit").click()
    expect(page.locator("#field-jobName")).to_have_value("every.two")
    page.locator("#field-description").fill("edited")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"#/jobs/every\.two$"))
    expect(page.get_by_test_id("job-config")).to_contain_text('"description": "edited"')

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("job-state")).to_have_text("disabled")
    page.get_by_role("button", name="Delete").click()
    page.get_by_test_id("confirm").click()
    expect(page).to_have_url(re.compile(r"#/jobs$"))
    expect(page.get_by_role("link", name="every.two")).to_have_count(0)
    with cluster.api as client:
        assert client.get("/job/jobs/every.two").status_code == 404


def test_a_secret_is_masked_on_the_job_page_and_form_and_survives_an_edit(
    cluster: Cluster, tmp_path: Path, page: Page
) -> None:
    url = _cluster(cluster, tmp_path)
    secret = "s3cr3t-console-value"
    job = {"jobName": "secretive", "appName": "hello", "cron": NEVER, "shardingTotalCount": 1, "cpuCount": 0.1,
           "memoryMB": 32, "environment": {"GREETING": secret, "SLEEP": "0"}, "secretEnvironment": ["GREETING"]}
    with cluster.api as client:
        assert client.post("/job/register", json=job).status_code == 204
    _log_in(page.context, cluster.masters[0])
    page.goto(url + "/#/jobs/secretive")
    config = page.get_by_test_id("job-config")
    expect(config).to_contain_text('"GREETING": "******"')
    assert secret not in page.content()
    page.get_by_role("button", name="Edit").click()
    expect(page.locator("#field-environment")).to_have_value("GREETING=******\nSLEEP=0")
    expect(page.locator("#field-secretEnvironment")).to_have_value("GREETING")
    assert secret not in page.content()
    page.locator("#field-description").fill("edited, secret left masked")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"#/jobs/secretive$"))
    expect(config).to_contain_text('"description": "edited, secret left masked"')
    expect(config).to_contain_text('"GREETING": "******"')
    # The edit kept the stored value: the shard prints it.
    with cluster.api as client:
        assert client.post("/job/trigger", content="secretive").status_code == 204
    page.reload()
    expect(_runs_with(page, "SUCCESS").first).to_be_visible(timeout=30_000)
    _open_run(page, "SUCCESS")
    page.get_by_role("button", name="Shard 0").click()
    expect(page.get_by_test_id("log")).to_contain_text(f"hello from shard 0 {secret}")


def test_an_invalid_job_shows_the_error_next_to_its_field(cluster: Cluster, tmp_path: Path, page: Page) -> None:
    url = _cluster(cluster, tmp_path)
    _log_in(page.context, cluster.masters[0])
    page.goto(url + "/#/jobs/new")
    page.locator("#field-jobName").fill("broken")
    page.locator("#field-appName").select_option("hello")
    page.locator("#field-cron").fill("every tuesday")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_test_id("error-cron")).to_be_visible()
    expect(page.locator("#field-cron")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("cron")
    # Fixing the field clears its error; a zero shard count is refused next to its own field.
    page.locator("#field-cron").fill(NEVER)
    expect(page.get_by_test_id("error-cron")).to_have_count(0)
    page.locator("#field-shardingTotalCount").fill("0")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_test_id("error-shardingTotalCount")).to_be_visible()
    # Broken JSON is not sent.
    page.get_by_test_id("json-editor").fill("{not json")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_contain_text("Fix the JSON first.")
    with cluster.api as client:
        assert client.get("/job/jobs/broken").status_code == 404


def test_run_now_with_its_own_environment_follow_its_log_and_stop_it(
    cluster: Cluster, tmp_path: Path, page: Page
) -> None:
    url = _cluster(cluster, tmp_path, ("sleeper", "300", 32))
    _log_in(page.context, cluster.masters[0])
    page.goto(url + "/#/jobs/sleeper")
    page.get_by_role("button", name="Run now").click()
    page.get_by_label("Environment for this run").fill("GREETING=just-this-run")
    page.get_by_role("button", name="Start the run").click()
    expect(page.get_by_role("status")).to_have_text("Run started.")
    expect(_runs_with(page, "ACTIVE")).to_have_count(1, timeout=30_000)
    # The shards show their current task and agent.
    expect(page.get_by_test_id("shards").get_by_role("link", name="agent-one")).to_have_count(2, timeout=30_000)
    _open_run(page, "ACTIVE")
    expect(page.get_by_text("GREETING=just-this-run")).to_be_visible()
    page.get_by_role("button", name="Shard 0").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello from shard 0 just-this-run")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello from shard 0 just-this-run")
    page.get_by_role("button", name="Stop run").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("run-status")).to_have_text("FAILED", timeout=30_000)
    expect(page.get_by_test_id("tasks").locator(".state-KILLED")).to_have_count(2)


def test_queues_agents_apps_and_the_registry(cluster: Cluster, tmp_path: Path, page: Page) -> None:
    url = _cluster(cluster, tmp_path, ("greeter", "0", 32), ("huge", "0", 4096))
    _log_in(page.context, cluster.masters[0])
    with cluster.api as client:
        assert client.post("/job/trigger", content=b"huge").status_code == 204
        assert client.post("/job/trigger", content=b"greeter").status_code == 204
    page.goto(url + "/#/history")
    page.get_by_label("Job name").fill("greeter")
    page.get_by_label("Job name").press("Enter")
    page.get_by_label("State").select_option("FINISHED")
    expect(page.get_by_test_id("history").locator(".state-FINISHED")).to_have_count(2, timeout=30_000)
    page.get_by_role("tab", name="State changes").click()
    expect(page.get_by_test_id("history")).to_contain_text("TASK_FINISHED")

    page.get_by_role("link", name="Queues", exact=True).click()
    ready = page.get_by_test_id("ready")
    expect(ready.get_by_role("link", name="huge")).to_be_visible()
    expect(ready).to_contain_text("4096 MB", timeout=30_000)  # why it waits
    expect(page.get_by_text("No shard waits to run again.")).to_be_visible()

    page.get_by_role("link", name="Agents", exact=True).click()
    agents = page.get_by_test_id("agents")
    expect(agents.get_by_role("link", name="agent-one")).to_be_visible()
    expect(agents).to_contain_text("rack=r1")
    agents.get_by_role("link", name="agent-one").click()
    expect(page.get_by_test_id("agent-status")).to_contain_text("active")

    # An app created and edited through its form.
    page.goto(url + "/#/apps/new")
    page.locator("#field-appName").fill("second")
    page.locator("#field-appURL").fill("https://example.com/second.tar.gz")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile(r"#/apps/second$"))
    page.get_by_role("button", name="Edit").click()
    page.locator("#field-memoryMB").fill("256")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"#/apps/second$"))
    expect(page.locator("pre")).to_contain_text('"memoryMB": 256')
    page.get_by_role("link", name="Apps", exact=True).click()
    apps = page.get_by_test_id("apps")
    expect(apps.get_by_role("link").first).to_have_text("hello")
    page.get_by_role("columnheader", name=re.compile("^Name")).click()
    expect(apps.get_by_role("link").first).to_have_text("second")
    # The app of two jobs is deleted with them, after saying so.
    page.goto(url + "/#/apps/hello")
    expect(page.get_by_role("link", name="greeter")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("dialog")).to_contain_text("its 2 job(s)")
    page.get_by_role("button", name="Cancel").click()
    with cluster.api as client:
        assert client.get("/app/hello").status_code == 200
    page.goto(url + "/#/apps/second")
    expect(page.get_by_role("heading", name="second")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    page.get_by_test_id("confirm").click()
    expect(page).to_have_url(re.compile(r"#/apps$"))
    with cluster.api as client:
        assert client.get("/app/second").status_code == 404

    # The registry browser, from the installation's root down to the job's znode.
    page.get_by_role("link", name="Registry", exact=True).click()
    page.get_by_test_id("children").get_by_role("link", name="config", exact=True).click()
    page.get_by_test_id("children").get_by_role("link", name="job", exact=True).click()
    page.get_by_test_id("children").get_by_role("link", name="greeter", exact=True).click()
    expect(page.get_by_test_id("znode-path")).to_have_text(f"/{cluster.namespace}/config/job/greeter")
    expect(page.get_by_test_id("znode-data")).to_contain_text('"jobName": "greeter"')
    expect(page.get_by_test_id("znode-version")).to_have_text("0")
    expect(page.get_by_text("No children.")).to_be_visible()

    # Deleting an app with jobs deletes them too, once confirmed.
    page.goto(url + "/#/apps/hello")
    expect(page.get_by_role("link", name="greeter")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    page.get_by_test_id("confirm").click()
    expect(page).to_have_url(re.compile(r"#/apps$"))
    with cluster.api as client:
        assert client.get("/app/hello").status_code == 404 and client.get("/job/jobs/greeter").status_code == 404


def test_the_pages_fit_a_phones_width(cluster: Cluster, tmp_path: Path, browser: Browser) -> None:
    url = _cluster(cluster, tmp_path, ("greeter", "0", 32))
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True)
    try:
        _log_in(context, cluster.masters[0])
        phone = context.new_page()
        for route in ("", "jobs", "jobs/greeter", "jobs/new", "queues", "agents", "history", "registry"):
            phone.goto(f"{url}/#/{route}")
            expect(phone.locator("main h2").first).to_be_visible()
            phone.wait_for_load_state("networkidle")
            overflow = phone.evaluate("document.documentElement.scrollWidth") - 390
            assert overflow <= 0, f"#/{route} is {overflow}px wider than the screen"
        shoot(phone, "phone-registry")
    finally:
        context.close()


def test_login_shows_each_role_only_what_it_may_do_and_logout(
    cluster: Cluster, tmp_path: Path, browser: Browser
) -> None:
    from elasticjob.security.secrets import hash_secret

    password = "console password 1"
    hashed = hash_secret(password)
    auth = tmp_path / "auth.toml"
    auth.write_text("".join(f'[[users]]\nname = "{name}"\nrole = "{role}"\npassword_hash = "{hashed}"\n'
                            for name, role in (("root", "admin"), ("eve", "viewer"))))
    master = cluster.start_master("--auth-file", str(auth))
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "hello.tar.gz", executable=("bin/run.sh",))
    with httpx.Client(base_url=master.url, timeout=15, auth=("root", password)) as client:
        app = {"appName": "hello", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh"}
        assert client.post("/app", json=app).status_code == 204
        job = {"jobName": "guarded", "appName": "hello", "cron": NEVER, "shardingTotalCount": 1,
               "cpuCount": 0.1, "memoryMB": 32}
        assert client.post("/job/register", json=job).status_code == 204
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(master.url + "/#/jobs/guarded")
        page.get_by_label("User").fill("eve")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("wrong user name or password")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("who")).to_have_text("eve (viewer)")
        expect(page.get_by_test_id("job-state")).to_have_text("enabled")  # a viewer reads
        for control in ("Run now", "Disable", "Delete"):
            expect(page.get_by_role("button", name=control, exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name="Edit")).to_have_count(0)
        [cookie] = [c for c in context.cookies() if c["name"] == "elasticjob_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        shoot(page, "login-viewer")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()

        page.get_by_label("User").fill("root")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("who")).to_have_text("root (admin)")
        page.get_by_role("button", name="Disable").click()  # a write through the session cookie
        expect(page.get_by_test_id("job-state")).to_have_text("disabled")
        expect(page.get_by_role("button", name="Delete")).to_be_visible()
        assert errors == [], errors
    finally:
        context.close()


def test_a_user_confined_to_a_job_group_sees_only_its_jobs_and_no_installation_wide_view(
    cluster: Cluster, tmp_path: Path, browser: Browser
) -> None:
    from elasticjob.security.secrets import hash_secret

    password = "console password 1"
    hashed = hash_secret(password)
    auth = tmp_path / "auth.toml"
    auth.write_text(f'[[users]]\nname = "root"\nrole = "admin"\npassword_hash = "{hashed}"\n\n'
                    f'[[users]]\nname = "mkt"\nrole = "viewer"\npassword_hash = "{hashed}"\n'
                    'groups = ["marketing"]\n')
    master = cluster.start_master("--auth-file", str(auth))
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "hello.tar.gz", executable=("bin/run.sh",))
    with httpx.Client(base_url=master.url, timeout=15, auth=("root", password)) as client:
        for group in ("marketing", "billing"):
            app = {"appName": f"{group}.app", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh"}
            assert client.post("/app", json=app).status_code == 204
            job = {"jobName": f"{group}.daily", "appName": f"{group}.app", "cron": NEVER,
                   "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 32}
            assert client.post("/job/register", json=job).status_code == 204
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(master.url + "/#/")
        page.get_by_label("User").fill("mkt")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("who")).to_have_text("mkt (viewer)")
        expect(page.get_by_test_id("registeredJobs")).to_contain_text("1")
        expect(page.get_by_test_id("registeredApps")).to_contain_text("1")
        expect(page.get_by_text("they are not shown to users confined to job groups")).to_be_visible()
        expect(page.get_by_role("link", name="Registry", exact=True)).to_have_count(0)
        page.get_by_role("link", name="Jobs", exact=True).click()
        expect(page.get_by_role("link", name="marketing.daily")).to_be_visible()
        expect(page.get_by_role("link", name="billing.daily")).to_have_count(0)
        page.get_by_role("link", name="Apps", exact=True).click()
        expect(page.get_by_role("link", name="marketing.app")).to_be_visible()
        expect(page.get_by_role("link", name="billing.app")).to_have_count(0)
        page.goto(master.url + "/#/jobs/billing.daily")
        expect(page.get_by_role("alert").first).to_contain_text("outside your job groups")
        shoot(page, "confined-viewer")
        assert errors == [], errors
    finally:
        context.close()
