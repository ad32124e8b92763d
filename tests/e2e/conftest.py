"""A real cluster for end-to-end tests: the session's ZooKeeper, master and agent processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import AgentProcess, MasterProcess, wait_until


class Cluster:
    def __init__(self, zk_hosts: str, namespace: str, root: Path) -> None:
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.root = root
        self.masters: list[MasterProcess] = []
        self.agents: list[AgentProcess] = []

    def start_master(self, *extra: str) -> MasterProcess:
        master = MasterProcess(
            self.zk_hosts,
            self.namespace,
            self.root / f"master-{len(self.masters)}",
            "--agent-grace",
            "5",
            *extra,
        )
        self.masters.append(master)
        return master.start()

    def start_agent(
        self, cpus: float = 1.0, mem: float = 512, attributes: str = "", agent_id: str | None = None,
        extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
    ) -> AgentProcess:
        agent = AgentProcess(
            self.zk_hosts,
            self.namespace,
            self.root / f"agent-{len(self.agents)}",
            cpus=cpus,
            mem=mem,
            attributes=attributes,
            agent_id=agent_id,
            extra=extra,
            env=env,
        )
        self.agents.append(agent)
        return agent.start()

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.masters[0].url, timeout=15)

    def wait_agents(self, count: int, timeout: float = 30) -> None:
        """Until the leader holds ``count`` agent streams (visible in its metrics)."""

        def connected() -> bool:
            text = httpx.get(f"{self.masters[0].url}/metrics", timeout=5).text
            return f"elasticjob_connected_agents {float(count)}" in text

        wait_until(connected, timeout, message=f"{count} agent(s) registered")

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        for master in self.masters:
            master.stop()


@pytest.fixture
def cluster(zk_hosts: str, namespace: str, tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(zk_hosts, namespace, tmp_path)
    yield made
    made.stop()
