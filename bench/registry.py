"""``registry``: a master with 100,000 registered jobs costs what an empty one costs, per request.

Two masters and one agent as real processes on a real ZooKeeper, 100,000 idle jobs (written straight into
ZooKeeper as the API writes them, 500 to a multi-transaction, before the masters start). Figures:
- the leader's resident memory once it holds them all (target ≤ 1 GiB), and how long a master takes to
  read them at start;
- a manual trigger until its shard runs, p50, next to the same on an empty installation (target: at most
  twice the empty figure);
- ``GET /job/jobs/{name}`` p99 (≤ 20 ms) and a page of 100 p99 (≤ 100 ms), one client;
- the console's views on the follower, p99 of each, one client: the overview (≤ 50 ms), a filtered page
  of the job list (``/job/summaries?q=``, a scan of every name: ≤ 250 ms), the queues (≤ 50 ms);
- registrations per second through the API from 8 clients, on top of the 100,000;
- after SIGKILL of the leader, the standby leads and launches the first firing of a job due every second
  within 30 s (the ZooKeeper session timeout, 10 s, is part of it).

``--quick``: 1,000 jobs, short samples, a 4 s session.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import time
from pathlib import Path
from typing import Any

import httpx
from kazoo.client import KazooClient

from bench.harness import Figure, at_least, at_most, percentile, rounded, workdir
from bench.profiling import profiled
from elasticjob.dev.localcluster import LocalCluster
from elasticjob.dev.processes import build_tarball, wait_until
from elasticjob.master.config import MasterConfig
from elasticjob.model import App, Job
from elasticjob.model.queue import ReadyQueue, cron_instant
from elasticjob.registry import Layout
from elasticjob.registry.handler import PollingHandler
from elasticjob.registry.store import encode

SCRIPT = "#!/bin/sh\nexit 0\n"
IDLE = "0 0 0 1 1 ? 2099"
APP = "idle"
LAUNCH_AHEAD = MasterConfig.launch_ahead  # the masters' default --launch-ahead
BATCH = 500


def load_jobs(zk_hosts: str, namespace: str, tarball: Path, count: int) -> float:
    """Write an app and ``count`` idle jobs (with their ready queues) straight into ZooKeeper; seconds."""
    layout = Layout(namespace)
    client = KazooClient(hosts=zk_hosts, timeout=30, handler=PollingHandler())
    client.start(timeout=30)
    started = time.perf_counter()
    try:
        for path in layout.base_paths():
            client.ensure_path(path)
        app = App(appName="idle", appURL=tarball.as_uri(), bootstrapScript="./run.sh", cpuCount=0.01,
                  memoryMB=16)
        client.create(layout.app("idle"), encode(app.model_dump(mode="json")))
        queue = encode(ReadyQueue(cursor=dt.datetime.now(dt.UTC)).to_json())
        for first in range(0, count, BATCH // 2):
            txn = client.transaction()
            for index in range(first, min(count, first + BATCH // 2)):
                name = f"idle-{index:06d}"
                job = Job.model_validate(probe_job(name, IDLE))
                txn.create(layout.job(name), encode(job.as_json()))
                txn.create(layout.ready(name), queue)
            txn.commit()
    finally:
        client.stop()
        client.close()
    return time.perf_counter() - started


def trigger_latencies(url: str, job: str, samples: int) -> list[float]:
    """Seconds from ``POST /job/trigger`` to the triggered shard's process start, ``samples`` times."""
    result = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(samples):
            seen = frozenset(r["taskId"] for r in _rows(client, job))
            began = time.time()
            headers = {"Content-Type": "text/plain"}
            client.post("/job/trigger", content=job.encode(), headers=headers).raise_for_status()
            row = wait_until(functools.partial(_new_start, client, job, seen), 30, interval=0.01,
                             message="the shard runs")
            result.append(dt.datetime.fromisoformat(row["startTime"]).timestamp() - began)
            wait_until(lambda: not client.get("/job/tasks/running").json(), 30, interval=0.01)
    return result


def _new_start(client: httpx.Client, job: str, seen: frozenset[str]) -> dict[str, Any]:
    """The execution of ``job`` that started and is not in ``seen`` (empty when there is none yet)."""
    return next((r for r in _rows(client, job) if r["taskId"] not in seen and r["startTime"]), {})


def _started_after(client: httpx.Client, job: str, killed: float) -> list[dict[str, Any]]:
    """Executions of ``job`` launched by a leader elected after ``killed``: firings due later than anything
    the killed leader could have launched ahead of time (its --launch-ahead, and a margin)."""
    rows = []
    for row in _rows(client, job):
        instant = cron_instant(row["firingId"])
        if row["startTime"] and instant is not None and instant.timestamp() > killed + LAUNCH_AHEAD + 1:
            rows.append(row)
    return rows


def _rows(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    return client.get("/job/events/executions", params={"jobName": job, "per_page": 100}).json()["rows"]


def read_latencies(url: str, count: int, jobs: int, pages: bool) -> list[float]:
    rng = random.Random(7)
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            if pages:
                path, params = "/job/jobs", {"page": rng.randint(1, max(1, jobs // 100)), "per_page": 100}
            else:
                path, params = f"/job/jobs/idle-{rng.randrange(jobs):06d}", {}
            began = time.perf_counter()
            response = client.get(path, params=params)
            latencies.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
    return latencies


CONSOLE_VIEWS = ("overview", "summaries", "queues")


def console_latencies(url: str, count: int, jobs: int) -> dict[str, list[float]]:
    """What an open console asks again and again, timed per view (ms)."""
    rng = random.Random(11)
    latencies: dict[str, list[float]] = {view: [] for view in CONSOLE_VIEWS}
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(count):
            for view in CONSOLE_VIEWS:
                if view == "summaries":
                    path, params = "/job/summaries", {"q": f"{rng.randrange(jobs):06d}"[:4], "per_page": 25}
                else:
                    path, params = f"/cluster/{view}", {}
                began = time.perf_counter()
                response = client.get(path, params=params)
                latencies[view].append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
    return latencies


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe_job(name: str, cron: str) -> dict[str, Any]:
    return {"jobName": name, "appName": "idle", "cron": cron, "shardingTotalCount": 1, "cpuCount": 0.01,
            "memoryMB": 16}


def run(quick: bool) -> Figure:
    jobs, samples, reads, extra, session = (
        (1_000, 5, 200, 200, 4.0) if quick else (100_000, 20, 2_000, 5_000, 10.0)
    )
    with workdir("registry") as tmp:
        root = Path(tmp)
        tarball = build_tarball({"run.sh": SCRIPT}, root / "idle.tar.gz", executable=("run.sh",))
        # The same trigger on an empty installation first.
        with LocalCluster(root / "empty", masters=1, agents=1, namespace="empty", session_timeout=session,
                          zk_heap_mb=2048) as empty:
            load_jobs(empty.zk_hosts, "empty", tarball, 0)
            empty.wait_for(f"/app/{APP}")  # written straight into ZooKeeper: seen a moment later
            empty.register_jobs([probe_job("probe", IDLE)])
            baseline = trigger_latencies(empty.leader().url, "probe", samples)
            zk_hosts = empty.zk_hosts
            # Keep its ZooKeeper for the big installation: stop only the masters and agents.
            empty.zookeeper, keep = None, empty.zookeeper
        try:
            loaded = load_jobs(zk_hosts, "big", tarball, jobs)
            started = time.perf_counter()
            cluster = LocalCluster(root / "big", masters=2, agents=1, namespace="big",
                                   session_timeout=session, zk_hosts=zk_hosts)
            with cluster:
                start_seconds = time.perf_counter() - started
                leader = cluster.leader()
                cluster.wait_for(f"/app/{APP}")
                memory = rss_mib(leader.pid)
                cluster.register_jobs([probe_job("probe", IDLE)])
                triggered = trigger_latencies(leader.url, "probe", samples)
                singles = read_latencies(leader.url, reads, jobs, pages=False)
                paged = read_latencies(leader.url, reads // 4, jobs, pages=True)
                follower = cluster.followers()[0]
                with profiled("registry-console", {"follower": follower.pid}):
                    console = console_latencies(follower.url, reads // 20, jobs)
                with profiled("registry-registrations", {"leader": leader.pid}):
                    registrations = cluster.register_jobs(
                        probe_job(f"more-{i:06d}", IDLE) for i in range(extra)
                    )
                memory = max(memory, rss_mib(leader.pid))
                cluster.register_jobs([probe_job("tick", "* * * * * ?")])
                standby = cluster.followers()[0]
                with httpx.Client(base_url=leader.url, timeout=30) as client:
                    wait_until(lambda: _rows(client, "tick"), 30, message="tick runs")
                killed = time.time()
                leader.kill()
                with httpx.Client(base_url=standby.url, timeout=30) as client:
                    wait_until(lambda: client.get("/leader").json().get("self"), 120, interval=0.1)
                    first = wait_until(lambda: _started_after(client, "tick", killed), 120, interval=0.1,
                                       message="the standby launches")
                takeover = min(dt.datetime.fromisoformat(r["startTime"]).timestamp() for r in first) - killed
        finally:
            if keep is not None:
                keep.stop()
    empty_p50, big_p50 = percentile(baseline, 0.5), percentile(triggered, 0.5)
    figures = [
        Figure("registry.leader_rss", rounded(memory), "MiB", at_most(1024), {"jobs": jobs + extra}),
        Figure("registry.trigger_to_running_p50", rounded(big_p50 * 1000), "ms",
               at_most(round(2 * empty_p50 * 1000, 1)),
               {"empty_installation_ms": rounded(empty_p50 * 1000), "samples": samples}),
        Figure("registry.job_get_p99", rounded(percentile(singles, 0.99)), "ms", at_most(20),
               {"reads": reads}),
        Figure("registry.page_of_100_p99", rounded(percentile(paged, 0.99)), "ms", at_most(100),
               {"reads": len(paged)}),
        Figure("registry.console_overview_p99", rounded(percentile(console["overview"], 0.99)), "ms",
               at_most(50), {"reads": len(console["overview"]), "master": "follower"}),
        Figure("registry.console_job_filter_p99", rounded(percentile(console["summaries"], 0.99)), "ms",
               at_most(250), {"reads": len(console["summaries"]), "master": "follower",
                              "note": "GET /job/summaries?q=: every name scanned, a page of 25"}),
        Figure("registry.console_queues_p99", rounded(percentile(console["queues"], 0.99)), "ms",
               at_most(50), {"reads": len(console["queues"]), "master": "follower"}),
        Figure("registry.registrations", round(registrations), "jobs/s", at_least(500),
               {"clients": 8, "jobs": extra}),
        Figure("registry.standby_first_launch", rounded(takeover, 1), "s", at_most(30),
               {"zk_session_timeout_s": session}),
        Figure("registry.master_start", rounded(start_seconds, 1), "s", None,
               {"note": "two masters reading every job, then one agent connecting"}),
        Figure("registry.bulk_load", rounded(loaded, 1), "s", None, {"znodes": 2 * jobs}),
    ]
    params = {"jobs": jobs, "masters": 2, "agents": 1}
    return Figure("registry", rounded(memory), "MiB", at_most(1024), params, figures)
