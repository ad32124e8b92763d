"""A whole cluster of real processes in one directory — ZooKeeper, masters, agents — for benchmarks.

    with LocalCluster(root, masters=2, agents=2) as cluster:
        cluster.register_app("app", tarball)
        cluster.register_jobs(bodies)
        rows = cluster.executions()

Every process is a child of the caller, ended by its pid when the cluster stops.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from elasticjob.common.net import free_port
from elasticjob.dev.httpload import post_all
from elasticjob.dev.processes import AgentProcess, MasterProcess, wait_until
from elasticjob.dev.zookeeper import LocalZooKeeper
from elasticjob.model.queue import cron_instant


class LocalCluster:
    def __init__(
        self,
        root: Path,
        *,
        masters: int = 1,
        agents: int = 2,
        agent_cpus: float = 2.0,
        agent_mem: float = 4096.0,
        namespace: str = "bench",
        session_timeout: float = 10.0,
        master_args: Sequence[str] = (),
        agent_args: Sequence[str] = (),
        zk_hosts: str | None = None,
        zk_heap_mb: int = 256,
    ) -> None:
        self.root = root
        self.namespace = namespace
        self.session_timeout = session_timeout
        self.master_args = list(master_args)
        self.agent_args = tuple(agent_args)
        self._sizes = (masters, agents, agent_cpus, agent_mem)
        self.zk_heap_mb = zk_heap_mb
        self.zookeeper: LocalZooKeeper | None = None
        self.zk_hosts = zk_hosts or ""
        self.masters: list[MasterProcess] = []
        self.agents: list[AgentProcess] = []

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> LocalCluster:
        masters, agents, cpus, mem = self._sizes
        if not self.zk_hosts:
            zookeeper = LocalZooKeeper(self.root / "zookeeper", free_port(), heap_mb=self.zk_heap_mb)
            self.zookeeper = zookeeper.start()
            self.zk_hosts = self.zookeeper.hosts
        for index in range(masters):
            self.start_master(index)
        wait_until(lambda: self.leader_url() is not None, 60, message="a leader")
        for index in range(agents):
            agent = AgentProcess(
                self.zk_hosts, self.namespace, self.root / f"agent-{index}", cpus=cpus, mem=mem,
                agent_id=f"agent-{index}", session_timeout=self.session_timeout, extra=self.agent_args,
            )
            self.agents.append(agent.start())
        if agents:
            self.wait_agents(agents)
        return self

    def start_master(self, index: int) -> MasterProcess:
        master = MasterProcess(
            self.zk_hosts, self.namespace, self.root / f"master-{index}",
            "--history-url", str(self.root / "history.db"), *self.master_args,
            session_timeout=self.session_timeout,
        ).start(wait=120)
        if index < len(self.masters):
            self.masters[index] = master
        else:
            self.masters.append(master)
        return master

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        for master in self.masters:
            master.stop()
        if self.zookeeper is not None:
            self.zookeeper.stop()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- who is who --------------------------------------------------------------------------------
    def leader_url(self) -> str | None:
        for master in self.masters:
            try:
                info = httpx.get(f"{master.url}/leader", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                continue
            if info.get("self"):
                return master.url
        return None

    def leader(self) -> MasterProcess:
        url = wait_until(self.leader_url, 60, message="a leader")
        return next(m for m in self.masters if m.url == url)

    def followers(self) -> list[MasterProcess]:
        leader = self.leader()
        return [m for m in self.masters if m is not leader]

    def wait_agents(self, count: int, timeout: float = 60) -> None:
        """Until the leader holds ``count`` agent streams."""
        needle = f"elasticjob_connected_agents {float(count)}"
        wait_until(lambda: needle in httpx.get(f"{self.leader().url}/metrics", timeout=5).text, timeout,
                   message=f"{count} agent(s) connected")

    # ---- API helpers ---------------------------------------------------------------------------------
    def wait_for(self, path: str, timeout: float = 30) -> None:
        """Until ``GET path`` answers 200 on every master (a change made elsewhere has reached them all)."""
        for master in self.masters:
            url = f"{master.url}{path}"
            wait_until(functools.partial(_answers, url), timeout, message=f"{url} answers")

    def register_app(self, name: str, tarball: Path, bootstrap: str = "./run.sh") -> None:
        app = {"appName": name, "appURL": tarball.as_uri(), "bootstrapScript": bootstrap, "cpuCount": 0.01,
               "memoryMB": 16}
        httpx.post(f"{self.leader().url}/app", json=app, timeout=30).raise_for_status()

    def register_jobs(
        self, bodies: Iterable[dict[str, Any]], clients: int = 8, url: str | None = None
    ) -> float:
        """Register jobs from ``clients`` concurrent client processes (``httpload``); returns registrations
        per second."""
        items = list(bodies)
        seconds = post_all(url or self.leader().url, "/job/register", items, clients)
        return len(items) / seconds

    def executions(self, job: str | None = None, per_page: int = 1000) -> list[dict[str, Any]]:
        """Every execution in the history (read through the leader), oldest first, one row per task.

        Read page by page while jobs may still be running: oldest first, so that new executions land
        after the pages already read; a row seen on two pages (its time moved when it started) is kept
        once, as last seen."""
        rows: dict[str, dict[str, Any]] = {}
        params: dict[str, Any] = {"per_page": per_page, "order": "asc"}
        if job:
            params["jobName"] = job
        with httpx.Client(base_url=self.leader().url, timeout=120) as client:
            page = 1
            while True:
                body = client.get("/job/events/executions", params={**params, "page": page}).json()
                rows.update((row["taskId"], row) for row in body["rows"])
                if page * per_page >= body["total"] or not body["rows"]:
                    return list(rows.values())
                page += 1


def _answers(url: str) -> bool:
    return httpx.get(url, timeout=10).status_code == 200



def start_lateness(row: dict[str, Any]) -> float | None:
    """Seconds from a cron firing's instant to its shard's process start, or None."""
    instant = cron_instant(row.get("firingId") or "")
    started = row.get("startTime")
    if instant is None or not started:
        return None
    return (dt.datetime.fromisoformat(started) - instant).total_seconds()
