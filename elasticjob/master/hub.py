"""The leader's view of connected agents: one ``AgentConnection`` per open gRPC stream.

Thread/async contract. The streams live on the gateway's asyncio event loop (its own thread, see
``gateway.py``); everything else in the master is threads. The hub is where the two meet:

- ``register``/``unregister``/``deliver_log`` are called on the gateway's loop; they only take the hub's
  lock for a dictionary update and call ``on_change`` (which must not block).
- ``send``, ``close_all`` and ``AgentConnection.send``/``close`` may be called from any thread and never
  block: a message goes to the connection's ``Outbox`` (``outbox.py``), which wakes the loop with one
  cross-thread call per burst, not one per message or per agent.
- ``agents`` is called by the scheduler thread; ``read_log``/``read_lines`` by API worker threads, which
  it blocks (up to ``timeout``) on a ``concurrent.futures.Future`` that the loop completes when the agent's
  ``LogChunk`` arrives.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from elasticjob.master.outbox import LoopWaker, Outbox
from elasticjob.model import Unavailable
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.scheduler.snapshot import AgentView

log = logging.getLogger(__name__)


class AgentUnavailable(Unavailable):
    """The agent is not connected to this master, or did not answer in time."""


class AgentConnection:
    """One agent's open stream: who it is, what it offers, and its outbox.

    ``send`` and ``close`` are safe from any thread and never block; ``outgoing`` runs on the gateway's
    loop (the one ``waker`` wakes).
    """

    def __init__(
        self,
        agent_id: str,
        hostname: str,
        cpus: float,
        mem_mb: float,
        attributes: dict[str, str],
        waker: LoopWaker,
        incarnation: str = "",
        ip: str = "",
    ) -> None:
        self.agent_id = agent_id
        self.ip = ip
        self.hostname = hostname
        self.cpus = cpus
        self.mem_mb = mem_mb
        self.attributes = attributes
        self.incarnation = incarnation
        self.registered_at = time.time()
        self.last_seen = time.monotonic()  # written by the stream's reader on the loop
        self.view = AgentView(agent_id, hostname, cpus, mem_mb, dict(attributes), incarnation, ip)
        self.outbox = Outbox(waker)

    @property
    def closed(self) -> bool:
        return self.outbox.closed

    def send(self, message: pb.MasterMessage) -> bool:
        """Queue ``message`` for the agent; False if the stream is closed. Any thread; never blocks."""
        return self.outbox.put(message)

    def close(self) -> None:
        """End the stream (its writer returns, which ends the RPC). Any thread; idempotent."""
        self.outbox.close()

    def outgoing(self) -> AsyncIterator[pb.MasterMessage]:
        """What to write to the agent, in order, until the connection closes. Loop only."""
        return self.outbox.messages()


class AgentHub:
    """The connections of this master, by agent id. See the module docstring for the thread contract."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, AgentConnection] = {}
        self._log_requests: dict[str, Future[pb.LogChunk]] = {}
        self.on_change: Callable[[], None] = lambda: None

    def register(self, connection: AgentConnection) -> None:
        """Make ``connection`` the agent's current stream; an earlier stream of the same agent is closed."""
        with self._lock:
            previous = self._connections.get(connection.agent_id)
            self._connections[connection.agent_id] = connection
        if previous is not None:
            log.info("agent %s reconnected; closing its previous stream", connection.agent_id)
            previous.close()
        self.on_change()

    def unregister(self, connection: AgentConnection) -> bool:
        """Remove ``connection`` if it is still the current one for its agent; True if it was."""
        connection.close()
        with self._lock:
            if self._connections.get(connection.agent_id) is not connection:
                return False
            del self._connections[connection.agent_id]
        self.on_change()
        return True

    def get(self, agent_id: str) -> AgentConnection | None:
        with self._lock:
            return self._connections.get(agent_id)

    def connections(self) -> list[AgentConnection]:
        with self._lock:
            return list(self._connections.values())

    def agents(self) -> dict[str, AgentView]:
        """The agents with an open stream (a fresh dict; the views are immutable)."""
        with self._lock:
            return {agent_id: c.view for agent_id, c in self._connections.items() if not c.closed}

    def send(self, agent_id: str, message: pb.MasterMessage) -> bool:
        """Queue ``message`` for the agent; False if it has no open stream here. Never blocks."""
        connection = self.get(agent_id)
        return connection is not None and connection.send(message)

    def close_all(self) -> None:
        """Close every stream (on losing leadership: agents reconnect to whoever leads). Never blocks."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.close()
        if connections:
            self.on_change()

    def collector(self) -> Collector:
        """A Prometheus collector of ``elasticjob_connected_agents``: the streams this master holds."""
        return _ConnectedAgents(self)

    # ---- log reads over the agent's stream -------------------------------------------------------
    def read_log(
        self, agent_id: str, task_id: str, stream: str, offset: int, length: int, timeout: float = 10.0
    ) -> pb.LogChunk:
        """Ask the agent for a byte range of a task's log and wait for its answer (blocks the calling
        thread, never the gateway's loop). ``AgentUnavailable`` if it is not connected or silent."""
        return self._ask_log(
            agent_id, pb.ReadLog(task_id=task_id, stream=stream, offset=offset, length=length), timeout
        )

    def read_lines(
        self,
        agent_id: str,
        task_id: str,
        stream: str,
        *,
        start: int | None = None,
        size: int = 100,
        start_ms: int | None = None,
        end_ms: int | None = None,
        timeout: float = 10.0,
    ) -> pb.LogChunk:
        """Ask the agent for timestamped lines of a task's log (see ``agent.loglines.read_lines``); blocks
        and fails as ``read_log``."""
        request = pb.ReadLog(task_id=task_id, stream=stream, lines=True, size=size)
        if start is not None:
            request.from_line = start
        if start_ms is not None:
            request.start_ms = start_ms
        if end_ms is not None:
            request.end_ms = end_ms
        return self._ask_log(agent_id, request, timeout)

    def _ask_log(self, agent_id: str, request: pb.ReadLog, timeout: float) -> pb.LogChunk:
        request_id = uuid.uuid4().hex
        request.request_id = request_id
        future: Future[pb.LogChunk] = Future()
        with self._lock:
            self._log_requests[request_id] = future
        try:
            if not self.send(agent_id, pb.MasterMessage(read_log=request)):
                raise AgentUnavailable(f"agent {agent_id} is not connected to this master")
            try:
                return future.result(timeout=timeout)
            except TimeoutError:
                raise AgentUnavailable(f"agent {agent_id} did not answer within {timeout:.0f}s") from None
        finally:
            with self._lock:
                self._log_requests.pop(request_id, None)

    def deliver_log(self, chunk: pb.LogChunk) -> None:
        """Complete the ``read_log`` waiting for ``chunk`` (if it has not given up). Never blocks."""
        with self._lock:
            future = self._log_requests.get(chunk.request_id)
        if future is not None and not future.done():
            future.set_result(chunk)


class _ConnectedAgents(Collector):
    def __init__(self, hub: AgentHub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "elasticjob_connected_agents",
            "Agents holding a gRPC stream to this master (only the leader accepts them)",
            value=len(self._hub.connections()),
        )
