"""Profiles of benchmarked processes with py-spy, and a plain-text summary of them.

``py_spy(pid, path)`` records a running process while a block runs (folded stacks, one line per distinct
stack with its sample count, thread names first); ``summarize(path)`` tells where the samples went: per
thread, and the functions with the most samples on top of the stack (self) and anywhere in it (total).
py-spy leaves out most samples of idle threads (blocked in a wait or a lock; not all polls), so the shares
are roughly of busy time.

    python -m bench.profiling FILE.folded [--top 15]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(pid: int, output: Path | None, rate: int = 100) -> Iterator[None]:
    """Record ``pid`` into ``output`` while the block runs (nothing when ``output`` is None). py-spy must be
    installed (it is in the ``test`` extra) and allowed to read the process (root, or ptrace permitted)."""
    if output is None:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    recorder = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--format", "raw", "--threads", "--rate", str(rate),
         "--nonblocking", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        try:
            recorder.wait(30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(10)


@contextlib.contextmanager
def profiled(name: str, pids: dict[str, int]) -> Iterator[None]:
    """When ``ELASTICJOB_BENCH_PROFILE=DIR`` is set, record each of ``pids`` (role -> pid) into
    ``DIR/{name}-{role}.folded`` while the block runs; otherwise do nothing."""
    directory = os.environ.get("ELASTICJOB_BENCH_PROFILE")
    with contextlib.ExitStack() as stack:
        for role, pid in pids.items():
            output = Path(directory) / f"{name}-{role}.folded" if directory else None
            stack.enter_context(py_spy(pid, output))
        yield


def read_folded(path: Path) -> list[tuple[list[str], int]]:
    """``[(frames from the thread down to the innermost call, samples)]`` of a folded-stacks file."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


_THREAD_START = ("Thread._bootstrap", "Thread.run ")  # on every thread's stack: says nothing


def _function(frame: str) -> str:
    # "name (path/to/module.py:123)" -> "name (module.py)": one entry per function, not per line
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({module})" if module else name


def summarize(path: Path, top: int = 15) -> str:
    stacks = read_folded(path)
    total = sum(count for _, count in stacks) or 1
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        threads[frames[0]] += count
        calls = [_function(f) for f in frames[1:] if not f.startswith(_THREAD_START)]
        if calls:
            own[calls[-1]] += count
        for function in set(calls):
            inclusive[function] += count

    def rows(counter: Counter[str]) -> list[str]:
        return [f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)]

    return "\n".join([
        f"{path.name}: {total} samples",
        "by thread:", *rows(threads),
        "self (innermost function):", *rows(own),
        "total (anywhere on the stack):", *rows(inclusive),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folded", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    print(summarize(args.folded, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
