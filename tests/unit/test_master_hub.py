"""The hub's bridge between the master's threads and the gateway's event loop (a real loop on a thread)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from elasticjob.master.hub import AgentConnection, AgentHub, AgentUnavailable
from elasticjob.master.outbox import LoopWaker
from elasticjob.protocol import agent_pb2 as pb


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on a thread of its own, as the gateway's does."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    running.close()


def connection(loop: asyncio.AbstractEventLoop, agent_id: str = "a1") -> AgentConnection:
    return AgentConnection(agent_id, "host", 2.0, 1024.0, {"rack": "r1"}, LoopWaker(loop))


def drain(loop: asyncio.AbstractEventLoop, conn: AgentConnection, count: int | None) -> list[pb.MasterMessage]:
    """Collect ``count`` outgoing messages on the loop (all of them until close, for None)."""

    async def collect() -> list[pb.MasterMessage]:
        got: list[pb.MasterMessage] = []
        async for message in conn.outgoing():
            got.append(message)
            if count is not None and len(got) == count:
                break
        return got

    return asyncio.run_coroutine_threadsafe(collect(), loop).result(timeout=10)


def kill(task_id: str) -> pb.MasterMessage:
    return pb.MasterMessage(kill=pb.Kill(task_id=task_id))


def test_sends_from_several_threads_all_arrive_each_in_its_order(loop: asyncio.AbstractEventLoop) -> None:
    conn = connection(loop)
    threads = [
        threading.Thread(target=lambda t=t: [conn.send(kill(f"{t}-{i}")) for i in range(2000)])
        for t in range(4)
    ]
    collected: list[pb.MasterMessage] = []
    reader = threading.Thread(target=lambda: collected.extend(drain(loop, conn, 8000)))
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader.join(10)
    ids = [m.kill.task_id for m in collected]
    assert len(ids) == 8000
    for t in range(4):
        assert [i for i in ids if i.startswith(f"{t}-")] == [f"{t}-{i}" for i in range(2000)]


def test_a_message_sent_while_the_writer_waits_wakes_it(loop: asyncio.AbstractEventLoop) -> None:
    conn = connection(loop)
    collected: list[pb.MasterMessage] = []
    reader = threading.Thread(target=lambda: collected.extend(drain(loop, conn, 1)))
    reader.start()
    time.sleep(0.2)  # the writer is waiting on an empty outbox
    assert conn.send(kill("late"))
    reader.join(5)
    assert [m.kill.task_id for m in collected] == ["late"]


def test_close_ends_the_outgoing_stream_and_later_sends_fail(loop: asyncio.AbstractEventLoop) -> None:
    conn = connection(loop)
    ended = threading.Thread(target=lambda: drain(loop, conn, None))
    ended.start()
    time.sleep(0.1)
    conn.close()
    ended.join(5)
    assert not ended.is_alive()
    assert conn.send(kill("x")) is False


def test_send_after_the_loop_is_closed_fails_without_raising() -> None:
    closed = asyncio.new_event_loop()
    conn = connection(closed)
    closed.close()
    assert conn.send(kill("x")) is False
    assert conn.closed


def test_a_new_stream_replaces_the_old_one(loop: asyncio.AbstractEventLoop) -> None:
    hub = AgentHub()
    changes: list[int] = []
    hub.on_change = lambda: changes.append(1)
    old, new = connection(loop), connection(loop)
    hub.register(old)
    hub.register(new)
    assert old.closed and not new.closed
    assert hub.unregister(old) is False  # the replaced stream ending does not remove the agent
    assert hub.get("a1") is new
    view = hub.agents()["a1"]
    assert (view.agent_id, view.hostname, view.cpus, view.mem_mb, dict(view.attributes)) == (
        "a1", "host", 2.0, 1024.0, {"rack": "r1"})
    assert hub.send("a1", kill("k")) and not hub.send("unknown", kill("k"))
    assert hub.unregister(new) is True
    assert hub.agents() == {} and len(changes) == 3


def test_a_closed_connection_is_no_longer_offered(loop: asyncio.AbstractEventLoop) -> None:
    hub = AgentHub()
    first, second = connection(loop, "a1"), connection(loop, "a2")
    hub.register(first)
    hub.register(second)
    first.close()  # e.g. found silent: gone from the offers before its stream has finished ending
    assert set(hub.agents()) == {"a2"}
    hub.close_all()
    assert second.closed and hub.agents() == {}


def test_read_log_waits_for_the_agents_chunk(loop: asyncio.AbstractEventLoop) -> None:
    hub = AgentHub()
    conn = connection(loop)
    hub.register(conn)

    def agent() -> None:
        request = drain(loop, conn, 1)[0].read_log
        hub.deliver_log(pb.LogChunk(request_id=request.request_id, data=b"out", eof=True))

    threading.Thread(target=agent).start()
    chunk = hub.read_log("a1", "task", "stdout", 0, 10, timeout=5)
    assert chunk.data == b"out" and chunk.eof


def test_read_log_of_a_silent_or_absent_agent_is_unavailable(loop: asyncio.AbstractEventLoop) -> None:
    hub = AgentHub()
    hub.register(connection(loop))
    with pytest.raises(AgentUnavailable, match="did not answer within 0s"):
        hub.read_log("a1", "task", "stdout", 0, 10, timeout=0.2)
    with pytest.raises(AgentUnavailable, match="agent a2 is not connected"):
        hub.read_log("a2", "task", "stdout", 0, 10)
    hub.deliver_log(pb.LogChunk(request_id="nobody-waits"))  # late or unknown answers are dropped


def test_the_connected_agents_gauge_counts_streams(loop: asyncio.AbstractEventLoop) -> None:
    hub = AgentHub()
    registry = CollectorRegistry()
    registry.register(hub.collector())
    hub.register(connection(loop, "a1"))
    hub.register(connection(loop, "a2"))
    assert "elasticjob_connected_agents 2.0" in generate_latest(registry).decode()
