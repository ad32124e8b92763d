"""JsonStore against a real ZooKeeper: round trips, versioned writes, atomic multi-ops, digest ACLs."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from elasticjob.registry import (
    JsonStore,
    Layout,
    NodeAlreadyExists,
    NodeMissing,
    VersionConflict,
    ZkConfig,
    connect,
)


@pytest.fixture
def store(zk: KazooClient, namespace: str) -> JsonStore:
    store = JsonStore(zk)
    store.ensure_paths(Layout(namespace).base_paths())
    return store


def test_json_round_trip_keeps_value_and_reports_version(store: JsonStore, namespace: str) -> None:
    path = Layout(namespace).job("a")
    value = {"jobName": "a", "shardingTotalCount": 3, "cpuCount": 0.5, "nested": {"k": [1, "x", None]}}
    store.transaction().create(path, value).commit()
    read = store.get(path)
    assert read is not None
    assert read.value == value
    assert read.version == 0
    store.transaction().set(path, {**value, "shardingTotalCount": 4}, version=0).commit()
    again = store.get(path)
    assert again is not None and again.version == 1 and again.value["shardingTotalCount"] == 4


def test_stale_version_is_a_conflict_and_changes_nothing(store: JsonStore, namespace: str) -> None:
    path = Layout(namespace).job("b")
    store.transaction().create(path, {"v": 1}).commit()
    store.transaction().set(path, {"v": 2}, version=0).commit()
    with pytest.raises(VersionConflict) as caught:
        store.transaction().set(path, {"v": 3}, version=0).commit()
    assert caught.value.path == path
    current = store.get(path)
    assert current is not None and current.value == {"v": 2}


def test_multi_op_is_all_or_nothing(store: JsonStore, namespace: str) -> None:
    layout = Layout(namespace)
    store.transaction().create(layout.app("exists"), {"x": 1}).commit()
    txn = store.transaction().create(layout.job("new-1"), {"a": 1}).create(layout.app("exists"), {"x": 2})
    with pytest.raises(NodeAlreadyExists) as caught:
        txn.commit()
    assert caught.value.path == layout.app("exists")
    assert store.get(layout.job("new-1")) is None  # the first op was rolled back
    existing = store.get(layout.app("exists"))
    assert existing is not None and existing.value == {"x": 1}


def test_check_op_fails_when_guarded_node_is_missing(store: JsonStore, namespace: str) -> None:
    layout = Layout(namespace)
    with pytest.raises(NodeMissing):
        store.transaction().check(layout.app("ghost"), 0).create(layout.job("orphan"), {}).commit()
    assert store.get(layout.job("orphan")) is None


def test_update_retries_read_modify_write(store: JsonStore, namespace: str) -> None:
    path = Layout(namespace).ready("c")
    store.transaction().create(path, []).commit()
    calls = []

    def append(old: list[int]) -> list[int]:
        calls.append(1)
        if len(calls) == 1:  # a concurrent writer sneaks in between our read and our write
            store.client.set(path, b"[99]")
        return [*old, 1]

    assert store.update(path, append) == [99, 1]
    assert len(calls) == 2
    with pytest.raises(NodeMissing):
        store.update(Layout(namespace).ready("missing"), lambda old: old)


def test_get_all_and_children(store: JsonStore, namespace: str) -> None:
    layout = Layout(namespace)
    txn = store.transaction()
    for name in ("j3", "j1", "j2"):
        txn.create(layout.job(name), {"name": name})
    txn.commit()
    assert store.children(layout.jobs) == ["j1", "j2", "j3"]
    assert {k: v.value["name"] for k, v in store.get_all(layout.jobs).items()} == {
        "j1": "j1",
        "j2": "j2",
        "j3": "j3",
    }
    assert store.children(layout.job("nope")) == []


def test_digest_auth_protects_created_nodes(zk_hosts: str, namespace: str) -> None:
    owner = connect(ZkConfig(zk_hosts, auth="ops:secret"))
    stranger = connect(ZkConfig(zk_hosts))
    try:
        store = JsonStore(owner)
        path = f"/{namespace}-acl"
        store.transaction().create(path, {"secret": True}).commit()
        assert JsonStore(owner).get(path) is not None
        with pytest.raises(NoAuthError):
            stranger.get(path)
    finally:
        for client in (owner, stranger):
            client.stop()
            client.close()


def test_invalid_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="hosts"):
        ZkConfig("  ")
    with pytest.raises(ValueError, match="user:password"):
        ZkConfig("127.0.0.1:2181", auth="nopassword")
    with pytest.raises(ValueError, match="namespace"):
        Layout("../etc")
