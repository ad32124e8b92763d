"""``--config FILE``: a TOML file of flags, read into the defaults of the ``argparse`` parsers it is for.

Every long flag of a command is a key, spelled as the flag without its dashes (``--data-dir`` is
``data-dir``; ``data_dir`` is refused with a hint), so a flag added to a parser is a key at once. The
value has the flag's type: a string for a string or path flag, an integer for ``type=int``, a number for
``type=float``, a boolean for a switch (``store_true``/``store_false``; ``--insecure/--no-insecure``:
the key ``insecure``, and ``--no-insecure`` on the command line undoes a ``true`` of the file), an array for
a repeatable flag
(``append``) or one of several values (``nargs``). Choices and the flag's own ``type`` function apply as
on the command line. Relative paths of path flags (``type=Path``, or a dest ending in ``_dir``, ``_file``
or ``_path``) are relative to the file's directory.

Precedence: the file's values become the parsers' defaults (``set_defaults``), so a flag given on the
command line wins; a repeatable flag given there replaces the file's list (see ``drop_file_items``).
Environment defaults of the parsers (``ELASTICJOB_ZK``...) come after the file.

Everything here is pure apart from reading the file: ``file_settings`` maps a parsed TOML table to
``dest -> default`` and collects every problem (``ConfigFileError``) instead of stopping at the first.
"""

from __future__ import annotations

import argparse
import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FLAG = "--config"
_PATH_SUFFIXES = ("_dir", "_file", "_path")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration file: where (file, key, line when known) and what."""

    path: Path
    message: str
    key: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigFileError(ValueError):
    """The file cannot be used; ``problems`` lists every one found (at least one)."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ConfigFile:
    """A parsed TOML file and its text (to find the line of a key)."""

    path: Path
    table: Mapping[str, Any]
    text: str

    def line_of(self, key: str) -> int | None:
        """The first line that assigns ``key`` (bare or quoted, ``key =``, ``key.sub =``) or opens it as a
        table (``[key]``, ``[[key]]``), if any."""
        name = rf"""(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')"""
        pattern = re.compile(rf"^\s*(?:{name}\s*[=.]|\[\[?\s*{name}\s*[].])")
        for number, line in enumerate(self.text.splitlines(), start=1):
            if pattern.match(line):
                return number
        return None

    def problem(self, key: str, message: str) -> ConfigProblem:
        return ConfigProblem(self.path, message, key=key, line=self.line_of(key))


def read_config_file(path: Path) -> ConfigFile:
    """Read and parse ``path``; ``ConfigFileError`` if it is missing, unreadable, not UTF-8 or not TOML."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _error(path, f"cannot read the configuration file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(path, f"not UTF-8 text (byte {exc.start}): TOML files are UTF-8") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        raise _error(path, f"invalid TOML: {exc}", int(found.group(1)) if found else None) from None
    return ConfigFile(path, table, text)


def _error(path: Path, message: str, line: int | None = None) -> ConfigFileError:
    return ConfigFileError([ConfigProblem(path, message, line=line)])


def config_keys(parsers: Iterable[argparse.ArgumentParser]) -> dict[str, argparse.Action]:
    """``key -> action`` for every long flag of ``parsers`` (a later parser's flag wins a clash), minus
    ``--help`` and ``--config`` itself."""
    keys: dict[str, argparse.Action] = {}
    for parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            negative = isinstance(action, argparse.BooleanOptionalAction)
            for option in action.option_strings:
                if negative and option.startswith("--no-"):
                    continue  # the key is the switch's own name, true or false
                if option.startswith("--") and option != CONFIG_FLAG:
                    keys[option[2:]] = action
    return keys


def file_settings(config: ConfigFile, keys: Mapping[str, argparse.Action], command: str) -> dict[str, Any]:
    """``dest -> default`` for the parsers, from ``config``'s keys; ``ConfigFileError`` with every problem.

    String values of string-typed flags stay strings (path ones made absolute against the file's
    directory): ``argparse`` applies the flag's ``type`` to a string default exactly once, as to a
    command-line value. ``command`` names the command in messages (``elasticjob master``)."""
    settings: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for key, value in config.table.items():
        action = keys.get(key)
        if action is None:
            problems.append(config.problem(key, _unknown(key, keys, command)))
            continue
        try:
            settings[action.dest] = _setting(action, value, config.path.parent)
        except _Skip:
            continue
        except ValueError as exc:
            problems.append(config.problem(key, str(exc)))
    if problems:
        raise ConfigFileError(problems)
    return settings


def _unknown(key: str, keys: Mapping[str, argparse.Action], command: str) -> str:
    if key == CONFIG_FLAG[2:]:
        return f"{CONFIG_FLAG} cannot be given in a configuration file"
    hyphenated = key.replace("_", "-")
    if hyphenated != key and hyphenated in keys:
        return f"write it as '{hyphenated}': keys are the long flags without their dashes"
    close = difflib.get_close_matches(key, list(keys), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key: `{command}` has no flag --{key}{hint}"


class _Skip(Exception):
    """The value sets nothing (a switch set to false)."""


def _setting(action: argparse.Action, value: Any, base: Path) -> Any:
    """The default ``action`` gets from the file's ``value`` (``ValueError`` saying what is expected)."""
    if isinstance(action, argparse.BooleanOptionalAction):  # --x/--no-x: the command line may undo it
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false (got {_describe(value)})")
        return value
    if isinstance(action, argparse._StoreConstAction):  # store_true, store_false, store_const
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false (got {_describe(value)})")
        if not value:
            raise _Skip
        return action.const
    repeatable = type(action) is argparse._AppendAction and action.nargs is None
    if not (repeatable or type(action) is argparse._StoreAction):
        raise ValueError(f"--{_flag(action)} cannot be set in a configuration file")
    if repeatable or action.nargs not in (None, "?"):
        if not isinstance(value, list):
            raise ValueError(f"must be an array (got {_describe(value)}): --{_flag(action)} takes several "
                             "values")
        return [_converted(action, item, base) for item in value]
    converted = _converted(action, value, base)
    return _path_text(action, value, base) if isinstance(value, str) else converted


def _converted(action: argparse.Action, value: Any, base: Path) -> Any:
    """``value`` as the flag's type would make it from the command line (checked against its choices)."""
    if action.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer (got {_describe(value)})")
        result: Any = value
    elif action.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number (got {_describe(value)})")
        result = float(value)
    else:
        if not isinstance(value, str):
            raise ValueError(f"must be a string (got {_describe(value)})")
        text = _path_text(action, value, base)
        try:
            result = action.type(text) if callable(action.type) else text
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            raise ValueError(f"invalid value {value!r}: {exc}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ValueError(f"invalid choice {value!r} (choose from {choices})")
    return result


def _path_text(action: argparse.Action, value: str, base: Path) -> str:
    """A relative path made absolute against ``base`` (the file's directory) for a path flag; else as is."""
    if is_path_flag(action) and value and not Path(value).is_absolute():
        return str(base / value)
    return value


def is_path_flag(action: argparse.Action) -> bool:
    """Whether ``action`` takes a file system path: ``type=Path`` or a dest naming a dir, file or path."""
    return action.type is Path or action.dest.endswith(_PATH_SUFFIXES)


def _flag(action: argparse.Action) -> str:
    return next((o[2:] for o in action.option_strings if o.startswith("--")), action.dest)


def _describe(value: Any) -> str:
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
             (list, "an array"), (dict, "a table"))
    kind = next((name for cls, name in kinds if isinstance(value, cls)), "a date or time")
    shown = "" if isinstance(value, (dict, list)) else f" {value!r}" if isinstance(value, str) else \
        f" {str(value).lower() if isinstance(value, bool) else value}"
    return kind + shown


def apply_config_file(
    path: Path, parsers: Sequence[argparse.ArgumentParser], command: str
) -> dict[str, list[Any]]:
    """Read ``path`` and make its values the defaults of ``parsers`` (the top-level parser, then the
    command's); flags the file sets are no longer required on the command line. Returns the file's lists
    of repeatable flags (``dest -> list``) for ``drop_file_items``; ``ConfigFileError`` for any problem."""
    config = read_config_file(path)
    keys = config_keys(parsers)
    settings = file_settings(config, keys, command)
    for parser in parsers:
        dests = {action.dest for action in parser._actions}
        parser.set_defaults(**{dest: value for dest, value in settings.items() if dest in dests})
        for action in parser._actions:
            if action.dest in settings:
                action.required = False
    appended = {action.dest for action in keys.values() if isinstance(action, argparse._AppendAction)}
    return {dest: value for dest, value in settings.items() if dest in appended}


def drop_file_items(args: argparse.Namespace, appended: Mapping[str, list[Any]]) -> None:
    """Let a repeatable flag given on the command line replace the file's list rather than extend it.
    ``argparse`` appends to a copy of the default: a list that is not the default object itself was
    given on the command line, after the file's items."""
    for dest, default in appended.items():
        value = getattr(args, dest, None)
        if isinstance(value, list) and value is not default and value[: len(default)] == default:
            setattr(args, dest, value[len(default):])


def mentions_config(argv: Sequence[str]) -> bool:
    """Whether ``argv`` mentions ``--config`` at all (only then is it parsed twice, see ``cli.main``)."""
    return any(arg == CONFIG_FLAG or arg.startswith(CONFIG_FLAG + "=") for arg in argv)
