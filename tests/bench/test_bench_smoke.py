"""Every benchmark runs at tiny sizes (``--quick``) and prints a well-formed figure: the harness never rots.

No target is asserted here: targets are checked by ``make bench`` on full sizes, never by timed tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


def _check_figure(figure: dict, top: bool) -> None:  # type: ignore[type-arg]
    assert isinstance(figure["name"], str) and figure["name"]
    assert figure["value"] is None or isinstance(figure["value"], int | float)
    assert isinstance(figure["unit"], str)
    if figure["target"] is not None:
        assert set(figure["target"]) <= {"le", "ge"} and figure["target"]
        assert figure["met"] in (True, False, None)
    if top:
        assert {"cores", "memory_gib", "python"} <= set(figure["machine"])
    for sub in figure.get("figures", []):
        _check_figure(sub, top=False)


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_quick_run_prints_one_figure(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["name"] == name
    assert result["quick"] is True
    assert result["value"] is not None, result
    _check_figure(result, top=True)
