"""``--config FILE``: the file -> defaults mapping (every kind of flag, paths, problems), its precedence
under the command line, ``elasticjob config check`` and the example files."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from elasticjob.cli.configcheck import check_config_file
from elasticjob.cli.configfile import (
    ConfigFile,
    ConfigFileError,
    apply_config_file,
    config_keys,
    drop_file_items,
    file_settings,
    read_config_file,
)
from elasticjob.cli.main import build_parser, parse_args

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_environment_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELASTICJOB_ZK", "ELASTICJOB_NAMESPACE", "ELASTICJOB_DATA_DIR", "ELASTICJOB_AGENT_DIR",
                 "ELASTICJOB_AUTH_FILE", "ELASTICJOB_HISTORY_URL", "ELASTICJOB_URL_HOSTS", "ELASTICJOB_LOG_LEVEL",
                 "ELASTICJOB_AGENT_TOKEN_FILE", "ELASTICJOB_MASTER_CA", "ELASTICJOB_JOIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _parser() -> argparse.ArgumentParser:
    """One flag of every kind the mapping knows."""
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--name", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--level", type=str.upper, choices=["LOW", "HIGH"], default="LOW")
    parser.add_argument("--data-dir", type=Path, default=Path("."))
    parser.add_argument("--log-file", default=None)  # a path by its dest, untyped
    parser.add_argument("--url", default=None)  # not a path: kept as written
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--tag", action="append", default=None)
    parser.add_argument("--pair", nargs=2, type=int, default=None)
    parser.add_argument("--id", dest="ident", default=None)
    parser.add_argument("--verbose", "-v", action="count", default=0)
    return parser


def _file(tmp_path: Path, text: str, name: str = "demo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _parse(tmp_path: Path, text: str, *argv: str) -> argparse.Namespace:
    parser = _parser()
    appended = apply_config_file(_file(tmp_path, text), [parser], "demo")
    args = parser.parse_args(list(argv))
    drop_file_items(args, appended)
    return args


def _problems(tmp_path: Path, text: str) -> list[str]:
    config = read_config_file(_file(tmp_path, text))
    with pytest.raises(ConfigFileError) as refused:
        file_settings(config, config_keys([_parser()]), "demo")
    return [str(problem) for problem in refused.value.problems]


def test_every_kind_of_flag_is_a_key_of_its_type(tmp_path: Path) -> None:
    args = _parse(tmp_path, """
name = "n1"
count = 7
ratio = 2          # an integer is a number too
level = "high"     # the flag's own type function applies (str.upper), then its choices
data-dir = "state"
log-file = "/var/log/demo.log"
url = "sqlite:///relative.db"
fast = true
no-cache = true
tag = ["a", "b"]
pair = [1, 2]
id = "x-1"
""")
    assert (args.name, args.count, args.ratio, args.level) == ("n1", 7, 2.0, "HIGH")
    assert args.data_dir == tmp_path / "state"  # relative to the file's directory
    assert args.log_file == "/var/log/demo.log" and args.url == "sqlite:///relative.db"
    assert args.fast is True and args.cache is False
    assert args.tag == ["a", "b"] and args.pair == [1, 2] and args.ident == "x-1"


def test_false_switches_and_absent_keys_keep_the_defaults(tmp_path: Path) -> None:
    args = _parse(tmp_path, 'name = "n"\nfast = false\nno-cache = false\nlog-file = "logs/demo.log"\n')
    assert args.fast is False and args.cache is True and args.count == 1 and args.data_dir == Path(".")
    assert args.log_file == str(tmp_path / "logs/demo.log")


def test_the_command_line_overrides_the_file(tmp_path: Path) -> None:
    text = 'name = "file"\ncount = 7\nlevel = "high"\ndata-dir = "state"\ntag = ["a", "b"]\n'
    args = _parse(tmp_path, text, "--count", "9", "--level", "low", "--data-dir", "cli", "--tag", "c")
    assert (args.name, args.count, args.level, args.data_dir) == ("file", 9, "LOW", Path("cli"))
    assert args.tag == ["c"]  # a repeatable flag given on the command line replaces the file's list
    assert _parse(tmp_path, text).tag == ["a", "b"]
    assert _parse(tmp_path, text, "--name", "cli").name == "cli"


def test_a_switch_the_file_turns_on_the_command_line_may_turn_off(tmp_path: Path) -> None:
    assert _parse(tmp_path, "name = \"n\"\nstrict = true").strict is True
    assert _parse(tmp_path, "name = \"n\"\nstrict = true", "--no-strict").strict is False
    assert _parse(tmp_path, "name = \"n\"\nstrict = false", "--strict").strict is True
    assert _parse(tmp_path, "name = \"n\"\nstrict = false").strict is False
    assert any("unknown key" in p for p in _problems(tmp_path, "no-strict = true"))  # the key is the switch
    assert any("true or false" in p for p in _problems(tmp_path, 'strict = "yes"'))
    path = _file(tmp_path, 'zk = "h:1"\ninsecure = true\nallow-file-urls = true\n', "master.toml")
    args = parse_args(["master", "--config", str(path), "--no-insecure", "--no-allow-file-urls"])
    assert args.insecure is False and args.allow_file_urls is False
    assert parse_args(["master", "--config", str(path)]).insecure is True


def test_a_required_flag_may_come_from_the_file_or_the_command_line(tmp_path: Path) -> None:
    assert _parse(tmp_path, "count = 2\n", "--name", "cli").name == "cli"
    with pytest.raises(SystemExit):
        _parse(tmp_path, "count = 2\n")  # argparse: --name is required


def test_unknown_keys_and_the_other_spelling_are_refused_with_their_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, 'name = "n"\ncont = 3\ndata_dir = "x"\nconfig = "other.toml"\nhelp = true\n')
    path = tmp_path / "demo.toml"
    assert problems == [
        f"{path}:2: cont: unknown key: `demo` has no flag --cont (did you mean 'count'?)",
        f"{path}:3: data_dir: write it as 'data-dir': keys are the long flags without their dashes",
        f"{path}:4: config: --config cannot be given in a configuration file",
        f"{path}:5: help: unknown key: `demo` has no flag --help",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('count = "3"', "count: must be an integer (got a string '3')"),
        ("count = 2.5", "count: must be an integer (got a number 2.5)"),
        ("count = true", "count: must be an integer (got a boolean true)"),
        ('ratio = "fast"', "ratio: must be a number (got a string 'fast')"),
        ("name = 5", "name: must be a string (got an integer 5)"),
        ("fast = 1", "fast: must be true or false (got an integer 1)"),
        ('fast = "yes"', "fast: must be true or false (got a string 'yes')"),
        ('tag = "a"', "tag: must be an array (got a string 'a'): --tag takes several values"),
        ("tag = [1]", "tag: must be a string (got an integer 1)"),
        ('level = "medium"', "level: invalid choice 'medium' (choose from LOW, HIGH)"),
        ("[name]\nx = 1", "name: must be a string (got a table)"),
        ("verbose = 2", "verbose: --verbose cannot be set in a configuration file"),
    ],
)
def test_wrong_types_name_the_key_and_what_it_takes(tmp_path: Path, text: str, message: str) -> None:
    problems = _problems(tmp_path, text + "\n")
    assert problems == [f"{tmp_path / 'demo.toml'}:1: {message}"]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    assert len(_problems(tmp_path, 'count = "x"\nratio = "y"\nnope = 1\n')) == 3


def test_a_bad_missing_or_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = _file(tmp_path, 'name = "n"\ncount = \n')
    with pytest.raises(ConfigFileError, match=rf"^{bad}:2: invalid TOML: .*\(at line 2, column \d+\)$"):
        read_config_file(bad)
    with pytest.raises(ConfigFileError, match="cannot read the configuration file: No such file or directory"):
        read_config_file(tmp_path / "missing.toml")
    with pytest.raises(ConfigFileError, match="cannot read the configuration file: Is a directory"):
        read_config_file(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ConfigFileError, match="not UTF-8"):
        read_config_file(latin)


def test_the_line_of_a_key_is_found_bare_or_quoted() -> None:
    config = ConfigFile(Path("f.toml"), {}, '# zk = "x"\n  "data-dir" = "d"\nzk="h"\n')
    assert config.line_of("zk") == 3 and config.line_of("data-dir") == 2 and config.line_of("mem") is None


def test_every_flag_of_master_and_agent_is_a_key(tmp_path: Path) -> None:
    """Built from the parsers: a flag added later is a key without listing it anywhere."""
    parser = build_parser()
    commands = {name: parser._subparsers._group_actions[0].choices[name] for name in ("master", "agent")}  # type: ignore[union-attr]
    for name, command in commands.items():
        keys = config_keys([parser, command])
        flags = {option[2:] for action in command._actions for option in action.option_strings
                 if option.startswith("--") and option not in ("--help", "--config")
                 and not (isinstance(action, argparse.BooleanOptionalAction) and option.startswith("--no-"))}
        assert flags <= set(keys) and "log-level" in keys, name
        assert "--config" in command.format_help()


def test_real_master_arguments_from_a_file_and_the_command_line(tmp_path: Path) -> None:
    path = _file(tmp_path, """
zk = "zk1:2181,zk2:2181"
data-dir = "master-state"
auth-file = "/etc/elasticjob/auth.toml"
zk-session-timeout = 4
insecure = true
placement = "binpack"
log-level = "debug"
""", "master.toml")
    args = parse_args(["master", "--config", str(path), "--placement", "spread"])
    assert args.zk == "zk1:2181,zk2:2181" and args.zk_session_timeout == 4.0 and args.insecure is True
    assert args.data_dir == tmp_path / "master-state" and args.auth_file == Path("/etc/elasticjob/auth.toml")
    assert args.placement == "spread" and args.log_level == "DEBUG" and args.http == "127.0.0.1:8899"
    assert parse_args(["--log-level", "ERROR", "master", f"--config={path}"]).log_level == "ERROR"


def test_a_bad_file_at_the_start_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    path = _file(tmp_path, 'zk = "h:1"\nmem = 512\n', "master.toml")
    result = subprocess.run([sys.executable, "-m", "elasticjob", "master", "--config", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert f"elasticjob: error: {path}:2: mem: unknown key: `elasticjob master` has no flag --mem" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("role", ["master", "agent"])
def test_the_example_files_are_valid(role: str) -> None:
    example = ROOT / "examples" / "config" / f"{role}.toml"
    result = subprocess.run([sys.executable, "-m", "elasticjob", "config", "check", str(example)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{example}: valid {role} configuration\n"


def test_check_infers_the_role_or_asks_for_it(tmp_path: Path) -> None:
    assert check_config_file(_file(tmp_path, 'zk = "h:1"\nhttp = "127.0.0.1:1"\n')) == ("master", [])
    assert check_config_file(_file(tmp_path, 'zk = "h:1"\nkill-grace = 3\n')) == ("agent", [])
    common = _file(tmp_path, 'zk = "h:1"\n')
    role, problems = check_config_file(common)
    assert role is None and problems == [f"{common}: its keys are valid for both a master and an agent: give "
                                         "--role master or --role agent"]
    assert check_config_file(common, "agent") == ("agent", [])


def test_check_reports_keys_types_missing_keys_and_the_starts_own_checks(tmp_path: Path) -> None:
    path = _file(tmp_path, 'http = 8899\ndata_dir = "d"\n', "master.toml")
    role, problems = check_config_file(path, "master")
    assert role == "master" and problems == [
        f"{path}:1: http: must be a string (got an integer 8899)",
        f"{path}:2: data_dir: write it as 'data-dir': keys are the long flags without their dashes",
        f"{path}: missing key 'zk': --zk is required, and the environment does not give it",
    ]
    open_http = _file(tmp_path, 'zk = "h:1"\nhttp = "0.0.0.0:8899"\n', "open.toml")
    role, problems = check_config_file(open_http)
    assert role == "master" and len(problems) == 1 and "reachable from other hosts" in problems[0]
    missing_auth = _file(tmp_path, 'zk = "h:1"\nauth-file = "auth.toml"\n', "auth.toml.conf")
    assert str(tmp_path / "auth.toml") in check_config_file(missing_auth)[1][0]
    greedy = _file(tmp_path, 'zk = "h:1"\ncpus = 100000\n', "agent.toml")
    assert "is more than this host has" in check_config_file(greedy)[1][0]


def test_check_exit_codes(tmp_path: Path) -> None:
    path = _file(tmp_path, 'zk = "h:1"\nlaunch-ahead = 99\n', "master.toml")
    result = subprocess.run([sys.executable, "-m", "elasticjob", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"{path}: --launch-ahead must be from 0 to 60 seconds (got 99)\n"
