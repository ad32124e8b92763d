"""The console's texts live in one table per language (``static/texts.js``): every key a page uses exists
in English, and every language has exactly English's keys."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).parents[2] / "elasticjob" / "console" / "static"
KEY = re.compile(r'^\s*(?:"([\w.]+)"|(\w+)):', re.M)


def _tables() -> dict[str, set[str]]:
    source = (STATIC / "texts.js").read_text()
    body = source[source.index("const TEXTS = {"):source.index("\n};\n")]
    tables = {}
    for match in re.finditer(r"^  (\w+): \{\n(.*?)^  \},", body, re.M | re.S):
        keys = set()
        for line in match.group(2).splitlines():
            keys.update(a or b for a, b in re.findall(r'(?:"([\w.]+)"|\b(\w+)): "', line))
        tables[match.group(1)] = keys
    return tables


def _used() -> set[str]:
    used = set()
    for path in [*STATIC.glob("*.js"), *STATIC.glob("pages/*.js")]:
        used.update(k for k in re.findall(r'\bt\("([\w.]+)"', path.read_text()) if not k.endswith("."))
        # Form fields are labelled "field.<key>".
        used.update(f"field.{key}" for key in re.findall(r'\{ key: "(\w+)", type:', path.read_text()))
    return used


def test_every_language_has_the_english_keys() -> None:
    tables = _tables()
    assert set(tables) == {"en", "zh"}
    assert len(tables["en"]) > 100
    assert tables["zh"] == tables["en"], (tables["en"] - tables["zh"], tables["zh"] - tables["en"])


def test_every_text_a_page_shows_has_an_english_entry() -> None:
    missing = _used() - _tables()["en"]
    assert not missing, sorted(missing)
