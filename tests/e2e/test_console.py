"""The web console in a real browser (Debian's Chromium, headless, driven by Playwright) against a real
cluster: the pages an operator uses every day, each test saving a screenshot of its page
(``ELASTICJOB_SCREENSHOTS``, default ``.run/screenshots``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import Cluster
from tests.support import build_tarball

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("ELASTICJOB_SCREENSHOTS", Path(__file__).parents[2] / ".run" / "screenshots"))
SCRIPT = """#!/bin/sh
echo "hello from shard $ELASTICJOB_SHARDING_ITEM"
sleep "${SLEEP:-0}"
"""


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
    SHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], errors  # no script error on any page the test visited


def _cluster(cluster: Cluster, tmp_path: Path) -> str:
    tarball = build_tarball({"bin/run.sh": SCRIPT}, tmp_path / "hello.tar.gz", executable=("bin/run.sh",))
    cluster.start_master()
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    with cluster.api as client:
        app = {"appName": "hello", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
               "cpuCount": 0.1, "memoryMB": 16}
        assert client.post("/app", json=app).status_code == 204
        for name, sleep in (("greeter", "0"), ("sleeper", "300")):
            job = {"jobName": name, "appName": "hello", "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": 2,
                   "cpuCount": 0.1, "memoryMB": 32, "environment": {"SLEEP": sleep}}
            assert client.post("/job/register", json=job).status_code == 204
    return cluster.masters[0].url


def test_dashboard_shows_the_cluster(cluster: Cluster, tmp_path: Path, page: Page) -> None:
    url = _cluster(cluster, tmp_path)
    page.goto(url + "/")
    expect(page.get_by_test_id("registeredJobs")).to_contain_text("2")
    expect(page.get_by_test_id("registeredApps")).to_contain_text("1")
    expect(page.get_by_test_id("leader")).not_to_be_empty()
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("link", name="greeter")).to_be_visible()
    page.get_by_placeholder("Filter by name").fill("sleep")
    expect(page.get_by_role("link", name="greeter")).to_have_count(0)
    expect(page.get_by_role("link", name="sleeper")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("runningTasks")).to_be_visible()


def test_run_a_job_read_a_shards_log_disable_and_delete_it(cluster: Cluster, tmp_path: Path, page: Page) -> None:
    url = _cluster(cluster, tmp_path)
    page.goto(url + "/#/jobs/greeter")
    expect(page.get_by_test_id("job-config")).to_contain_text('"jobName": "greeter"')
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("status")).to_have_text("Run started.")
    expect(page.get_by_test_id("run-status").first).to_have_text("SUCCESS", timeout=30_000)
    page.get_by_test_id("run-status").first.locator("xpath=ancestor::tr").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"#/jobs/greeter/runs/\d{14}[0-9a-z]{5}$"))
    page.get_by_role("link", name="Shard 1").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello from shard 1")
    page.get_by_role("link", name="← Runs").click()
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_test_id("job-state")).to_have_text("disabled")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(re.compile(r"#/jobs$"))
    expect(page.get_by_role("link", name="greeter")).to_have_count(0)
    with cluster.api as client:
        assert client.get("/job/jobs/greeter").status_code == 404


def test_stop_a_long_run_and_follow_its_log(cluster: Cluster, tmp_path: Path, page: Page) -> None:
    url = _cluster(cluster, tmp_path)
    page.goto(url + "/#/jobs/sleeper")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_test_id("run-status").first).to_have_text("ACTIVE", timeout=30_000)
    page.get_by_test_id("run-status").first.locator("xpath=ancestor::tr").get_by_role("link").first.click()
    page.get_by_role("link", name="Shard 0").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello from shard 0")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello from shard 0")
    page.get_by_role("button", name="Stop run").click()
    expect(page.get_by_test_id("run-status")).to_have_text("FAILED", timeout=30_000)
    expect(page.locator(".state-KILLED")).to_have_count(2)
