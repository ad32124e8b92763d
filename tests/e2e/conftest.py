"""A real cluster for end-to-end tests: the session's ZooKeeper, master and agent processes; and a
three-node ZooKeeper ensemble of a test's own (``ensemble``).

Its masters start with the session's auth file (``api_users``) unless a test asks for ``auth=False`` or
gives its own ``--auth-file``; ``cluster.api`` and ``wait_agents`` use the first master's credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from elasticjob.common.net import free_port
from elasticjob.dev.zookeeper import LocalZooKeeper
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


class Ensemble:
    """Three ZooKeeper servers on loopback forming one ensemble (started, stopped and killed by id)."""

    def __init__(self, root: Path) -> None:
        self.peers = {sid: ("127.0.0.1", free_port(), free_port()) for sid in (1, 2, 3)}
        self.nodes = {sid: LocalZooKeeper(root / f"zk{sid}", free_port(), server_id=sid, peers=self.peers)
                      for sid in self.peers}

    @property
    def hosts(self) -> str:
        return ",".join(node.hosts for node in self.nodes.values())

    def start(self, *sids: int) -> None:
        for sid in sids or tuple(self.nodes):
            self.nodes[sid].start(wait=0)
        for sid in sids or tuple(self.nodes):
            self.nodes[sid].wait_ready(60)

    def kill(self, sid: int) -> None:
        self.nodes[sid].stop(kill=True)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


@pytest.fixture
def ensemble(tmp_path: Path) -> Iterator[Ensemble]:
    made = Ensemble(tmp_path / "ensemble")
    made.start()
    yield made
    made.stop()
