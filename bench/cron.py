"""``cron``: many jobs firing every minute at spread seconds, started on time and exactly once.

10,000 one-shard jobs, job ``i`` on the Quartz cron ``{i % 60} * * * * ?`` (about 167 firings a second),
a trivial shell job, one master and two agents as real processes on a real ZooKeeper. Measured over three
whole minutes after every job is registered and warm: lateness = the shard's start minus the firing's
scheduled instant, measured twice: as its agent reports it (the process started, or — launched ahead —
released from its gate), and as the job's command itself shows it (its first action writes a line into a
FIFO that the benchmark stamps: ``bench.stamps``). The target applies to the later of the two. Every
firing of the window must have run exactly once.
Then APScheduler 3.x fires the same 10,000 schedules in-process (``bench.apscheduler_side``), alone on
the machine, for one minute (each schedule once), and its lateness is set beside ours.

``--quick``: 60 jobs firing every 5 seconds, over 10 seconds. ``ELASTICJOB_BENCH_PROFILE=DIR`` records the
leader and an agent with py-spy during the window.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness import Figure, at_least, at_most, percentile, rounded, workdir
from bench.profiling import profiled
from bench.stamps import StartStamps, stamping_script
from elasticjob import cron as cron_dialects
from elasticjob.dev.localcluster import LocalCluster, start_lateness
from elasticjob.dev.processes import build_tarball
from elasticjob.model.queue import cron_firing_id, cron_instant

APSCHEDULER_WINDOW = 60.0  # every schedule fires once in it: 10,000 samples


def job_body(index: int, period: int) -> dict[str, Any]:
    offset = index % period
    expression = f"{offset} * * * * ?" if period == 60 else f"{offset}/{period} * * * * ?"
    return {"jobName": f"cron-{index:05d}", "appName": "cron", "cron": expression, "shardingTotalCount": 1,
            "cpuCount": 0.001, "memoryMB": 8, "misfire": False}


def expected_firings(
    bodies: list[dict[str, Any]], start: dt.datetime, end: dt.datetime
) -> set[tuple[str, str]]:
    """(job, firing id) of every instant of every job in ``[start, end)``."""
    expected = set()
    schedules: dict[str, cron_dialects.Schedule] = {}
    for body in bodies:
        expression = body["cron"]
        if expression not in schedules:
            schedules[expression] = cron_dialects.parse(expression, cron_dialects.Dialect.QUARTZ)
        instant = schedules[expression].next_fire(start - dt.timedelta(microseconds=1))
        while instant is not None and instant < end:
            expected.add((body["jobName"], cron_firing_id(instant)))
            instant = schedules[expression].next_fire(instant)
    return expected


def measure(
    cluster: LocalCluster, bodies: list[dict[str, Any]], period: int, duration: float, lead: float = 10.0,
    stamps: StartStamps | None = None,
) -> dict[str, Any]:
    """Register the jobs, let them warm up, measure a window of ``duration`` seconds."""
    registrations = cluster.register_jobs(bodies)
    # The window opens at a period boundary at least ``lead`` seconds away: the app is fetched by then.
    start_ts = math.ceil((time.time() + lead) / period) * period
    start = dt.datetime.fromtimestamp(start_ts, dt.UTC)
    end = start + dt.timedelta(seconds=duration)
    time.sleep(max(0.0, start_ts - time.time()))
    with profiled("cron", {"leader": cluster.leader().pid, "agent": cluster.agents[0].pid}):
        time.sleep(max(0.0, end.timestamp() - time.time()))
    time.sleep(lead)  # time to finish
    rows = cluster.executions()
    in_window = [r for r in rows if (i := cron_instant(r["firingId"])) is not None and start <= i < end]
    lateness = [x for r in in_window if r["state"] == "FINISHED" and (x := start_lateness(r)) is not None]
    seen = stamps.first if stamps is not None else {}
    command_lateness = [
        seen[key] - instant.timestamp()
        for r in in_window
        if r["state"] == "FINISHED" and (key := (r["jobName"], r["firingId"])) in seen
        and (instant := cron_instant(r["firingId"])) is not None
    ]
    finished = collections.Counter(
        (r["jobName"], r["firingId"]) for r in in_window if r["state"] == "FINISHED"
    )
    expected = expected_firings(bodies, start, end)
    return {
        "registrations_per_s": registrations,
        "lateness": lateness,
        "command_lateness": command_lateness,
        "commands_twice": 0 if stamps is None else sum(1 for n in stamps.count.values() if n > 1),
        "unstamped": len(lateness) - len(command_lateness) if stamps else 0,
        "expected": len(expected),
        "missing": len(expected - set(finished)),
        "twice": sum(1 for n in finished.values() if n > 1),
        "failed": sum(1 for r in in_window if r["state"] not in ("FINISHED", "MISSED")),
        "window": [start.isoformat(), end.isoformat()],
    }


def apscheduler(jobs: int, period: int, duration: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.apscheduler_side", "--jobs", str(jobs), "--period", str(period),
         "--duration", str(duration)],
        capture_output=True, text=True, timeout=duration + 2 * period + 120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"apscheduler side failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ratio(ours: float, theirs: float | None) -> float | None:
    return rounded(ours / theirs, 2) if theirs else None


def run(quick: bool) -> Figure:
    jobs, period, duration, lead = (60, 5, 10.0, 4.0) if quick else (10_000, 60, 180.0, 10.0)
    bodies = [job_body(i, period) for i in range(jobs)]
    with workdir("cron") as tmp:
        root = Path(tmp)
        stamps = StartStamps(root / "started.fifo")
        script = stamping_script(stamps.fifo)
        tarball = build_tarball({"run.sh": script}, root / "cron.tar.gz", executable=("run.sh",))
        with stamps.running(), LocalCluster(root, agents=2, agent_cpus=2, agent_mem=8192) as cluster:
            cluster.register_app("cron", tarball)
            ours = measure(cluster, bodies, period, duration, lead, stamps)
    theirs = apscheduler(jobs, period, APSCHEDULER_WINDOW if not quick else duration)
    lateness, command = ours["lateness"], ours["command_lateness"]
    p50, p99 = percentile(lateness, 0.5) * 1000, percentile(lateness, 0.99) * 1000
    command_p50, command_p99 = percentile(command, 0.5) * 1000, percentile(command, 0.99) * 1000
    worst_p99 = math.nan if math.isnan(p99) or math.isnan(command_p99) else max(p99, command_p99)
    faults = ("missing", "twice", "failed", "commands_twice", "unstamped")
    exact = all(ours[fault] == 0 for fault in faults)
    params = {
        "jobs": jobs, "period_s": period, "window_s": duration, "agents": 2, "masters": 1,
        "firings_per_s": round(jobs / period, 1), "expected_firings": ours["expected"],
        "samples": len(lateness), "command_samples": len(command), "window": ours["window"],
    }
    figures = [
        Figure("cron.lateness_p50", rounded(p50), "ms", None, {"measured_by": "agent"}),
        Figure("cron.lateness_p99", rounded(p99), "ms", at_most(100)),
        Figure("cron.lateness_max", rounded(max(lateness) * 1000 if lateness else float("nan")), "ms"),
        Figure("cron.command_lateness_p50", rounded(command_p50), "ms", None,
               {"measured_by": "the job (FIFO)"}),
        Figure("cron.command_lateness_p99", rounded(command_p99), "ms", at_most(100)),
        Figure("cron.command_lateness_max", rounded(max(command) * 1000 if command else float("nan")), "ms"),
        Figure("cron.exactly_once", 1.0 if exact else 0.0, "", at_least(1),
               {"missing": ours["missing"], "twice": ours["twice"], "failed": ours["failed"],
                "commands_twice": ours["commands_twice"], "finished_without_a_stamp": ours["unstamped"]}),
        Figure("cron.registrations", round(ours["registrations_per_s"]), "jobs/s", None,
               {"clients": 8}),
        Figure("cron.apscheduler_p50", rounded(theirs["p50_ms"]), "ms", None,
               {"missed": theirs["missed"], "twice": theirs["twice"], "samples": theirs["samples"],
                "expected": theirs["expected"]}),
        Figure("cron.apscheduler_p99", rounded(theirs["p99_ms"]), "ms"),
        Figure("cron.apscheduler_max", rounded(theirs["max_ms"] or float("nan")), "ms"),
        Figure("cron.p99_ratio_ours_to_apscheduler", ratio(worst_p99, theirs["p99_ms"]), "x"),
    ]
    return Figure("cron", rounded(worst_p99), "ms", at_most(100), params, figures)

