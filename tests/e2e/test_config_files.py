"""A master and an agent started from nothing but ``--config FILE`` (relative paths resolved against the
file's directory), against the suite's ZooKeeper; and the systemd units, whose ExecStart lines must be
commands and flags ``elasticjob`` accepts."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from elasticjob.cli.main import build_parser
from tests.e2e.conftest import Cluster
from tests.support import AgentProcess, MasterProcess, wait_until

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"


class ConfiguredMaster(MasterProcess):
    """A master whose only flag is ``--config``; the file puts its data dir where ``MasterProcess`` reads
    ``master.json`` from (``work_dir/data``), as a path relative to the file."""

    def start(self, wait: float = 30.0) -> ConfiguredMaster:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "master.toml"
        config.write_text(
            f'zk = "{self.zk_hosts}"\nnamespace = "{self.namespace}"\nhttp = "127.0.0.1:0"\n'
            f'grpc = "127.0.0.1:0"\ndata-dir = "data"\nzk-session-timeout = {self.session_timeout}\n'
            "agent-grace = 5\nallow-file-urls = true\n"
        )
        self.spawn("master", "--config", str(config))
        self._learn_ports(30.0)
        self.wait_ready(wait)
        return self


class ConfiguredAgent(AgentProcess):
    def start(self) -> ConfiguredAgent:
        config_dir = self.work_dir.parent
        config_dir.mkdir(parents=True, exist_ok=True)
        config = config_dir / "agent.toml"
        config.write_text(
            f'zk = "{self.zk_hosts}"\nnamespace = "{self.namespace}"\nwork-dir = "{self.work_dir.name}"\n'
            f'cpus = {self.cpus}\nmem = {self.mem}\nattributes = "{self.attributes}"\nid = "{self.agent_id}"\n'
            f"zk-session-timeout = {self.session_timeout}\nkill-grace = 2\nallow-file-urls = true\n"
        )
        self.spawn("agent", "--config", str(config))
        return self


def test_a_master_and_an_agent_start_from_config_files_alone(zk_hosts: str, namespace: str, tmp_path: Path) -> None:
    cluster = Cluster(zk_hosts, namespace, tmp_path, None)
    try:
        master = ConfiguredMaster(zk_hosts, namespace, tmp_path / "master", allow_file_urls=False)
        cluster.masters.append(master)
        master.start()
        assert (tmp_path / "master" / "data" / "master.json").exists()  # data-dir relative to the file

        def leader() -> dict | None:  # type: ignore[type-arg]
            try:
                response = master.get("/leader", timeout=2)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 200 else None

        assert wait_until(leader, 30, message="a leader")["self"] is True

        agent = ConfiguredAgent(zk_hosts, namespace, tmp_path / "agents" / "work", cpus=1.0, mem=256,
                                attributes="rack=cfg", agent_id="from-config", allow_file_urls=False)
        cluster.agents.append(agent)
        agent.start()
        cluster.wait_agents(1)
        registered = master.get("/cluster/agents/from-config").json()
        assert registered["status"] == "ACTIVE" and registered["attributes"] == {"rack": "cfg"}, registered
        assert (tmp_path / "agents" / "work").is_dir()  # work-dir relative to the file
    finally:
        cluster.stop()


def _exec_start(unit: Path) -> list[str]:
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # type: ignore[assignment,method-assign]
    parsed.read(unit)
    return shlex.split(parsed["Service"]["ExecStart"])


def test_the_systemd_units_run_real_commands_with_accepted_flags(tmp_path: Path) -> None:
    parser = build_parser()
    for role in ("master", "agent"):
        unit = UNITS / f"elasticjob-{role}.service"
        command = _exec_start(unit)
        assert Path(command[0]).name == "elasticjob" and command[1] == role, command
        assert command[2:] == ["--config", f"/etc/elasticjob/{role}.toml"], command
        subcommand = parser._subparsers._group_actions[0].choices[role]  # type: ignore[union-attr]
        accepted = {option for action in subcommand._actions for option in action.option_strings}
        assert {arg for arg in command[2:] if arg.startswith("-")} <= accepted, command
        for action in subcommand._actions:
            action.required = False  # --zk comes from the file
        parsed = subcommand.parse_args(command[2:])
        assert str(parsed.config) == f"/etc/elasticjob/{role}.toml"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """``systemd-analyze verify`` where it is installed, with ExecStart pointing at this checkout's
    ``elasticjob`` (the units name /opt/elasticjob/bin/elasticjob, which the check wants to exist)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine (the configparser test covers ExecStart)")
    real = Path(sys.executable).with_name("elasticjob")
    for role in ("master", "agent"):
        unit = UNITS / f"elasticjob-{role}.service"
        text = unit.read_text()
        assert "ExecStart=/opt/elasticjob/bin/elasticjob " in text
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/opt/elasticjob/bin/elasticjob", str(real)))
        result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr
