"""``elasticjob config check FILE [--role master|agent]``: validate a ``--config`` file, start nothing.

The check is the start's own path without the start: the file is applied to the ``elasticjob master``
(or ``agent``) parser as ``--config FILE`` would, and the parsed arguments go through
``cli.settings.master_config``/``agent_config``, which read the files the keys name and look at this
host but connect to nothing. The environment's defaults (``ELASTICJOB_ZK``...) count, as at the start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from elasticjob.cli.configfile import (
    ConfigFile,
    ConfigFileError,
    config_keys,
    file_settings,
    read_config_file,
)

ROLES = ("master", "agent")


def add_config_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    config = sub.add_parser("config", help="configuration files (--config): check one")
    actions = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = actions.add_parser(
        "check",
        help="validate a master or agent configuration file without starting anything",
        description="Validate FILE as `elasticjob master --config FILE` (or agent) would, without connecting "
        "to anything: keys, types, required keys, and the checks of the start (addresses, auth file, TLS "
        "files, tokens, this host's users, CPUs and memory). Prints `FILE: valid ROLE configuration` and "
        "exits 0, or every problem and exits 2. Without --role, the role is the one whose flags cover "
        "every key of the file; a file of keys common to both (zk, namespace...) needs --role.",
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--role", choices=ROLES, help="check FILE as this process's (default: from its keys)")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    role, problems = check_config_file(args.file, args.role)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    print(f"{args.file}: valid {role} configuration")
    return 0


def check_config_file(path: Path, role: str | None = None) -> tuple[str | None, list[str]]:
    """The role ``path`` was checked as (None if it could not be told) and its problems (none: valid)."""
    from elasticjob.cli.main import _subcommands, build_parser, parse_args
    from elasticjob.cli.settings import agent_config, master_config

    try:
        config = read_config_file(path)
    except ConfigFileError as exc:
        return role, [str(problem) for problem in exc.problems]
    top = build_parser()
    commands = _subcommands(top)
    keys = {name: config_keys([top, commands[name]]) for name in ROLES}
    if role is None:
        role, unclear = _role_of(config, keys)
        if role is None:
            return None, [unclear]
    problems: list[str] = []
    try:
        file_settings(config, keys[role], f"elasticjob {role}")
    except ConfigFileError as exc:
        problems = [str(problem) for problem in exc.problems]
    given = {keys[role][key].dest for key in config.table if key in keys[role]}
    for action in commands[role]._actions:
        if action.required and action.option_strings and action.dest not in given:
            flag = action.option_strings[-1]
            problems.append(f"{path}: missing key '{flag[2:]}': {flag} is required, and the environment "
                            "does not give it")
    if problems:
        return role, problems
    args = parse_args([role, "--config", str(path)])
    try:
        (master_config if role == "master" else agent_config)(args)
    except ValueError as exc:
        return role, [f"{path}: {exc}"]
    return role, []


def _role_of(config: ConfigFile, keys: dict[str, dict[str, argparse.Action]]) -> tuple[str | None, str]:
    """The one role whose keys cover the file's (else the one with fewer unknown keys), or None and why."""
    unknown = {name: len(set(config.table) - set(known)) for name, known in keys.items()}
    fewest = min(unknown.values())
    best = [name for name in ROLES if unknown[name] == fewest]
    if len(best) == 1:
        return best[0], ""
    if fewest == 0:
        return None, (f"{config.path}: its keys are valid for both a master and an agent: "
                      "give --role master or --role agent")
    return None, (f"{config.path}: its keys fit neither a master nor an agent: give --role master or "
                  "--role agent to see which are wrong")
