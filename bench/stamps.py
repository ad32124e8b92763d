"""When did a shard's own command run? Timestamps taken outside the platform.

The agent reports a shard's start as the moment it started (or, launched ahead, released) the process; the
command itself runs a moment later. To measure the latter without trusting the agent, the benchmark job
writes one line (``job firing``) into a FIFO with a shell builtin as its first action, and a thread of the
benchmark process stamps each line with ``time.time()`` as it reads it. The stamp is an upper bound on when
the command began: it includes the write, the wake-up of the reader and the reader's own scheduling on a
loaded machine, never less.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["StartStamps", "stamping_script"]

_STOP = b"stop -\n"


def stamping_script(fifo: Path) -> str:
    """The job: one line into the FIFO (``echo`` is a builtin of ``sh``), then exit 0."""
    return f'#!/bin/sh\necho "$ELASTICJOB_JOB_NAME $ELASTICJOB_FIRING_ID" > {fifo}\n'


class StartStamps:
    """Reads the FIFO on a thread of its own; ``first[(job, firing)]`` is the first stamp of each pair and
    ``count[(job, firing)]`` how many lines it sent (more than one: the command ran twice)."""

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo
        self.first: dict[tuple[str, str], float] = {}
        self.count: dict[tuple[str, str], int] = {}
        self._thread = threading.Thread(target=self._read, name="start-stamps", daemon=True)
        self._fd = -1

    @contextlib.contextmanager
    def running(self) -> Iterator[StartStamps]:
        os.mkfifo(self.fifo)
        self.fifo.chmod(0o666)  # the shards may run as another user (the agent's --run-as)
        # O_RDWR: the FIFO always has a writer (us), so the reader never sees EOF between jobs and a job's
        # open for writing never blocks.
        self._fd = os.open(self.fifo, os.O_RDWR)
        self._thread.start()
        try:
            yield self
        finally:
            os.write(self._fd, _STOP)
            self._thread.join(10)
            os.close(self._fd)
            self.fifo.unlink(missing_ok=True)

    def _read(self) -> None:
        pending = b""
        while True:
            chunk = os.read(self._fd, 65536)
            stamp = time.time()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line + b"\n" == _STOP:
                    return
                job, _, firing = line.decode(errors="replace").partition(" ")
                key = (job, firing)
                self.first.setdefault(key, stamp)
                self.count[key] = self.count.get(key, 0) + 1
