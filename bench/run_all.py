"""Run every benchmark of this directory and print their results as one JSON document.

Each ``*_bench.py`` prints one JSON object on its last line of stdout. ``make bench`` runs this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    results = []
    failed = False
    for script in sorted(HERE.glob("*_bench.py")):
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=900)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0 or not lines:
            failed = True
            results.append({"benchmark": script.stem, "error": done.stderr[-2000:] or "no output"})
            continue
        result = json.loads(lines[-1])
        result["wall_seconds"] = round(time.monotonic() - started, 1)
        results.append(result)
    print(json.dumps({"results": results}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
