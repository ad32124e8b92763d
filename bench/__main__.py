"""``python -m bench NAME [--quick]``: run one benchmark and print its figure as JSON.

``python -m bench --all [--quick] [--output bench/results.json]``: run every benchmark, each in a process of
its own, write their figures to one JSON file and print a table (``make bench``).
``python -m bench --readme [--output FILE]``: rewrite the README's performance table from a results file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import BENCHMARKS, Target

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def run_one(name: str, quick: bool) -> dict[str, Any]:
    module = importlib.import_module(BENCHMARKS[name])
    figure = module.run(quick)
    result = figure.to_json()
    result["quick"] = quick
    return result


def run_all(quick: bool, output: Path, names: list[str], timeout: float) -> int:
    results: list[dict[str, Any]] = []
    failed = False
    for name in names:
        started = time.monotonic()
        print(f"== {name}", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "bench", name, *(["--quick"] if quick else [])]
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            failed = True
            results.append({"name": name, "error": f"did not finish within {timeout:.0f}s"})
            continue
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        try:
            result = json.loads(lines[-1]) if done.returncode == 0 and lines else None
        except ValueError:
            result = None
        if result is None:
            failed = True
            results.append({"name": name, "error": (done.stderr or "no output")[-3000:]})
            print(done.stderr[-3000:], file=sys.stderr)
            continue
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        results.append(result)
    document = {"generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": quick, "results": results}
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(table(document))
    print(f"\nwritten to {output}", file=sys.stderr)
    return 1 if failed else 0


def _rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if "error" in result:
        last = result["error"].splitlines()[-1][:80] if result["error"] else ""
        return [(result["name"], "error", last, "")]
    rows = []
    for figure in [result, *result.get("figures", [])]:
        target = Target(**figure["target"]).text() if figure.get("target") else ""
        met = {True: "yes", False: "**no**", None: ""}[figure.get("met")]
        value = figure.get("value")
        shown = "—" if value is None else f"{value:,g} {figure.get('unit', '')}".strip()
        wanted = f"{target} {figure.get('unit', '')}".strip() if target else ""
        rows.append((figure["name"], shown, wanted, met))
    return rows


def table(document: dict[str, Any]) -> str:
    lines = ["| figure | measured | target | met |", "|---|---|---|---|"]
    for result in document["results"]:
        for name, value, target, met in _rows(result):
            lines.append(f"| {name} | {value} | {target} | {met} |")
    figures = [f for r in document["results"] for f in [r, *r.get("figures", [])]]
    notes = [f"- `{f['name']}`: {f['note']}" for f in figures if f.get("note")]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def update_readme(results: Path, readme: Path) -> None:
    document = json.loads(results.read_text())
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme} has no {BEGIN} ... {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    machine: dict[str, Any] = next((r["machine"] for r in document["results"] if "machine" in r), {})
    body = (
        f"\nMeasured {document['generated']} by `make bench` on {machine.get('cores')} cores, "
        f"{machine.get('memory_gib')} GiB, Python {machine.get('python')}"
        f"{' (quick sizes: not comparable to the targets)' if document.get('quick') else ''}:\n\n"
        f"{table(document)}\n"
    )
    readme.write_text(head + BEGIN + body + END + tail)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", choices=sorted(BENCHMARKS), help="the benchmark to run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds; targets not meaningful")
    parser.add_argument("--all", action="store_true", help="run every benchmark (or those named by --only)")
    parser.add_argument("--only", default="", help="comma-separated benchmarks for --all")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark with --all")
    parser.add_argument("--readme", action="store_true", help="rewrite README.md's table from --output")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.readme:
        update_readme(args.output, README)
        return 0
    if args.all:
        names = [n for n in BENCHMARKS if not args.only or n in args.only.split(",")]
        return run_all(args.quick, args.output, names, args.timeout)
    if args.name is None:
        parser.error("name a benchmark, or use --all")
    print(json.dumps(run_one(args.name, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
