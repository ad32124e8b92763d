"""``burst``: 2,000 one-shard jobs all due at second 0 of the same minute.

One master and two agents as real processes on a real ZooKeeper; a trivial shell job. For the first whole
minute after every job is registered: each shard's lateness (its start minus the instant, as its agent
reports it and as the job's command itself shows it: see ``bench.cron``; the figures take the later of
the two); the last shard must start within 5 s of the instant and half of them within 2 s, each exactly
once.

``--quick``: 100 jobs due every 5 seconds; one instant. ``ELASTICJOB_BENCH_PROFILE=DIR`` records the leader
and an agent with py-spy around the instant.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import time
from pathlib import Path
from typing import Any

from bench.harness import Figure, at_least, at_most, percentile, rounded, workdir
from bench.profiling import profiled
from bench.stamps import StartStamps, stamping_script
from elasticjob.dev.localcluster import LocalCluster, start_lateness
from elasticjob.dev.processes import build_tarball
from elasticjob.model.queue import cron_instant

FINISH_WAIT = 180.0  # seconds after the instant: then what has not finished counts as not run


def run(quick: bool) -> Figure:
    jobs, period, lead = (100, 5, 4.0) if quick else (2_000, 60, 10.0)
    expression = "0 * * * * ?" if period == 60 else f"0/{period} * * * * ?"
    bodies = [
        {"jobName": f"burst-{i:05d}", "appName": "burst", "cron": expression, "shardingTotalCount": 1,
         "cpuCount": 0.001, "memoryMB": 8, "misfire": False}
        for i in range(jobs)
    ]
    with workdir("burst") as tmp:
        root = Path(tmp)
        stamps = StartStamps(root / "started.fifo")
        tarball = build_tarball({"run.sh": stamping_script(stamps.fifo)}, root / "burst.tar.gz",
                                executable=("run.sh",))
        with stamps.running(), LocalCluster(root, agents=2, agent_cpus=2, agent_mem=8192) as cluster:
            cluster.register_app("burst", tarball)
            registrations = cluster.register_jobs(bodies)
            instant = dt.datetime.fromtimestamp(math.ceil((time.time() + lead) / period) * period, dt.UTC)
            time.sleep(max(0.0, instant.timestamp() - time.time() - 0.5))
            with profiled("burst", {"leader": cluster.leader().pid, "agent": cluster.agents[0].pid}):
                time.sleep(max(0.0, instant.timestamp() - time.time() + 1.5 * lead))
            # A slow machine may still be starting shards: wait (boundedly) for every one to finish, so
            # that a shard not yet run is not counted as lost.
            deadline = instant.timestamp() + FINISH_WAIT
            while True:
                rows = cluster.executions()
                finished_jobs = {r["jobName"] for r in rows
                        if cron_instant(r["firingId"]) == instant and r["state"] == "FINISHED"}
                if len(finished_jobs) >= jobs or time.time() > deadline:
                    break
                time.sleep(2.0)
    mine = [r for r in rows if cron_instant(r["firingId"]) == instant]
    finished = collections.Counter(r["jobName"] for r in mine if r["state"] == "FINISHED")
    # Per shard, the later of the agent's report and the command's own stamp.
    done = [(r, x) for r in mine if r["state"] == "FINISHED" and (x := start_lateness(r)) is not None]
    stamped = [(x, stamps.first.get((r["jobName"], r["firingId"]))) for r, x in done]
    lateness = [max(x, stamp - instant.timestamp()) for x, stamp in stamped if stamp is not None]
    unstamped = sum(1 for _, stamp in stamped if stamp is None)
    commands_twice = sum(1 for (_, firing), n in stamps.count.items()
                         if n > 1 and cron_instant(firing) == instant)
    exact = (len(finished) == jobs and all(n == 1 for n in finished.values()) and commands_twice == 0
             and unstamped == 0)
    last, p50 = (max(lateness) if lateness else math.nan), percentile(lateness, 0.5)
    params: dict[str, Any] = {"jobs": jobs, "agents": 2, "masters": 1, "instant": instant.isoformat(),
                              "samples": len(lateness)}
    figures = [
        Figure("burst.last_started", rounded(last, 2), "s", at_most(5)),
        Figure("burst.p50", rounded(p50, 2), "s", at_most(2)),
        Figure("burst.p99", rounded(percentile(lateness, 0.99), 2), "s"),
        Figure("burst.exactly_once", 1.0 if exact else 0.0, "", at_least(1),
               {"finished": len(finished), "twice": sum(1 for n in finished.values() if n > 1),
                "commands_twice": commands_twice, "finished_without_a_stamp": unstamped}),
        Figure("burst.registrations", round(registrations), "jobs/s", None, {"clients": 8}),
    ]
    return Figure("burst", rounded(last, 2), "s", at_most(5), params, figures)
