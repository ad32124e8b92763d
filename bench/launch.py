"""``launch``: how many tasks a master persists and sends per second, next to ZooKeeper's own ceiling.

Real ZooKeeper, a real master process, and one simulator process holding 1,000 agent streams (real gRPC
on loopback, a TCP connection each; ``elasticjob.dev.simagents``). Every agent registers generous
resources and answers each launch by reporting RUNNING and then FINISHED at once, never spawning
anything — so the master also records 2 statuses per task while it launches, as it would for short
shards. 2,000 jobs of 5 shards are registered through the native API (``POST /app`` once,
``POST /job/register`` from 8 clients) with a cron that fires once, all at the same instant.

- ``launch`` (headline): tasks / (last launch received by the simulator − the scheduled instant). The
  master writes every task's ``/state/running`` znode in a fenced multi-transaction before it sends the
  launch, so a task received is a task persisted and sent.
- ``launch.zk_ceiling``: ZooKeeper's own ceiling in the same run: one kazoo client creating as many znodes
  of the same size as a running-task znode (sampled from the run) in sequential multi-transactions of
  500 operations — what the leader's writes cost if they were all it did.
- ``launch.ratio``: the headline over the ceiling.
- ``launch.gateway_ceiling``: the master's agent gateway alone (``bench/launch_gateway.py``): tasks per
  second it moves over the same agents — launch out, RUNNING and FINISHED back — with nothing else of
  the master working; the part of the headline's cost that is the gateway's.

Set ``ELASTICJOB_BENCH_PROFILE=DIR`` to record the master with py-spy from the instant to the last launch
(``DIR/launch-master.folded``, with the master's and the simulator's logs beside it; ``python -m
bench.profiling FILE`` summarizes it).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from bench.harness import Figure, at_least, workdir
from bench.launch_gateway import gateway_ceiling
from bench.profiling import py_spy
from elasticjob.common.net import free_port
from elasticjob.dev.httpload import post_all
from elasticjob.dev.processes import MasterProcess, build_tarball, wait_until
from elasticjob.dev.simagents import SimulatedAgentsProcess
from elasticjob.dev.zookeeper import LocalZooKeeper
from elasticjob.registry import Layout
from elasticjob.registry.handler import PollingHandler

TARGET = 10_000.0  # tasks/s
NEVER = "0 0 0 1 1 ? 2099"
OPS_PER_TRANSACTION = 500
CLIENTS = 8


@dataclass
class Burst:
    tasks: int  # tasks due at the instant
    received: int  # tasks the simulated agents received
    messages: int  # Launch messages they came in
    duplicates: int
    seconds: float  # from the instant to the last launch received
    first_after: float  # from the instant to the first launch received
    znode_bytes: int | None  # size of a running-task znode seen during the burst
    registration_rate: float  # jobs/s through the API, for the record
    agents: int


def cron_at(instant: dt.datetime) -> str:
    """A Quartz cron that fires once, at ``instant`` (UTC, whole seconds)."""
    return f"{instant.second} {instant.minute} {instant.hour} {instant.day} {instant.month} ? {instant.year}"


def register_jobs(url: str, bodies: Iterable[dict[str, Any]]) -> float:
    """Register every job from ``CLIENTS`` concurrent client processes; return the seconds it took."""
    return post_all(url, "/job/register", bodies, CLIENTS)


def connected_agents(api: httpx.Client) -> float | None:
    found = re.search(r"^elasticjob_connected_agents (\S+)$", api.get("/metrics").text, re.M)
    return None if found is None else float(found.group(1))


class ZnodeSampler:
    """Reads one running-task znode of the burst (they live from the launch to the FINISHED report)."""

    def __init__(self, hosts: str, layout: Layout, jobs: list[str]) -> None:
        self.size: int | None = None
        self._client = KazooClient(hosts=hosts, timeout=10, handler=PollingHandler())
        self._layout = layout
        self._jobs = jobs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ZnodeSampler:
        self._client.start(timeout=15)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._client.stop()
        self._client.close()

    def _run(self) -> None:
        # One read every 20 ms, round the jobs: too few to weigh on the ZooKeeper the master is using.
        n = 0
        while self.size is None and not self._stop.wait(0.02):
            job = self._jobs[n % len(self._jobs)]
            n += 1
            try:
                for task in self._client.get_children(self._layout.running(job))[:1]:
                    data, _ = self._client.get(self._layout.running_task(job, task))
                    self.size = len(data)
            except NoNodeError:
                continue


def measure_burst(root: Path, zk_hosts: str, agents: int, jobs: int, shards: int, timeout: float) -> Burst:
    # Launched at the instant, not ahead of it: the figure is the master's pace from due to sent.
    master = MasterProcess(zk_hosts, "launch", root / "master", "--launch-ahead", "0").start()
    fleet = SimulatedAgentsProcess(zk_hosts, master.namespace, agents, root / "simagents.log",
                                   "--cpus", "1000", "--mem", "1000000")
    profile_dir = os.environ.get("ELASTICJOB_BENCH_PROFILE")
    try:
        fleet.start()
        with httpx.Client(base_url=master.url, timeout=60) as api:
            wait_until(lambda: connected_agents(api) == agents, 180, interval=0.5,
                       message=f"{agents} simulated agents connected")
            tarball = build_tarball({"run.sh": "#!/bin/sh\n"}, root / "app.tar.gz", executable=("run.sh",))
            app = {"appName": "burst", "appURL": tarball.as_uri(), "bootstrapScript": "./run.sh",
                   "cpuCount": 0.01, "memoryMB": 1}
            api.post("/app", json=app).raise_for_status()
        job = {"appName": "burst", "shardingTotalCount": shards, "cpuCount": 0.01, "memoryMB": 1}
        # The instant must come after the last registration: estimate the time they take from a probe of
        # idle jobs (which stay registered and never fire), with room for registration slowing down as
        # the registry grows.
        probe = max(20, jobs // 20)
        seconds = register_jobs(master.url, ({**job, "jobName": f"idle-{n:05d}", "cron": NEVER}
                                             for n in range(probe)))
        rate = probe / seconds
        now = dt.datetime.now(dt.UTC)
        instant = (now + dt.timedelta(seconds=5 + 3 * jobs / rate)).replace(microsecond=0)
        instant += dt.timedelta(seconds=1)
        names = [f"burst-{n:05d}" for n in range(jobs)]
        seconds = register_jobs(master.url, ({**job, "jobName": name, "cron": cron_at(instant)}
                                             for name in names))
        left = instant.timestamp() - time.time()
        if left < 0.5:
            raise RuntimeError(f"registering {jobs} jobs took {seconds:.0f}s, past the instant they fire at "
                               f"(estimated from {probe} at {rate:.0f}/s): nothing to measure")
        time.sleep(max(left - 0.5, 0))
        sampler = ZnodeSampler(zk_hosts, Layout(master.namespace), names[:20]).start()
        output = Path(profile_dir) / "launch-master.folded" if profile_dir else None
        tasks = jobs * shards
        try:
            with py_spy(master.pid, output):
                deadline = instant.timestamp() + timeout
                while time.time() < deadline and fleet.stats()["tasks"] < tasks:
                    time.sleep(0.2)
        finally:
            sampler.stop()
        final = fleet.stop()
        if final is None:
            raise RuntimeError(f"the simulated agents did not report:\n{fleet.log()}")
    finally:
        fleet.stop()
        master.stop()
        if profile_dir:  # the logs that go with the profile
            for log in (master.log_path, fleet.log_path):
                if log.exists():
                    shutil.copy(log, Path(profile_dir) / f"launch-{log.name}")
    at = instant.timestamp()
    return Burst(
        tasks=tasks,
        received=final["tasks"],
        messages=final["launches"],
        duplicates=final["duplicate_tasks"],
        seconds=(final["last_launch_at"] or math.nan) - at,
        first_after=(final["first_launch_at"] or math.nan) - at,
        znode_bytes=sampler.size,
        registration_rate=jobs / seconds,
        agents=agents,
    )


def zk_ceiling(zk_hosts: str, count: int, size: int) -> float:
    """Znodes of ``size`` bytes created per second by one client in sequential multi-transactions."""
    client = KazooClient(hosts=zk_hosts, timeout=30, handler=PollingHandler())
    client.start(timeout=15)
    try:
        client.ensure_path("/ceiling")
        payload = b"x" * size
        started = time.perf_counter()
        for first in range(0, count, OPS_PER_TRANSACTION):
            txn = client.transaction()
            for n in range(first, min(first + OPS_PER_TRANSACTION, count)):
                txn.create(f"/ceiling/task-{n:07d}", payload)
            failed = [r for r in txn.commit() if isinstance(r, Exception)]
            if failed:
                raise RuntimeError(f"ceiling transaction failed: {failed[0]!r}")
        return count / (time.perf_counter() - started)
    finally:
        client.stop()
        client.close()


def run(quick: bool) -> Figure:
    agents, jobs, shards, timeout = (20, 60, 5, 120.0) if quick else (1000, 2000, 5, 600.0)
    with workdir("launch") as tmp:
        root = Path(tmp)
        zk = LocalZooKeeper(root / "zk", free_port()).start()
        try:
            burst = measure_burst(root, zk.hosts, agents, jobs, shards, timeout)
            alone = gateway_ceiling(root, zk.hosts, agents, burst.tasks, timeout)
            size = burst.znode_bytes or 512
            ceiling = zk_ceiling(zk.hosts, burst.tasks, size)
        finally:
            zk.stop()
    rate = burst.received / burst.seconds if burst.received and burst.seconds > 0 else math.nan
    notes = []
    if burst.received < burst.tasks:
        notes.append(f"only {burst.received} of {burst.tasks} tasks were launched within {timeout:.0f}s")
    if burst.duplicates:
        notes.append(f"{burst.duplicates} tasks were launched twice")
    params = {
        "agents": burst.agents,
        "jobs": jobs,
        "shards_per_job": shards,
        "tasks": burst.tasks,
        "tasks_received": burst.received,
        "launch_messages": burst.messages,
        "first_launch_after_instant_s": round(burst.first_after, 3),
        "last_launch_after_instant_s": round(burst.seconds, 3),
        "registration_jobs_per_s": round(burst.registration_rate, 1),
        "agent_acks": "RUNNING then FINISHED at once",
    }
    ceiling_params: dict[str, Any] = {
        "znodes": burst.tasks, "znode_bytes": size, "ops_per_transaction": OPS_PER_TRANSACTION, "clients": 1,
    }
    if burst.znode_bytes is None:
        ceiling_params["note"] = "no running-task znode was caught during the burst: 512 bytes assumed"
    value = None if math.isnan(rate) else round(rate)
    gateway_params = {"agents": burst.agents, "tasks": alone.tasks, "launch_messages": alone.launch_messages,
                      "statuses_received": alone.statuses,
                      "measures": "the master's gateway alone: launches out, RUNNING and FINISHED back"}
    figures = [
        Figure("launch.gateway_ceiling", round(alone.tasks / alone.seconds), "tasks/s", None, gateway_params),
        Figure("launch.zk_ceiling", round(ceiling), "znodes/s", None, ceiling_params),
        Figure("launch.ratio", None if value is None else round(rate / ceiling, 3), "", None,
               {"of": "launch / launch.zk_ceiling"}),
    ]
    return Figure("launch", value, "tasks/s", at_least(TARGET), params, figures, note="; ".join(notes))
