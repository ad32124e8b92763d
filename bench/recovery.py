"""Recovery times on loopback with real processes.

- agent_sigkill: a shard runs on an agent that is SIGKILLed; time until the failed-over shard's process
  runs again on the other agent (its RUNNING start time).
- leader_sigkill: a job fires every second; the leader is SIGKILLed; time until the first shard launched
  by the new leader starts running.

Each is measured with the defaults (ZooKeeper session 10 s, agent grace 15 s) and with a fast setting
(session 4 s, grace 3 s; ``--quick`` measures only that one). Both are bounded by the configured detection
times, not by the scheduler: the targets are the detection time plus 5 s.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx

from bench.common import register_script_job
from bench.harness import Figure, at_most, workdir
from elasticjob.common.net import free_port
from elasticjob.dev.processes import AgentProcess, MasterProcess, wait_until
from elasticjob.dev.zookeeper import LocalZooKeeper
from elasticjob.master.config import MasterConfig
from elasticjob.model.queue import cron_instant

LONG = "#!/bin/sh\nsleep 60\n"
QUICK = "#!/bin/sh\nsleep 0.2\n"
LAUNCH_AHEAD = MasterConfig.launch_ahead  # the masters' default --launch-ahead


def started(client: httpx.Client, job: str) -> list[dict]:  # type: ignore[type-arg]
    rows = client.get("/job/events/executions", params={"jobName": job, "per_page": 1000}).json()["rows"]
    return [r for r in rows if r["startTime"]]


def agent_sigkill(root: Path, zk: str, session: float, grace: float) -> float:
    master = MasterProcess(
        zk, f"a{int(session)}", root / "m", "--agent-grace", str(grace), session_timeout=session
    ).start()
    agents = [
        AgentProcess(
            zk,
            master.namespace,
            root / f"agent-{i}",
            cpus=1,
            mem=512,
            agent_id=f"ag{i}",
            session_timeout=session,
        ).start()
        for i in range(2)
    ]
    try:
        with httpx.Client(base_url=master.url, timeout=10) as client:
            wait_until(lambda: "elasticjob_connected_agents 2.0" in client.get("/metrics").text, 30)
            register_script_job(client, root, "long", LONG, cron="0 0 0 1 1 ? 2099", failover=True)
            client.post("/job/trigger", content=b"long", headers={"Content-Type": "text/plain"})
            first = wait_until(lambda: [r for r in started(client, "long") if r["state"] == "RUNNING"], 30)[0]
            victim = next(a for a in agents if a.agent_id == first["agentId"])
            killed = time.time()
            victim.kill()
            again = wait_until(
                lambda: [
                    r
                    for r in started(client, "long")
                    if r["taskId"] != first["taskId"] and r["state"] == "RUNNING"
                ],
                120,
                interval=0.1,
            )[0]
            return dt.datetime.fromisoformat(again["startTime"]).timestamp() - killed
    finally:
        for agent in agents:
            agent.stop()
        master.stop()


def leader_sigkill(root: Path, zk: str, session: float) -> float:
    masters = [
        MasterProcess(zk, f"l{int(session)}", root / f"m{i}", session_timeout=session).start()
        for i in range(2)
    ]
    agent = AgentProcess(
        zk, masters[0].namespace, root / "agent", cpus=1, mem=512, session_timeout=session
    ).start()
    try:
        with httpx.Client(base_url=masters[0].url, timeout=10) as client:
            wait_until(lambda: client.get("/leader").json().get("self"), 30)
            wait_until(lambda: "elasticjob_connected_agents 1.0" in client.get("/metrics").text, 30)
            register_script_job(client, root, "tick", QUICK, cron="* * * * * ?")
            wait_until(lambda: len(started(client, "tick")) >= 3, 30)
        killed = time.time()
        masters[0].kill()
        with httpx.Client(base_url=masters[1].url, timeout=10) as client:
            wait_until(lambda: client.get("/leader").json().get("self"), 60, interval=0.1)
            # Only firings due after anything the killed leader could have launched ahead of time (its
            # --launch-ahead, and a margin) were launched by the new leader.
            after = wait_until(
                lambda: [
                    r
                    for r in started(client, "tick")
                    if (instant := cron_instant(r["firingId"])) is not None
                    and instant.timestamp() > killed + LAUNCH_AHEAD + 1
                ],
                60,
                interval=0.1,
            )
            return min(dt.datetime.fromisoformat(r["startTime"]).timestamp() for r in after) - killed
    finally:
        agent.stop()
        for master in masters:
            master.stop()


def run(quick: bool) -> Figure:
    settings = (("fast", 4.0, 3.0),) if quick else (("defaults", 10.0, 15.0), ("fast", 4.0, 3.0))
    figures = []
    with workdir("recovery") as tmp:
        root = Path(tmp)
        zk = LocalZooKeeper(root / "zk", free_port()).start()
        try:
            for name, session, grace in settings:
                seconds = agent_sigkill(root / f"a-{name}", zk.hosts, session, grace)
                figures.append(
                    Figure(f"recovery.agent_sigkill.{name}", round(seconds, 2), "s", at_most(grace + 5),
                           {"zk_session_timeout_s": session, "agent_grace_s": grace})
                )
                seconds = leader_sigkill(root / f"l-{name}", zk.hosts, session)
                figures.append(
                    Figure(f"recovery.leader_sigkill.{name}", round(seconds, 2), "s", at_most(session + 5),
                           {"zk_session_timeout_s": session})
                )
        finally:
            zk.stop()
    headline = figures[0]
    return Figure("recovery", headline.value, "s", headline.target, {"headline": headline.name}, figures)
