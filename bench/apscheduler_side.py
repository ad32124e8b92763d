"""APScheduler 3.x firing the same schedules as the ``cron`` benchmark, in-process, for comparison.

``python -m bench.apscheduler_side --jobs N --period P --duration D`` runs a ``BackgroundScheduler`` with
the memory job store and its default thread pool; job ``i`` fires every ``P`` seconds at second offset
``i % P`` (``P`` is 60 or divides 60). Each run records its lateness: when the job function started minus
the instant it was scheduled for. Prints one JSON object: the lateness samples' percentiles, runs, and runs
APScheduler skipped (misfired) or that came more than once.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import threading
import time

from apscheduler.events import EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bench.harness import percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--period", type=int, default=60)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    lock = threading.Lock()
    lateness: list[float] = []
    runs: collections.Counter[tuple[int, int]] = collections.Counter()
    missed = 0
    start = time.time()
    window_start = (int(start) // args.period + 1) * args.period  # the next full period
    window_end = window_start + args.duration

    def fire(job: int, offset: int) -> None:
        now = time.time()
        # The latest instant at or before now with this job's second offset within the period.
        instant = now - ((now - offset) % args.period)
        if window_start <= instant < window_end:
            with lock:
                lateness.append(now - instant)
                runs[(job, int(instant))] += 1

    def on_missed(event: JobEvent) -> None:
        nonlocal missed
        with lock:
            missed += 1

    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"misfire_grace_time": args.period})
    scheduler.add_listener(on_missed, EVENT_JOB_MISSED)
    for job in range(args.jobs):
        offset = job % args.period
        if args.period < 60:
            trigger = CronTrigger(second=f"{offset}/{args.period}", timezone="UTC")
        else:
            trigger = CronTrigger(second=offset, timezone="UTC")
        scheduler.add_job(fire, trigger, args=(job, offset), id=str(job))
    scheduler.start()
    time.sleep(max(0.0, window_end - time.time() + 2.0))
    scheduler.shutdown(wait=True)
    expected = args.jobs * int(args.duration // args.period)
    print(
        json.dumps(
            {
                "samples": len(lateness),
                "expected": expected,
                "missed": missed,
                "twice": sum(1 for n in runs.values() if n > 1),
                "p50_ms": percentile(lateness, 0.5) * 1000,
                "p99_ms": percentile(lateness, 0.99) * 1000,
                "max_ms": max(lateness) * 1000 if lateness else None,
            }
        )
    )


if __name__ == "__main__":
    main()
