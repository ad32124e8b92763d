"""The state's counters of waiting and missed firings against a real ZooKeeper: kept by watches for other
writers' changes and at once for the leader's own writes applied without notifying (``wrote``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from elasticjob.model.queue import Firing, ReadyQueue
from elasticjob.registry import JsonStore, Layout
from elasticjob.registry.state import ClusterState
from elasticjob.registry.store import encode
from tests.support import wait_until

T0 = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def _queue(firings: int, missed: int = 0) -> bytes:
    queue = ReadyQueue(cursor=T0, firings=tuple(Firing.cron(T0 + dt.timedelta(minutes=i)) for i in range(firings)),
                       missed=missed)
    return encode(queue.to_json())


@pytest.fixture
def state(client: KazooClient, namespace: str) -> Iterator[ClusterState]:
    layout = Layout(namespace)
    JsonStore(client).ensure_paths(layout.base_paths())
    made = ClusterState(client, layout)
    made.start()
    assert made.wait_synced(15)
    yield made
    made.stop()


def test_waiting_and_missed_firings_follow_the_queues(zk: KazooClient, state: ClusterState) -> None:
    layout = state.layout
    zk.create(layout.ready("idle"), _queue(0))
    zk.create(layout.ready("busy"), _queue(2))
    zk.create(layout.ready("late"), _queue(1, missed=3))
    wait_until(lambda: state.waiting_firings() == 3, 10, message="the queues are counted")
    assert [name for name, _ in state.waiting()] == ["busy", "late"]
    assert state.missed() == {"late": 3}
    zk.set(layout.ready("busy"), _queue(0))
    zk.delete(layout.ready("late"))
    wait_until(lambda: state.waiting_firings() == 0, 10, message="emptied and removed queues leave")
    assert state.waiting() == [] and state.missed() == {}


def test_the_leaders_own_queue_writes_are_counted_at_once(client: KazooClient, state: ClusterState) -> None:
    layout = state.layout
    store = JsonStore(client)
    txn = store.transaction().create(layout.ready("mine"), ReadyQueue(cursor=T0).to_json())
    state.wrote(txn.writes, txn.commit(state.expect))
    assert state.waiting_firings() == 0
    queue = ReadyQueue(cursor=T0, firings=(Firing.cron(T0),), missed=1)
    txn = store.transaction().set(layout.ready("mine"), queue.to_json(), version=0)
    state.wrote(txn.writes, txn.commit(state.expect))
    # No watch read in between: what the writer applied is counted as it is applied.
    assert state.waiting_firings() == 1 and state.missed() == {"mine": 1}
    assert [name for name, _ in state.waiting()] == ["mine"]
