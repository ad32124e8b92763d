"""The watch-driven mirror against a real ZooKeeper: first load, live changes, barriers, connection loss."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from elasticjob.registry.mirror import Mirror
from elasticjob.registry.tables import Change, Collection
from tests.support import TcpProxy, wait_until


def _json(_key: object, data: bytes) -> object:
    return json.loads(data) if data else None


@pytest.fixture
def root(zk: KazooClient, namespace: str) -> str:
    base = f"/{namespace}"
    for path in ("jobs", "running", "markers"):
        zk.ensure_path(f"{base}/{path}")
    return base


def _collections(root: str) -> list[Collection]:
    return [
        Collection("jobs", f"{root}/jobs", decode=_json, sorted_keys=True),
        Collection("running", f"{root}/running", depth=2, decode=_json),
        Collection("markers", f"{root}/markers", read_data=False),
    ]


@pytest.fixture
def mirror(client: KazooClient, root: str) -> Iterator[Mirror]:
    made = Mirror(client, _collections(root))
    made.start()
    assert made.wait_synced(15)
    yield made
    made.stop()


def test_first_load_reads_every_collection_with_versions(zk: KazooClient, client: KazooClient, root: str) -> None:
    zk.create(f"{root}/jobs/b", b'{"n": 2}')
    zk.create(f"{root}/jobs/a", b'{"n": 1}')
    zk.set(f"{root}/jobs/a", b'{"n": 11}')
    zk.create(f"{root}/running/a/t1", b'{"s": "RUNNING"}', makepath=True)
    zk.create(f"{root}/markers/b", b"")
    mirror = Mirror(client, _collections(root))
    mirror.start()
    try:
        assert mirror.wait_synced(15)
        job_a = mirror.get("jobs", "a")
        assert job_a is not None and job_a.value == {"n": 11} and job_a.version == 1
        assert mirror.keys("jobs") == ["a", "b"]
        nodes, total = mirror.range_nodes("jobs", 1, 10)
        assert ([n.value for n in nodes], total) == ([{"n": 2}], 2)
        assert [(c, n.value) for c, n in mirror.children("running", "a")] == [("t1", {"s": "RUNNING"})]
        assert mirror.contains("markers", "b") and not mirror.contains("markers", "a")
        assert mirror.generation == 1
    finally:
        mirror.stop()


def test_own_writes_are_visible_after_a_barrier(client: KazooClient, mirror: Mirror, root: str) -> None:
    for round_ in range(20):
        txn = client.transaction()
        txn.create(f"{root}/jobs/j{round_}", json.dumps({"round": round_}).encode())
        txn.create(f"{root}/running/j{round_}", b"")
        txn.create(f"{root}/running/j{round_}/task", b'{"s": "STAGING"}')
        if round_:
            txn.set_data(f"{root}/running/j{round_ - 1}/task", b'{"s": "RUNNING"}')
            txn.create(f"{root}/markers/j{round_ - 1}", b"")
        txn.commit()
        assert mirror.barrier(5)
        job = mirror.get("jobs", f"j{round_}")
        assert job is not None and job.value == {"round": round_}
        assert mirror.get("running", (f"j{round_}", "task")) is not None
        if round_:
            previous = mirror.get("running", (f"j{round_ - 1}", "task"))
            assert previous is not None and previous.value == {"s": "RUNNING"} and previous.version == 1
            assert mirror.contains("markers", f"j{round_ - 1}")
    client.delete(f"{root}/running/j3", recursive=True)
    client.delete(f"{root}/jobs/j4")
    client.delete(f"{root}/markers/j5")
    assert mirror.barrier(5)
    assert mirror.get("running", ("j3", "task")) is None and "j3" not in mirror.parents("running")
    assert mirror.get("jobs", "j4") is None and "j4" not in mirror.keys("jobs")
    assert not mirror.contains("markers", "j5")


def test_changes_by_another_client_arrive_and_listeners_get_keys(zk: KazooClient, mirror: Mirror, root: str) -> None:
    seen: list[Change] = []
    lock = threading.Lock()

    def listener(changes: list[Change], resynced: bool) -> None:
        with lock:
            seen.extend(changes)

    mirror.subscribe(listener)
    zk.create(f"{root}/jobs/x", b'{"v": 1}')
    zk.set(f"{root}/jobs/x", b'{"v": 2}')
    zk.create(f"{root}/running/x/t", b'{"s": 1}', makepath=True)
    wait_until(lambda: (mirror.get("jobs", "x") or None) and mirror.get("jobs", "x").value == {"v": 2}, 5)  # type: ignore[union-attr]
    wait_until(lambda: mirror.get("running", ("x", "t")), 5)
    zk.delete(f"{root}/jobs/x")
    wait_until(lambda: mirror.get("jobs", "x") is None, 5)
    with lock:
        keys = [(c.collection, c.key, c.new.value if c.new else None) for c in seen]
    assert ("jobs", "x", None) in keys  # the removal
    assert ("running", ("x", "t"), {"s": 1}) in keys
    assert ("jobs", "x", {"v": 2}) in keys


def test_a_corrupt_znode_is_left_out_and_the_rest_keeps_flowing(zk: KazooClient, mirror: Mirror, root: str) -> None:
    zk.create(f"{root}/jobs/bad", b"{not json")
    zk.create(f"{root}/jobs/good", b'{"ok": true}')
    wait_until(lambda: mirror.get("jobs", "good"), 5)
    assert mirror.get("jobs", "bad") is None
    zk.set(f"{root}/jobs/bad", b'{"fixed": true}')
    wait_until(lambda: mirror.get("jobs", "bad"), 5)


def test_a_dropped_connection_resyncs_and_repairs_what_changed_meanwhile(
    zk: KazooClient, zk_hosts: str, root: str
) -> None:
    host, port = zk_hosts.split(",")[0].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    client = KazooClient(hosts=proxy.address, timeout=20)
    client.start(timeout=15)
    zk.create(f"{root}/jobs/stays", b'{"v": 1}')
    zk.create(f"{root}/jobs/goes", b'{"v": 1}')
    zk.create(f"{root}/running/r/t", b'{"v": 1}', makepath=True)
    mirror = Mirror(client, _collections(root))
    mirror.start()
    try:
        assert mirror.wait_synced(15)
        proxy.cut()
        wait_until(lambda: not mirror.synced, 10, message="the mirror notices the drop")
        zk.set(f"{root}/jobs/stays", b'{"v": 2}')  # changes it cannot see as they happen
        zk.delete(f"{root}/jobs/goes")
        zk.delete(f"{root}/running/r", recursive=True)
        zk.create(f"{root}/jobs/new", b'{"v": 1}')
        assert mirror.get("jobs", "goes") is not None  # still the old view, marked unsynced
        proxy.restore()
        assert mirror.wait_synced(30)
        assert mirror.generation == 2
        stays = mirror.get("jobs", "stays")
        assert stays is not None and stays.value == {"v": 2}
        assert mirror.get("jobs", "goes") is None and mirror.get("jobs", "new") is not None
        assert mirror.get("running", ("r", "t")) is None
        zk.set(f"{root}/jobs/stays", b'{"v": 3}')  # watches work again after the resync
        wait_until(lambda: mirror.get("jobs", "stays").value == {"v": 3}, 5)  # type: ignore[union-attr]
    finally:
        mirror.stop()
        client.stop()
        client.close()
        proxy.stop()


def test_a_change_to_a_large_collection_costs_one_read_and_no_listing(
    zk: KazooClient, client: KazooClient, root: str
) -> None:
    zk.ensure_path(f"{root}/big")
    for first in range(0, 20_000, 500):
        txn = zk.transaction()
        for i in range(first, first + 500):
            txn.create(f"{root}/big/old{i}", b"{}")
        txn.commit()
    mirror = Mirror(client, [Collection("big", f"{root}/big", decode=_json)])
    mirror.start()
    try:
        assert mirror.wait_synced(60)
        lists, reads = mirror.stats.lists, mirror.stats.reads
        for i in range(40):  # created elsewhere: each one told by its path
            zk.create(f"{root}/big/n{i}", b"{}")
        wait_until(lambda: mirror.count("big") == 20_040, 5)
        zk.set(f"{root}/big/n3", b'{"changed": true}')
        wait_until(lambda: mirror.get("big", "n3").value == {"changed": True}, 2)  # type: ignore[union-attr]
        zk.delete(f"{root}/big/n4")
        wait_until(lambda: mirror.get("big", "n4") is None, 2)
        assert mirror.stats.lists == lists  # the 20,000 names are never listed again
        assert mirror.stats.reads - reads == 42  # one read a change
        client.create(f"{root}/big/mine", b'{"mine": 1}')  # written here and hinted: read at once
        mirror.hint([f"{root}/big/mine"])
        assert mirror.barrier(5)
        found = mirror.get("big", "mine")
        assert found is not None and found.value == {"mine": 1}
    finally:
        mirror.stop()


def test_an_owned_collection_changes_only_by_its_writer_until_disowned(
    zk: KazooClient, mirror: Mirror, root: str
) -> None:
    from elasticjob.registry.store import Write

    zk.create(f"{root}/running/j/t0", b'{"s": 0}', makepath=True)
    wait_until(lambda: mirror.get("running", ("j", "t0")), 5)
    mirror.own(["running"])
    # The owner committed these (here: written by hand, as its transaction would) and applies them.
    zk.create(f"{root}/running/j/t1", b'{"s": 1}')
    zk.set(f"{root}/running/j/t0", b'{"s": 10}')
    mirror.apply([
        Write("create", f"{root}/running/j/t1", {"s": 1}, collection="running", key=("j", "t1"), obj={"s": 1}),
        Write("set", f"{root}/running/j/t0", {"s": 10}, 0, collection="running", key=("j", "t0"), obj={"s": 10}),
    ])
    t0 = mirror.get("running", ("j", "t0"))
    assert t0 is not None and t0.value == {"s": 10} and t0.version == 1
    assert mirror.get("running", ("j", "t1")) is not None
    # Someone else's change is not followed while owned...
    zk.create(f"{root}/running/j/t2", b'{"s": 2}')
    time.sleep(0.5)
    assert mirror.barrier(5) and mirror.get("running", ("j", "t2")) is None
    # ...but a hinted path is read (a conflict refreshes what it was decided on).
    mirror.hint([f"{root}/running/j/t2"])
    assert mirror.barrier(5) and mirror.get("running", ("j", "t2")) is not None
    zk.delete(f"{root}/running/j/t1")
    mirror.disown(["running"])  # read anew and followed again
    wait_until(lambda: mirror.get("running", ("j", "t1")) is None, 5)
    zk.set(f"{root}/running/j/t2", b'{"s": 22}')
    wait_until(lambda: mirror.get("running", ("j", "t2")).value == {"s": 22}, 5)  # type: ignore[union-attr]


def _stamped(client: KazooClient, root: str) -> str:
    stamp = f"{root}/stamp"
    client.ensure_path(stamp)
    return stamp


def test_own_writes_told_before_they_are_sent_are_applied_without_being_read_back(
    client: KazooClient, mirror: Mirror, root: str
) -> None:
    from elasticjob.registry.store import Transaction

    stamp = _stamped(client, root)
    reads = mirror.stats.reads
    for round_ in range(10):
        txn = Transaction(client).create(f"{root}/jobs/own{round_}", {"round": round_})
        if round_:
            txn.set(f"{root}/jobs/own{round_ - 1}", {"round": round_ - 1, "again": True})
        txn.stamp(stamp)
        results = txn.commit(mirror.expect)
        mirror.apply(txn.writes, results)
        assert mirror.barrier(5)
        assert mirror.get("jobs", f"own{round_}").value == {"round": round_}  # type: ignore[union-attr]
    assert mirror.get("jobs", "own8").value == {"round": 8, "again": True}  # type: ignore[union-attr]
    assert mirror.stats.reads == reads  # the 19 events were this master's own: none read
    assert mirror.stats.own_events == 19


def test_a_change_by_someone_else_during_an_own_write_is_read(
    zk: KazooClient, client: KazooClient, mirror: Mirror, root: str
) -> None:
    from elasticjob.registry.store import NodeAlreadyExists, Transaction

    stamp = _stamped(client, root)
    # Another writer creates the znode while this master's create of it is on its way: that create
    # fails, and the event held meanwhile was not this master's, so it is read after all.
    txn = Transaction(client).create(f"{root}/jobs/contested", {"by": "me"}).stamp(stamp)
    expected = mirror.expect(txn.writes)
    zk.create(f"{root}/jobs/contested", b'{"by": "them"}')
    time.sleep(0.3)
    assert mirror.barrier(5) and mirror.get("jobs", "contested") is None  # held
    with pytest.raises(NodeAlreadyExists):
        txn.commit()  # (sent without ``expect``: the expectation above stands for it)
    expected.done(False)
    wait_until(lambda: mirror.get("jobs", "contested"), 5, message="the other writer's znode is read")
    assert mirror.get("jobs", "contested").value == {"by": "them"}  # type: ignore[union-attr]
    # A committed own write with someone else's change beside it: two events held for one own write, so
    # the path is read, and the mirror ends with what ZooKeeper holds (whichever write came last).
    txn = Transaction(client).set(f"{root}/jobs/contested", {"by": "me"}).stamp(stamp)
    pending = txn.commit_async(mirror.expect)
    zk.set(f"{root}/jobs/contested", b'{"by": "them, again"}')
    results = pending.result()
    mirror.apply(txn.writes, results)
    time.sleep(0.3)
    assert mirror.barrier(5)
    data, stat = zk.get(f"{root}/jobs/contested")
    found = mirror.get("jobs", "contested")
    assert found is not None and (found.value, found.version) == (json.loads(data), stat.version)


def test_an_abandoned_own_write_holds_nothing_back(
    zk: KazooClient, client: KazooClient, mirror: Mirror, root: str
) -> None:
    from elasticjob.registry.store import Transaction

    stamp = _stamped(client, root)
    txn = Transaction(client).create(f"{root}/jobs/abandoned", {"v": 1}).stamp(stamp)
    pending = txn.commit_async(mirror.expect)
    pending.abandon()  # its answer will never be read (a leader that lost its fence part-way)
    wait_until(lambda: mirror.get("jobs", "abandoned"), 5, message="its event is read as anyone's")
    zk.set(f"{root}/jobs/abandoned", b'{"v": 2}')  # and later events of the path as usual
    wait_until(lambda: mirror.get("jobs", "abandoned").value == {"v": 2}, 5)  # type: ignore[union-attr]
