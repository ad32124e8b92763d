"""``api``: reads from a follower and the leader while the ``cron`` load runs.

Two masters and two agents as real processes on a real ZooKeeper, the 10,000 jobs of the ``cron``
benchmark firing; during a window of the cron load, 8 reader processes (``bench.api_reader``: 4 on the
follower, 4 on the leader) offer 2,000 reads a second between them — single jobs and pages of 100 — each
at a fixed pace, latency counted from each read's planned start. Figures: reads per second served and the
p99 latency (targets ≥ 2,000/s, ≤ 50 ms), per kind and per master, and the cron lateness in the same
window (its target still ≤ 100 ms at p99).

``--quick``: 60 jobs every 5 s, 2 readers at 50 reads/s each, 8 s. ``ELASTICJOB_BENCH_PROFILE=DIR`` records
the leader, the follower and an agent with py-spy during the reads.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.cron import job_body
from bench.harness import Figure, at_least, at_most, percentile, rounded, workdir
from bench.profiling import profiled
from bench.stamps import StartStamps, stamping_script
from elasticjob.dev.localcluster import LocalCluster, start_lateness
from elasticjob.dev.processes import build_tarball
from elasticjob.model.queue import cron_instant


def readers(
    urls: list[str], count: int, rate: float, jobs: int, start: float, end: float
) -> list[dict[str, Any]]:
    """``count`` reader processes, alternating over ``urls``, offering ``rate`` reads/s between them."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.api_reader", "--url", urls[i % len(urls)], "--jobs", str(jobs),
             "--prefix", "cron-", "--rate", str(rate / count), "--start", str(start), "--end", str(end)],
            stdout=subprocess.PIPE, text=True,
        )
        for i in range(count)
    ]
    results = []
    for index, process in enumerate(processes):
        out, _ = process.communicate(timeout=end - time.time() + 120)
        result = json.loads(out.strip().splitlines()[-1])
        result["url"] = urls[index % len(urls)]
        results.append(result)
    return results


def sample(metrics: str, name: str) -> float | None:
    """The value of the Prometheus sample ``name`` (with its labels, as written) in ``metrics``."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def on_time(metrics: str, histogram: str, within: str = "1.0") -> float | None:
    """The share of a Prometheus histogram's observations at or below ``within`` (one of its buckets)."""
    total = sample(metrics, f"{histogram}_count")
    below = sample(metrics, f'{histogram}_bucket{{le="{within}"}}')
    return None if not total or below is None else round(below / total, 3)


class LeaderWatch:
    """Samples the leader's ``/metrics`` every ``every`` seconds on a thread of its own until ``end``: the
    most jobs waiting for room, and the scheduler's mean cycle over the window."""

    def __init__(self, get: Any, end: float, every: float = 2.0) -> None:
        self.get, self.end, self.every = get, end, every
        self.max_waiting = 0.0
        self.first: tuple[float, float] | None = None  # cycle seconds sum, count
        self.last: tuple[float, float] | None = None
        self.thread = threading.Thread(target=self._run, name="leader-watch", daemon=True)

    def _run(self) -> None:
        while time.time() < self.end:
            try:
                text = self.get("/metrics", timeout=10).text
            except Exception:  # noqa: BLE001 - a sample missed under load is only a sample
                text = ""
            waiting = sample(text, "elasticjob_waiting_jobs")
            total = sample(text, "elasticjob_scheduler_cycle_seconds_sum")
            count = sample(text, "elasticjob_scheduler_cycle_seconds_count")
            if waiting is not None:
                self.max_waiting = max(self.max_waiting, waiting)
            if total is not None and count is not None:
                self.first = self.first or (total, count)
                self.last = (total, count)
            time.sleep(self.every)

    def mean_cycle_ms(self) -> float | None:
        if self.first is None or self.last is None or self.last[1] <= self.first[1]:
            return None
        return round((self.last[0] - self.first[0]) / (self.last[1] - self.first[1]) * 1000, 1)


def run(quick: bool) -> Figure:
    jobs, period, window, clients, rate, lead = (
        (60, 5, 8.0, 2, 100.0, 4.0) if quick else (10_000, 60, 90.0, 8, 2000.0, 10.0)
    )
    bodies = [job_body(i, period) for i in range(jobs)]
    with workdir("api") as tmp:
        root = Path(tmp)
        stamps = StartStamps(root / "started.fifo")
        tarball = build_tarball({"run.sh": stamping_script(stamps.fifo)}, root / "cron.tar.gz",
                                executable=("run.sh",))
        cluster = LocalCluster(root, masters=2, agents=2, agent_cpus=2, agent_mem=8192)
        with stamps.running(), cluster:
            cluster.register_app("cron", tarball)
            cluster.register_jobs(bodies)
            leader, follower = cluster.leader(), cluster.followers()[0]
            start = math.ceil((time.time() + lead) / period) * period
            end = start + window
            pids = {"leader": leader.pid, "follower": follower.pid, "agent": cluster.agents[0].pid}
            watch = LeaderWatch(leader.get, end)
            watch.thread.start()
            with profiled("api", pids):
                results = readers([follower.url, leader.url], clients, rate, jobs, start, end)
            watch.thread.join(timeout=30)
            time.sleep(max(0.0, end + lead - time.time()))
            rows = cluster.executions()
            scraped = leader.get("/metrics", timeout=30).text
    single = [x for r in results for x in r["single_ms"]]
    paged = [x for r in results for x in r["page_ms"]]
    everything = single + paged
    by_master = {
        name: sum(len(r["single_ms"]) + len(r["page_ms"]) for r in results if r["url"] == url) / window
        for name, url in (("follower", follower.url), ("leader", leader.url))
    }
    finished = [
        (r, i) for r in rows
        if (i := cron_instant(r["firingId"])) is not None and start <= i.timestamp() < end
        and r["state"] == "FINISHED"
    ]
    lateness = [x for r, _ in finished if (x := start_lateness(r)) is not None]
    command = [stamps.first[key] - i.timestamp() for r, i in finished
               if (key := (r["jobName"], r["firingId"])) in stamps.first]
    agent_p99, command_p99 = percentile(lateness, 0.99), percentile(command, 0.99)
    cron_p99 = math.nan if math.isnan(agent_p99 + command_p99) else max(agent_p99, command_p99) * 1000
    served = len(everything) / window
    figures = [
        Figure("api.reads_per_s", round(served), "reads/s", at_least(2000),
               {"follower": round(by_master["follower"]), "leader": round(by_master["leader"])}),
        Figure("api.p99", rounded(percentile(everything, 0.99)), "ms", at_most(50)),
        Figure("api.job_p99", rounded(percentile(single, 0.99)), "ms", at_most(50), {"reads": len(single)}),
        Figure("api.page_of_100_p99", rounded(percentile(paged, 0.99)), "ms", at_most(50),
               {"reads": len(paged)}),
        Figure("api.errors", sum(r["errors"] for r in results), "", at_most(0)),
        Figure("api.cron_lateness_p99", rounded(cron_p99), "ms", at_most(100),
               {"samples": len(lateness), "command_samples": len(command),
                "agent_p99_ms": rounded(agent_p99 * 1000), "command_p99_ms": rounded(command_p99 * 1000),
                # Where the lateness comes from: the leader launching late, or the agents starting late.
                "launched_within_1s": on_time(scraped, "elasticjob_launch_lateness_seconds"),
                "started_within_1s": on_time(scraped, "elasticjob_start_lateness_seconds"),
                "max_waiting_jobs": watch.max_waiting, "mean_cycle_ms": watch.mean_cycle_ms()}),
    ]
    params = {"jobs": jobs, "clients": clients, "offered_reads_per_s": rate, "window_s": window, "masters": 2,
              "agents": 2}
    return Figure("api", round(served), "reads/s", at_least(2000), params, figures)
