"""Leader election with real ZooKeeper sessions: one leader, takeover, SUSPENDED means not leader."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient, KazooState

from elasticjob.registry import (
    Fence,
    JsonStore,
    Layout,
    LeaderElection,
    StoreError,
    ZkConfig,
    connect,
    read_leader,
)
from tests.support import wait_until


@pytest.fixture
def clients(zk_hosts: str) -> Iterator[list[KazooClient]]:
    made = [connect(ZkConfig(zk_hosts, session_timeout=4)) for _ in range(2)]
    yield made
    for client in made:
        client.stop()
        client.close()


def _election(client: KazooClient, layout: Layout, name: str, changes: list[bool]) -> LeaderElection:
    JsonStore(client).ensure_paths(layout.base_paths())
    election = LeaderElection(
        client, layout, {"http": name, "grpc": name + "-grpc"}, on_change=changes.append
    )
    election.start()
    return election


def test_exactly_one_leader_and_takeover_on_stop(clients: list[KazooClient], namespace: str) -> None:
    layout = Layout(namespace)
    first_changes: list[bool] = []
    second_changes: list[bool] = []
    first = _election(clients[0], layout, "m1:1", first_changes)
    wait_until(lambda: first.is_leader, 10, message="first master leads")
    second = _election(clients[1], layout, "m2:2", second_changes)
    wait_until(lambda: second.node is not None, 10)
    assert not second.is_leader
    found = read_leader(clients[1], layout)
    assert found is not None and found[1]["http"] == "m1:1"
    info = JsonStore(clients[1]).get(layout.leader_info)
    assert info is not None and info.value["http"] == "m1:1"

    first.stop()
    wait_until(lambda: second.is_leader, 10, message="second master takes over")
    assert first_changes == [True, False]
    assert second_changes == [True]
    found = read_leader(clients[0], layout)
    assert found is not None and found[1]["http"] == "m2:2"
    second.stop()


def test_the_leader_is_known_from_memory_and_follows_every_change(
    clients: list[KazooClient], namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = Layout(namespace)
    first = _election(clients[0], layout, "m1:1", [])
    wait_until(lambda: first.is_leader, 10, message="first master leads")
    second = _election(clients[1], layout, "m2:2", [])
    wait_until(lambda: second.leader() is not None, 10)
    assert second.leader() == read_leader(clients[1], layout) == first.leader()
    assert first.leader() == (first.node, {"http": "m1:1", "grpc": "m1:1-grpc"})

    def no_reads(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("leader() read ZooKeeper")

    with monkeypatch.context() as patched:  # asking costs no ZooKeeper read
        for name in ("get", "get_async", "get_children", "get_children_async", "exists"):
            patched.setattr(clients[1], name, no_reads)
        assert [second.leader() for _ in range(100)] == [first.leader()] * 100

    first.stop()
    wait_until(lambda: second.leader() == (second.node, {"http": "m2:2", "grpc": "m2:2-grpc"}), 10,
               message="the new leader, as soon as the listing changes")
    second._on_state(KazooState.SUSPENDED)  # noqa: SLF001 - a suspended master cannot know who leads
    assert second.leader() is None
    second._on_state(KazooState.CONNECTED)  # noqa: SLF001
    wait_until(lambda: second.leader() is not None, 10)
    second.stop()


_LEADER_SCRIPT = """
import sys, time
from elasticjob.registry import JsonStore, Layout, LeaderElection, ZkConfig, connect
client = connect(ZkConfig(sys.argv[1], session_timeout=4))
layout = Layout(sys.argv[2])
JsonStore(client).ensure_paths(layout.base_paths())
LeaderElection(client, layout, {"http": "doomed:1"}, on_change=lambda v: print("LEADER" if v else "FOLLOWER", flush=True)).start()
time.sleep(600)
"""


def test_sigkilled_leader_is_replaced_after_its_session_expires(
    clients: list[KazooClient], zk_hosts: str, namespace: str
) -> None:
    layout = Layout(namespace)
    doomed = subprocess.Popen(
        [sys.executable, "-c", _LEADER_SCRIPT, zk_hosts, namespace], stdout=subprocess.PIPE, text=True
    )
    try:
        assert doomed.stdout is not None
        assert doomed.stdout.readline().strip() == "LEADER"
        changes: list[bool] = []
        follower = _election(clients[0], layout, "survivor:2", changes)
        wait_until(lambda: follower.node is not None, 10)
        assert not follower.is_leader
        doomed.send_signal(signal.SIGKILL)  # no goodbye: ZooKeeper must expire the session first
        doomed.wait(timeout=10)
        killed_at = time.monotonic()
        wait_until(lambda: follower.is_leader, 15, message="follower leads after session expiry")
        assert time.monotonic() - killed_at <= 4 + 3  # session timeout plus slack
        assert changes == [True]
        follower.stop()
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait()


def test_suspended_connection_stops_leading_at_once(clients: list[KazooClient], namespace: str) -> None:
    layout = Layout(namespace)
    changes: list[bool] = []
    election = _election(clients[0], layout, "m1:1", changes)
    wait_until(lambda: election.is_leader, 10)
    # kazoo calls listeners with SUSPENDED when the connection drops; the flag must flip synchronously,
    # before the election thread even runs, so nothing acts as leader on a connection of unknown health.
    election._on_state(KazooState.SUSPENDED)  # noqa: SLF001
    assert not election.is_leader
    assert election.fence() is None
    election._on_state(KazooState.CONNECTED)  # noqa: SLF001 - same session: our znode is still there
    wait_until(lambda: election.is_leader, 10, message="leadership regained after reconnect")
    assert changes == [True, False, True]
    election.stop()


def _leading(client: KazooClient, layout: Layout) -> tuple[LeaderElection, Fence]:
    election = _election(client, layout, "m1:1", [])
    wait_until(lambda: election.is_leader, 10)
    fence = election.fence()
    assert fence is not None
    return election, fence


def test_fence_rejects_writes_after_the_election_node_is_gone(
    clients: list[KazooClient], namespace: str
) -> None:
    layout = Layout(namespace)
    election, fence = _leading(clients[0], layout)
    store = JsonStore(clients[0])
    store.transaction().check(fence.path, fence.version).create(layout.job("fenced-ok"), {}).commit()
    clients[0].delete(fence.path)  # what session expiry does to an old leader's node
    with pytest.raises(StoreError):
        store.transaction().check(fence.path, fence.version).create(layout.job("fenced-no"), {}).commit()
    assert store.get(layout.job("fenced-no")) is None
    election.stop()


def test_the_fence_is_read_once_and_again_after_it_was_forgotten(
    clients: list[KazooClient], namespace: str
) -> None:
    election, fence = _leading(clients[0], Layout(namespace))
    assert fence.version == 0
    clients[1].set(fence.path, b"changed by hand")  # version 1: a write fenced with version 0 fails
    assert election.fence() == fence  # kept: no ZooKeeper read per call
    election.forget_fence()  # what the scheduler does when a transaction failed its fence check
    assert election.fence() == Fence(fence.path, 1)
    election.stop()


def test_on_change_runs_off_the_kazoo_thread(clients: list[KazooClient], namespace: str) -> None:
    threads: list[str] = []
    election = LeaderElection(
        clients[0],
        Layout(namespace),
        {"http": "x"},
        on_change=lambda _: threads.append(threading.current_thread().name),
    )
    JsonStore(clients[0]).ensure_paths(Layout(namespace).base_paths())
    election.start()
    wait_until(lambda: threads, 10)
    assert threads == ["leader-election"]
    election.stop()
