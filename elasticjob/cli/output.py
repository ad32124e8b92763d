"""What the ``job`` and ``app`` commands print, and the small parsers they share (pure functions)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

EXIT_CODES = """exit status:
  0  done
  1  the master refused the request (stderr: "error: MESSAGE (HTTP STATUS)" and one "  path: message"
     line per invalid field), a file could not be read, or `job run --wait` saw the run end FAILED
  2  usage error (unknown command or option, missing argument)
  3  the master could not be reached: point at it with --url or ELASTICJOB_URL"""


class LocalError(Exception):
    """A problem found before (or instead of) asking the master: a missing or malformed file. Exit 1."""


def table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """Aligned columns, two spaces apart, no trailing blanks; ``None`` cells are empty."""
    cells = [[("" if c is None else str(c)) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines)


def print_table(rows: Iterable[Sequence[Any]], header: Sequence[str], out: TextIO | None = None) -> None:
    print(table(list(rows), header), file=out or sys.stdout)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def env_pair(text: str) -> tuple[str, str]:
    """``K=V`` as ``(K, V)`` (V may hold ``=`` and may be empty); an ``argparse`` type: bad input is a
    usage error."""
    name, sep, value = text.partition("=")
    if not sep or not name or name != name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def env_of(pairs: Iterable[tuple[str, str]] | None) -> dict[str, str]:
    """The ``--env`` pairs as a mapping; a name given twice keeps its last value."""
    return dict(pairs or ())


def read_document(path: str) -> Any:
    """The JSON document in the file ``path`` (``-``: standard input); ``LocalError`` if unreadable."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except OSError as exc:
        raise LocalError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LocalError(f"{path} is not valid JSON: {exc}") from None


def short_time(value: Any) -> str:
    """An API timestamp for a table: ``2026-12-03T16:05:02.123+0000`` -> ``2026-12-03 16:05:02``."""
    if not value:
        return ""
    text = str(value)
    return text[:19].replace("T", " ") if len(text) >= 19 and text[10] == "T" else text


def task_summary(states: Iterable[str]) -> str:
    """``2 FINISHED, 1 KILLED``: how many tasks are in each state, in the order first seen."""
    counts: dict[str, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def field(value: Mapping[str, Any], *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where something is missing."""
    found: Any = value
    for key in path:
        if not isinstance(found, Mapping):
            return None
        found = found.get(key)
    return found
