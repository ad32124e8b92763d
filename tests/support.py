"""Test helpers: the package's real-process helpers (``elasticjob.dev.processes``) and ZooKeeper snapshots."""

from __future__ import annotations

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from elasticjob.dev.processes import (
    AgentProcess,
    ChildProcess,
    MasterProcess,
    build_tarball,
    wait_until,
)

__all__ = ["AgentProcess", "ChildProcess", "MasterProcess", "build_tarball", "wait_until", "zk_tree"]


def zk_tree(client: KazooClient, root: str) -> dict[str, bytes]:
    """Every znode below ``root`` with its data: compare before/after to prove nothing changed."""
    tree: dict[str, bytes] = {}
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            data, _ = client.get(path)
            children = client.get_children(path)
        except NoNodeError:
            continue
        tree[path] = data
        stack.extend(f"{path}/{child}" for child in children)
    return tree


