"""Persistent recursive watches on kazoo against a real ZooKeeper server (``registry/watches.py``)."""

from __future__ import annotations

import queue
import threading

from kazoo.client import KazooClient, KazooState
from kazoo.protocol.states import EventType, WatchedEvent

from elasticjob.registry.watches import PersistentWatches
from tests.support import TcpProxy, wait_until


class Events:
    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[EventType, str, str]] = queue.Queue()

    def __call__(self, event: WatchedEvent) -> None:
        self.queue.put((event.type, event.path, threading.current_thread().name))

    def take(self, count: int, timeout: float = 5.0) -> list[tuple[EventType, str]]:
        return [self.queue.get(timeout=timeout)[:2] for _ in range(count)]

    def quiet(self, wait: float = 0.5) -> bool:
        try:
            self.queue.get(timeout=wait)
        except queue.Empty:
            return True
        return False


def test_every_change_below_the_root_is_told_once_in_order_and_nothing_outside_it(
    zk: KazooClient, client: KazooClient, namespace: str,
) -> None:
    root = f"/{namespace}/watched"
    zk.ensure_path(root)
    zk.ensure_path(f"/{namespace}/other")
    events = Events()
    PersistentWatches.of(client).add(root, events)
    zk.create(f"{root}/a", b"1")
    zk.set(f"{root}/a", b"2")
    zk.create(f"{root}/a/b", b"")  # grandchildren too
    zk.create(f"/{namespace}/other/x", b"")  # not below the root
    zk.create(f"{root}-sibling", b"")  # a name that merely starts like the root
    zk.delete(f"{root}/a", recursive=True)
    assert events.take(5) == [
        (EventType.CREATED, f"{root}/a"),
        (EventType.CHANGED, f"{root}/a"),
        (EventType.CREATED, f"{root}/a/b"),
        (EventType.DELETED, f"{root}/a/b"),
        (EventType.DELETED, f"{root}/a"),
    ]
    assert events.quiet()


def test_one_shot_watches_keep_working_beside_it_and_callbacks_share_their_thread(
    zk: KazooClient, client: KazooClient, namespace: str,
) -> None:
    root = f"/{namespace}/watched"
    zk.ensure_path(f"{root}/a")
    events = Events()
    PersistentWatches.of(client).add(root, events)
    fired: list[tuple[EventType, str]] = []
    client.get(f"{root}/a", watch=lambda e: fired.append((e.type, threading.current_thread().name)))
    zk.set(f"{root}/a", b"x")
    [(kind, path, thread)] = [events.queue.get(timeout=5)]
    assert (kind, path) == (EventType.CHANGED, f"{root}/a")
    wait_until(lambda: fired, 5)
    assert fired == [(EventType.CHANGED, thread)]  # kazoo's watch callback thread, for both


def test_a_removed_watch_tells_nothing_more(zk: KazooClient, client: KazooClient, namespace: str) -> None:
    root = f"/{namespace}/watched"
    zk.ensure_path(root)
    watches = PersistentWatches.of(client)
    events = Events()
    watches.add(root, events)
    zk.create(f"{root}/a", b"")
    assert events.take(1) == [(EventType.CREATED, f"{root}/a")]
    watches.remove(root)
    assert not watches.watching(root)
    zk.create(f"{root}/b", b"")
    assert events.quiet()
    watches.remove(root)  # again: nothing to remove, no error


def test_a_dropped_connection_ends_the_watch_until_it_is_added_again(
    zk: KazooClient, zk_hosts: str, namespace: str,
) -> None:
    root = f"/{namespace}/watched"
    zk.ensure_path(root)
    host, port = zk_hosts.split(",")[0].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    client = KazooClient(hosts=proxy.address, timeout=20)
    client.start(timeout=15)
    states: list[str] = []
    client.add_listener(states.append)
    try:
        watches = PersistentWatches.of(client)
        events = Events()
        watches.add(root, events)
        proxy.cut()
        wait_until(lambda: KazooState.SUSPENDED in states, 10)
        proxy.restore()
        wait_until(lambda: client.state == KazooState.CONNECTED, 20)
        zk.create(f"{root}/during", b"")
        assert events.quiet(1.0), "the server kept a watch of the dropped connection"
        watches.add(root, events)  # what the mirror does in its re-read
        zk.create(f"{root}/after", b"")
        assert events.take(1) == [(EventType.CREATED, f"{root}/after")]
    finally:
        client.stop()
        client.close()
        proxy.stop()
