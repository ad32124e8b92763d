"""A real cluster for end-to-end tests: the session's ZooKeeper, master and agent processes.

Its masters start with the session's auth file (``api_users``) unless a test asks for ``auth=False`` or
gives its own ``--auth-file``; ``cluster.api`` and ``wait_agents`` use the first master's credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import AgentProcess, ApiUsers, MasterProcess, wait_until


class Cluster:
    def __init__(self, zk_hosts: str, namespace: str, root: Path, users: ApiUsers | None) -> None:
        """``users``: the auth file its masters start with (the ``api_users`` fixture), or None."""
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.root = root
        self.users = users
        self.masters: list[MasterProcess] = []
        self.agents: list[AgentProcess] = []

    def start_master(self, *extra: str, auth: bool = True) -> MasterProcess:
        """A master with the cluster's auth file; ``auth=False`` or an ``--auth-file`` of the test's own in
        ``extra``: without it."""
        master = MasterProcess(
            self.zk_hosts,
            self.namespace,
            self.root / f"master-{len(self.masters)}",
            "--agent-grace",
            "5",
            *extra,
            auth=self.users if auth and "--auth-file" not in extra else None,
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
        return self.masters[0].http()

    def wait_agents(self, count: int, timeout: float = 30) -> None:
        """Until the leader holds ``count`` agent streams (visible in its metrics)."""

        def connected() -> bool:
            text = self.masters[0].get("/metrics", timeout=5).text
            return f"elasticjob_connected_agents {float(count)}" in text

        wait_until(connected, timeout, message=f"{count} agent(s) registered")

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        for master in self.masters:
            master.stop()


@pytest.fixture
def cluster(zk_hosts: str, namespace: str, tmp_path: Path, api_users: ApiUsers | None) -> Iterator[Cluster]:
    made = Cluster(zk_hosts, namespace, tmp_path, api_users)
    yield made
    made.stop()
