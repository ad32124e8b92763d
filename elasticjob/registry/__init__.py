"""ZooKeeper storage: layout, JSON (de)serialisation, versioned updates, leader election, and the
watch-driven in-memory state every master reads from."""

from elasticjob.registry.client import ZkConfig, ZooKeeperUnavailable, connect, make_client
from elasticjob.registry.election import Fence, LeaderElection, read_leader
from elasticjob.registry.layout import Layout, check_namespace
from elasticjob.registry.state import IMPLIED_BY, ClusterState, CorruptConfig, Stored
from elasticjob.registry.store import (
    JsonStore,
    NodeAlreadyExists,
    NodeMissing,
    StoreError,
    Transaction,
    VersionConflict,
    Versioned,
)

__all__ = [
    "IMPLIED_BY",
    "ClusterState",
    "CorruptConfig",
    "Fence",
    "JsonStore",
    "Layout",
    "LeaderElection",
    "NodeAlreadyExists",
    "NodeMissing",
    "StoreError",
    "Stored",
    "Transaction",
    "VersionConflict",
    "Versioned",
    "ZkConfig",
    "ZooKeeperUnavailable",
    "check_namespace",
    "connect",
    "make_client",
    "read_leader",
]
