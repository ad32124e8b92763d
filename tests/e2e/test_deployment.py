"""Issue 12's acceptance test and the docker/ files.

A deployment as docker/compose.yaml lays it out, on loopback: a three-node ZooKeeper ensemble,
PostgreSQL, two masters and two agents, each master and agent started from a configuration file alone
(``elasticjob master --config FILE``). The leader is SIGKILLed mid-run; through the new leader, every
firing before and after is one run with all its shards, none lost or doubled.

No Docker engine runs here, so the docker files are checked for what can be checked without one: the
services compose.yaml defines, that each command is one ``elasticjob`` accepts on a file
``elasticjob config check`` passes, and that the image's health check is the script run against the real
masters below.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from elasticjob.cli.main import parse_args
from tests.e2e.conftest import Cluster, Ensemble
from tests.e2e.test_chaos import QUICK, assert_exactly_once, drain, running, setup_job
from tests.postgres import create_database, drop_database
from tests.support import AgentProcess, ApiUsers, MasterProcess, wait_until

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
HEALTHCHECK = DOCKER / "healthcheck.sh"
SHARDS = 3


@pytest.fixture
def history_database(postgres_server: str) -> Iterator[str]:
    made = create_database(postgres_server, prefix="deploy")
    yield made
    drop_database(postgres_server, made)


def _is_leader(master: MasterProcess) -> bool:
    try:
        return bool(master.get("/leader", timeout=2).json().get("self"))
    except (httpx.HTTPError, ValueError):
        return False


def _healthcheck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK script (docker/healthcheck.sh) with ``env`` added."""
    return subprocess.run(["sh", str(HEALTHCHECK), *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=30)


def _firings(client: httpx.Client) -> set[str]:
    return {r["firingId"] for r in client.get("/job/jobs/steady/runs", params={"per_page": 100}).json()["runs"]}


def test_a_deployment_from_config_files_keeps_a_complete_history_across_a_leader_sigkill(
    ensemble: Ensemble, namespace: str, tmp_path: Path, shard_dir: Path, history_database: str,
    api_users: ApiUsers | None,
) -> None:
    cluster = Cluster(ensemble.hosts, namespace, tmp_path / "cluster", api_users)
    try:
        for index in (1, 2):
            work = tmp_path / f"master-{index}"
            master = MasterProcess(ensemble.hosts, namespace, work, auth=api_users, config=work / "master.toml",
                                   settings={"history-url": history_database, "agent-grace": 5.0})
            cluster.masters.append(master)
            master.start()
        for index in (1, 2):
            work = tmp_path / f"agent-{index}"
            agent = AgentProcess(ensemble.hosts, namespace, work / "work", cpus=1, mem=512,
                                 agent_id=f"agent-{index}", config=work / "agent.toml")
            cluster.agents.append(agent)
            agent.start()
        started: list[MasterProcess | AgentProcess] = [*cluster.masters, *cluster.agents]
        for process in started:  # nothing but --config on the command line
            assert process.process is not None
            args = list(process.process.args)  # type: ignore[arg-type]
            assert args[3:] == [args[3], "--config", str(process.config)], args
        cluster.wait_agents(2)

        client, out = setup_job(cluster, tmp_path, shard_dir, QUICK, {
            "jobName": "steady", "cron": "0/2 * * * * ?", "shardingTotalCount": SHARDS, "misfire": True})
        client.close()
        leader = wait_until(lambda: next((m for m in cluster.masters if _is_leader(m)), None), 30,
                            message="a leader")
        assert leader is not None
        survivor = next(m for m in cluster.masters if m is not leader)
        users = api_users.env(ApiUsers.VIEWER) if api_users is not None else {}
        for master in cluster.masters:  # the image's health check, on both masters (the follower too)
            checked = _healthcheck("master", env={"ELASTICJOB_URL": master.url, **users})
            assert checked.returncode == 0, checked.stderr
        with leader.http() as through_leader:
            wait_until(lambda: len(_firings(through_leader)) >= 2, 30, message="runs before the kill")
            wait_until(lambda: running(through_leader) != [], 10, interval=0.05, message="a run in progress")
            before = _firings(through_leader)
        leader.kill()  # SIGKILL, mid-run
        killed_at = time.time()
        assert _healthcheck("master", env={"ELASTICJOB_URL": leader.url, **users}).returncode != 0
        wait_until(lambda: _is_leader(survivor), 30, message="the other master leads")
        cluster.masters.remove(leader)
        cluster.masters.insert(0, survivor)  # wait_agents asks the first master

        with survivor.http() as client:
            wait_until(lambda: len(_firings(client) - before) >= 3, 45, message="runs after the kill")
            history = drain(client, "steady")  # each firing one run, its tasks those recorded
            listed = _firings(client)
        assert before <= listed, f"runs recorded by the killed leader missing: {before - listed}"
        firings = assert_exactly_once(history, SHARDS, out)  # every started shard FINISHED once, ran once
        assert firings <= listed
        after = [f for f in listed - before if _instant(f) > killed_at]
        assert len(after) >= 2, sorted(listed)
        _assert_no_gap(listed, killed_at)
        checked = _healthcheck("master", env={"ELASTICJOB_URL": survivor.url, **users})
        assert checked.returncode == 0, checked.stderr
        for agent in cluster.agents:
            checked = _healthcheck("agent", env={"ELASTICJOB_PID": str(agent.pid)})
            assert checked.returncode == 0, checked.stderr
    finally:
        cluster.stop()
    gone = cluster.agents[0].pid
    assert _healthcheck("agent", env={"ELASTICJOB_PID": str(gone)}).returncode == 1


def _instant(firing_id: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(firing_id.removeprefix("cron-"), "%Y%m%dT%H%M%S.%fZ").replace(
        tzinfo=dt.UTC).timestamp()


def _assert_no_gap(firings: set[str], killed_at: float) -> None:
    """Every 2-second instant from the first run to the last is a run: none lost to the failover
    (``misfire: true`` runs the instants missed while no master led, late)."""
    instants = sorted(_instant(f) for f in firings)
    expected = {instants[0] + 2 * step for step in range(round((instants[-1] - instants[0]) / 2) + 1)}
    missing = sorted(expected - set(instants))
    assert not missing, f"instants without a run (leader killed at {killed_at:.1f}): {missing}"


# --- docker/ -------------------------------------------------------------------------------------------

def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _dockerfile(instruction: str) -> list[str]:
    """The arguments of the Dockerfile's last ``instruction`` (exec form: a JSON array)."""
    import json

    lines = [line for line in (DOCKER / "Dockerfile").read_text().splitlines()
             if line.split(" ", 1)[0] == instruction]
    assert lines, f"no {instruction} in the Dockerfile"
    text = lines[-1].split(" ", 1)[1]
    if instruction == "HEALTHCHECK":
        text = text[text.index("CMD ") + 4:]
    found = json.loads(text)
    assert isinstance(found, list) and all(isinstance(item, str) for item in found)
    return found


def _mounted(service: dict[str, Any], path: str) -> Path:
    """The file of docker/ that ``service``'s volumes mount at ``path`` in the container."""
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if path.startswith(target.rstrip("/") + "/"):
            return (DOCKER / source / path[len(target.rstrip("/")) + 1:]).resolve()
    raise AssertionError(f"nothing mounted at {path}: {service.get('volumes')}")


def test_compose_defines_the_ensemble_postgres_two_masters_and_scalable_agents() -> None:
    services = _compose()["services"]
    zookeepers = {name: s for name, s in services.items() if str(s.get("image", "")).startswith("zookeeper:")}
    assert len(zookeepers) == 3
    ids = {str(s["environment"]["ZOO_MY_ID"]) for s in zookeepers.values()}
    assert ids == {"1", "2", "3"}
    for service in zookeepers.values():
        servers = service["environment"]["ZOO_SERVERS"].split()
        assert [entry.split("=")[1].split(":")[0] for entry in servers] == list(zookeepers)
    postgres = [s for s in services.values() if str(s.get("image", "")).startswith("postgres:")]
    assert len(postgres) == 1 and postgres[0]["volumes"]
    masters = {name: s for name, s in services.items() if s.get("command", [None])[0] == "master"}
    agents = {name: s for name, s in services.items() if s.get("command", [None])[0] == "agent"}
    assert len(masters) == 2 and len({s["hostname"] for s in masters.values()}) == 2
    (agent,) = agents.values()
    assert agent["deploy"]["replicas"] == 3
    # `--scale agent=N`: nothing that two replicas could not both have
    assert "container_name" not in agent and "ports" not in agent and "hostname" not in agent
    assert all(str(v).startswith(("./", "/")) for v in agent.get("volumes", [])), "a named volume is shared"
    assert agent["user"] == "root"


@pytest.mark.parametrize("role", ["master", "agent"])
def test_compose_commands_start_from_config_files_that_pass_config_check(role: str) -> None:
    services = _compose()["services"]
    entrypoint = _dockerfile("ENTRYPOINT")
    assert entrypoint == ["elasticjob"]
    configured = [s for s in services.values() if s.get("command", [None])[0] == role]
    assert configured
    for service in configured:
        command = service["command"]
        assert command[:2] == [role, "--config"] and len(command) == 3, command
        config = _mounted(service, command[2])
        assert config == DOCKER / "config" / f"{role}.toml" and config.is_file()
        checked = subprocess.run([sys.executable, "-m", "elasticjob", "config", "check", str(config)],
                                 capture_output=True, text=True, timeout=60,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert checked.returncode == 0 and f"valid {role} configuration" in checked.stdout, checked.stderr
        parsed = parse_args([command[0], "--config", str(config)])
        assert parsed.command == role
        if role == "master":
            assert str(parsed.history_url).startswith("postgresql+psycopg://")
            assert parsed.http.startswith("0.0.0.0:")
    if role == "master":  # the image's default command is a master's, on the same file
        assert _dockerfile("CMD") == configured[0]["command"]


def test_the_images_health_checks_are_the_script_the_deployment_test_runs() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert "COPY docker/healthcheck.sh /usr/local/bin/elasticjob-healthcheck" in text
    assert "'.[postgres]'" in text
    assert _dockerfile("HEALTHCHECK") == ["elasticjob-healthcheck", "master"]
    agent = next(s for s in _compose()["services"].values() if s.get("command", [None])[0] == "agent")
    assert agent["healthcheck"]["test"] == ["CMD", "elasticjob-healthcheck", "agent"]
    assert HEALTHCHECK.stat().st_mode & 0o111, "the script must be executable"
    assert _healthcheck("neither", env={}).returncode == 2
