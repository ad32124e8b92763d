"""``TaskManager``: what an agent reports when it gives its tasks up (its ZooKeeper session expired).

Real processes, a real app archive on disk; the reports are collected instead of sent to a master.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path
from typing import Any

import pytest

from elasticjob.agent.fetch import AppCache
from elasticjob.agent.spawn import can_gate
from elasticjob.agent.tasks import TaskManager
from elasticjob.model import NOT_STARTED, TaskState
from elasticjob.protocol.convert import StatusUpdate
from elasticjob.security.urls import PERMISSIVE
from tests.support import build_tarball


def spec(task_id: str, app_url: str, command: str, start_at: float = 0.0) -> dict[str, Any]:
    return {
        "task_id": task_id, "job_name": "job", "firing_id": "cron-X", "sharding_item": 0,
        "sharding_total_count": 1, "sharding_parameter": "", "job_parameter": "", "app_name": "app",
        "app_url": app_url, "app_cache_enable": True, "job_type": "SCRIPT", "command": command,
        "job_class": "", "streaming_process": False, "environment": {}, "cpus": 0.1, "mem_mb": 64.0,
        "execution_type": "TRANSIENT", "cron": "", "time_zone": "UTC", "app_version": "",
        "start_at_ms": int(start_at * 1000),
    }


class Reports:
    """The statuses a TaskManager sent, kept in order: waiting for one task's state never loses another's
    that came first."""

    def __init__(self) -> None:
        self.queue: queue.Queue[StatusUpdate] = queue.Queue()
        self.seen: list[StatusUpdate] = []

    def __call__(self, status: StatusUpdate) -> None:
        self.queue.put(status)

    def until(self, task_id: str, state: TaskState, timeout: float = 15) -> StatusUpdate:
        deadline = time.monotonic() + timeout
        while True:
            for status in self.seen:
                if status.task_id == task_id and status.state is state:
                    return status
            self.seen.append(self.queue.get(timeout=max(deadline - time.monotonic(), 0.01)))


@pytest.mark.parametrize("gated", [True, False], ids=["held-at-its-gate", "waiting-for-its-instant"])
def test_a_task_given_up_before_its_command_ran_says_so_and_a_running_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gated: bool,
) -> None:
    if not gated:  # without setpriv's gate the shard waits on a timer instead of at a spawned gate
        monkeypatch.setattr("elasticjob.agent.tasks.can_gate", lambda: False)
    elif not can_gate():
        pytest.fail("this host cannot start gated tasks (setpriv missing?)")
    archive = build_tarball({"run.sh": "#!/bin/sh\n"}, tmp_path / "app.tar.gz", executable=("run.sh",))
    reports = Reports()
    tasks = TaskManager(tmp_path / "work", AppCache(tmp_path / "cache", url_policy=PERMISSIVE), reports, kill_grace=1.0)
    tasks.launch(spec("running", archive.as_uri(), "sleep 30"))
    reports.until("running", TaskState.RUNNING)
    tasks.launch(spec("ahead", archive.as_uri(), "touch ran", start_at=time.time() + 30))
    reports.until("ahead", TaskState.STAGING)
    time.sleep(0.5)  # staged: spawned and held at its gate, or waiting for its instant

    tasks.kill_all("the agent's ZooKeeper session expired", abandon=True)
    ahead = reports.until("ahead", TaskState.FAILED)
    running = reports.until("running", TaskState.FAILED)
    assert (ahead.reason, ahead.started_ms) == (NOT_STARTED, 0)
    assert running.reason == "agent" and running.started_ms > 0
    assert not (tasks.sandboxes / "ahead" / "app" / "ran").exists()


TRAPS_TERM = "trap 'echo TERM' TERM; while true; do sleep 0.1; done"  # SIGTERM does not end it
EXITS_ON_TERM = "trap 'exit 0' TERM; while true; do sleep 0.1; done"


def test_a_kill_waits_the_grace_it_carries_else_the_launchs_else_the_agents_own(tmp_path: Path) -> None:
    archive = build_tarball({"run.sh": "#!/bin/sh\n"}, tmp_path / "app.tar.gz", executable=("run.sh",))
    reports = Reports()
    tasks = TaskManager(tmp_path / "work", AppCache(tmp_path / "cache", url_policy=PERMISSIVE), reports, kill_grace=30.0)
    launched = {
        "told-1s": spec("told-1s", archive.as_uri(), TRAPS_TERM),
        "launched-1s": {**spec("launched-1s", archive.as_uri(), TRAPS_TERM), "kill_grace_seconds": 1.0},
        "exits": spec("exits", archive.as_uri(), EXITS_ON_TERM),
        "agent-stops": {**spec("agent-stops", archive.as_uri(), TRAPS_TERM), "kill_grace_seconds": 60.0},
    }
    for task in launched.values():
        tasks.launch(task)
    for task_id in launched:
        reports.until(task_id, TaskState.RUNNING)
    time.sleep(0.5)  # every shell has set its trap

    asked = time.time()
    tasks.kill("told-1s", "stopped", grace=1.0)  # the job's grace, sent with the kill
    tasks.kill("launched-1s", "stopped")  # none sent (its job was removed): the launch's
    tasks.kill("exits", "stopped", grace=30.0)  # a long grace, but it ends on SIGTERM
    ended = {task_id: reports.until(task_id, TaskState.KILLED) for task_id in ("exits", "told-1s", "launched-1s")}
    after = {task_id: status.timestamp_ms / 1000 - asked for task_id, status in ended.items()}
    assert all(status.reason == "killed" for status in ended.values())
    assert after["exits"] < 0.6, after  # at once
    assert 0.9 <= after["told-1s"] < 2.5 and 0.9 <= after["launched-1s"] < 2.5, after  # SIGKILL after 1 s, not 30
    # The agent's own kills (it stops, or gives its tasks up) wait no longer than its own grace either.
    tasks.kill_grace = 1.0
    asked = time.time()
    tasks.kill_all("the agent is stopping")
    stopped = reports.until("agent-stops", TaskState.KILLED)
    assert 0.9 <= stopped.timestamp_ms / 1000 - asked < 2.5
