"""What every benchmark shares: the result format, targets, machine facts, statistics, the list of benchmarks.

A benchmark is a module of this package with ``run(quick: bool) -> Figure``. Its figure is the headline
number (``value`` in ``unit``) with the ``target`` it is held to; ``figures`` holds the other numbers it
measured, each with its own target where the issue sets one. ``quick`` runs tiny sizes in seconds so the
harness itself is exercised by ``make test``; a quick run's targets are shown but say nothing.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# name -> module under bench/ (order: the order of ``make bench`` and of the README table)
BENCHMARKS: dict[str, str] = {
    "placement": "bench.placement",
    "recovery": "bench.recovery",
    "launch": "bench.launch",
    "agent": "bench.agent",
    "cron": "bench.cron",
    "burst": "bench.burst",
    "api": "bench.api",
    "registry": "bench.registry",
}


@dataclass(frozen=True)
class Target:
    """``le``: the value must be at most this; ``ge``: at least this."""

    le: float | None = None
    ge: float | None = None

    def met(self, value: float | None) -> bool | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.le is not None and value > self.le:
            return False
        return not (self.ge is not None and value < self.ge)

    def to_json(self) -> dict[str, float]:
        return {k: v for k, v in (("le", self.le), ("ge", self.ge)) if v is not None}

    def text(self) -> str:
        parts = []
        if self.le is not None:
            parts.append(f"≤ {_number(self.le)}")
        if self.ge is not None:
            parts.append(f"≥ {_number(self.ge)}")
        return " and ".join(parts)


def at_most(value: float) -> Target:
    return Target(le=value)


def at_least(value: float) -> Target:
    return Target(ge=value)


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: Target | None = None
    params: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    note: str = ""  # what limits the figure, when it misses its target

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.value)

    def to_json(self, top: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.target.to_json() if self.target else None,
            "met": self.met,
        }
        if self.params:
            result["params"] = self.params
        if self.note:
            result["note"] = self.note
        if self.figures:
            result["figures"] = [f.to_json(top=False) for f in self.figures]
        if top:
            result["machine"] = machine()
        return result


@contextlib.contextmanager
def workdir(name: str) -> Iterator[str]:
    """A directory for one benchmark's processes and files: a temporary one, removed afterwards, or — when
    ``ELASTICJOB_BENCH_DIR`` is set — ``$ELASTICJOB_BENCH_DIR/<name>``, kept with its logs for a look."""
    kept = os.environ.get("ELASTICJOB_BENCH_DIR")
    if kept:
        path = Path(kept) / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        path.chmod(0o711)
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix=f"ej-bench-{name}-") as tmp:
        # Traversable by all: an agent running as root runs its shards as nobody (--run-as), and the
        # benchmark's shards write into a FIFO in here.
        Path(tmp).chmod(0o711)
        yield tmp


def machine() -> dict[str, Any]:
    """Cores, memory and Python of this machine: every result carries them."""
    memory = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rounded(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


def describe(figure: Figure) -> str:
    """``value unit`` for tables."""
    if figure.value is None:
        return "—"
    return f"{_number(figure.value)} {figure.unit}".strip()
