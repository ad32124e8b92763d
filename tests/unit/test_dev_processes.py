"""``elasticjob.dev.processes``: the flags a test master or agent starts with, as command-line flags or as
a ``--config`` file, mean the same to ``elasticjob``'s own parser."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from elasticjob.cli.main import parse_args
from elasticjob.dev.processes import (
    AgentProcess,
    ApiUsers,
    ConfigValue,
    MasterProcess,
    command_flags,
    toml_text,
)


def test_toml_text_writes_every_flag_type_tomllib_reads_back() -> None:
    settings: dict[str, ConfigValue] = {"zk": 'a:1,"b":2', "cpus": 1.5, "run-retention": 0, "insecure": True, "x": False,
                "url-hosts": ["a", "b\\c"]}
    assert tomllib.loads(toml_text(settings)) == settings
    with pytest.raises(TypeError, match="nested"):
        toml_text({"nested": {"a": 1}})  # type: ignore[dict-item]


def test_command_flags_are_the_settings_as_flags() -> None:
    assert command_flags({"zk": "z:1", "mem": 512.0, "insecure": True, "quiet": False, "tag": ["a", "b"]}) == [
        "--zk", "z:1", "--mem", "512.0", "--insecure", "--tag", "a", "--tag", "b"]


def _parsed(command: list[str]) -> argparse.Namespace:
    """``command`` (``elasticjob``'s arguments) parsed as ``elasticjob`` parses them, a ``--config`` file
    applied."""
    return parse_args(command)


def test_a_master_from_a_config_file_starts_with_the_flags_it_would_have_been_given(tmp_path: Path) -> None:
    users = ApiUsers.write(tmp_path / "auth")

    def master(config: Path | None) -> MasterProcess:
        return MasterProcess("127.0.0.1:2181", "ns", tmp_path / "m", session_timeout=3.0, auth=users,
                             settings={"history-url": "postgresql+psycopg://u@h/db", "agent-grace": 5.0},
                             config=config)

    configured = master(tmp_path / "m" / "master.toml")
    assert configured.command() == ["master", "--config", str(tmp_path / "m" / "master.toml")]
    (tmp_path / "m").mkdir()
    configured.config.write_text(toml_text(configured.all_settings()))  # type: ignore[union-attr]
    from_file = vars(_parsed(configured.command()))
    from_flags = vars(_parsed(master(None).command()))
    assert {k: v for k, v in from_file.items() if k != "config"} == {
        k: v for k, v in from_flags.items() if k != "config"}
    assert from_file["auth_file"] == users.path and from_file["history_url"] == "postgresql+psycopg://u@h/db"
    assert from_file["allow_file_urls"] is True and from_file["zk_session_timeout"] == 3.0


def test_an_agent_from_a_config_file_starts_with_the_flags_it_would_have_been_given(tmp_path: Path) -> None:
    def agent(config: Path | None) -> AgentProcess:
        return AgentProcess("127.0.0.1:2181", "ns", tmp_path / "a", cpus=1, mem=256, attributes="rack=a",
                            agent_id="a-1", extra=("--sandbox-retention", "60") if config is None else (),
                            settings={"sandbox-retention": 60.0} if config else None, config=config)

    configured = agent(tmp_path / "agent.toml")
    assert configured.command() == ["agent", "--config", str(tmp_path / "agent.toml")]
    configured.config.write_text(toml_text(configured.all_settings()))  # type: ignore[union-attr]
    from_file = vars(_parsed(configured.command()))
    from_flags = vars(_parsed(agent(None).command()))
    assert {k: v for k, v in from_file.items() if k != "config"} == {
        k: v for k, v in from_flags.items() if k != "config"}
    assert from_file["agent_id"] == "a-1" and from_file["cpus"] == 1.0 and from_file["work_dir"] == tmp_path / "a"
