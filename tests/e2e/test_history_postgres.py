"""Masters and their run history: several masters with private SQLite histories warn (the log, ``GET
/leader``); masters sharing one PostgreSQL database do not, and keep one history across a failover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_chaos import QUICK, assert_exactly_once, drain, rows, running, setup_job
from tests.postgres import create_database, drop_database
from tests.support import MasterProcess, wait_until

SPLIT = "the run history is split"
FLAG = "--history-url postgresql+psycopg://"


@pytest.fixture
def history_database(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database of the test's own."""
    made = create_database(postgres_server, prefix="e2e")
    yield made
    drop_database(postgres_server, made)


def _leader(master: MasterProcess) -> dict[str, object]:
    response = master.get("/leader", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def _full_log(master: MasterProcess) -> str:
    return master.log_path.read_text(errors="replace")


def _is_leader(master: MasterProcess) -> bool:
    try:
        return bool(master.get("/leader", timeout=2).json().get("self"))
    except (httpx.HTTPError, ValueError):
        return False


def test_masters_with_private_sqlite_histories_warn_in_the_log_and_in_leader(cluster: Cluster) -> None:
    first = cluster.start_master()  # history.db in its own --data-dir
    wait_until(lambda: _leader(first).get("self"), 20, message="the first master leads")
    assert "warnings" not in _leader(first)  # alone: nothing to say
    second = cluster.start_master()
    for master in (first, second):
        wait_until(lambda m=master: "warnings" in _leader(m), 20, message="the warning in /leader")  # type: ignore[misc]
        (warning,) = _leader(master)["warnings"]  # type: ignore[misc]
        assert SPLIT in warning and FLAG in warning and "1 other master runs" in warning
        assert {"leader", "grpc", "self"} <= set(_leader(master))
        lines = [line for line in _full_log(master).splitlines() if SPLIT in line]
        assert lines and all("level=WARNING" in line and FLAG in line for line in lines), lines
    second.stop()
    wait_until(lambda: "warnings" not in _leader(first), 20, message="the warning gone with the other master")


def test_masters_sharing_postgresql_keep_one_history_across_a_leader_failover(
    cluster: Cluster, tmp_path: Path, shard_dir: Path, history_database: str
) -> None:
    shared = ["--history-url", history_database]
    cluster.start_master(*shared)
    cluster.start_master(*shared)
    cluster.start_agent(cpus=1, mem=512)
    cluster.wait_agents(1)
    for master in cluster.masters:
        assert "warnings" not in _leader(master)
    client, out = setup_job(cluster, tmp_path, shard_dir, QUICK, {"jobName": "steady", "cron": "0/2 * * * * ?",
                                                               "shardingTotalCount": 2, "misfire": True})
    client.close()
    leader = wait_until(lambda: next((m for m in cluster.masters if _is_leader(m)), None), 20,
                        message="a leader")
    with leader.http() as through_leader:
        wait_until(lambda: len(through_leader.get("/job/jobs/steady/runs").json()["runs"]) >= 2, 30,
                   message="runs before the failover")
        wait_until(lambda: running(through_leader) != [], 10, message="a run in progress")
        before = {r["firingId"] for r in through_leader.get("/job/jobs/steady/runs",
                                                            params={"per_page": 100}).json()["runs"]}
    leader.kill()  # SIGKILL, mid-run
    survivor = next(m for m in cluster.masters if m is not leader)
    wait_until(lambda: _is_leader(survivor), 30, message="the other master leads")
    with survivor.http() as client:
        wait_until(lambda: len({r["firingId"] for r in rows(client, "steady")} - before) >= 2, 40,
                   message="runs after the failover")
        history = drain(client, "steady")  # each firing one run, its tasks those recorded
        listed = {r["firingId"] for r in client.get("/job/jobs/steady/runs",
                                                   params={"per_page": 100}).json()["runs"]}
    assert before <= listed, f"runs of the first leader missing: {before - listed}"
    assert len(listed - before) >= 2
    firings = assert_exactly_once(history, 2, out)
    assert firings <= listed
    assert "warnings" not in _leader(survivor)
    assert SPLIT not in _full_log(survivor)
