"""The leader's view of connected agents: one ``AgentConnection`` per open gRPC stream.

Thread-safe: gRPC handler threads register/unregister connections and deliver inbound messages; the
scheduler thread sends launches and kills; API threads request log chunks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from elasticjob.model import Unavailable
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.scheduler.snapshot import AgentView

log = logging.getLogger(__name__)


class AgentUnavailable(Unavailable):
    """The agent is not connected to this master, or did not answer in time."""


@dataclass(eq=False)
class AgentConnection:
    agent_id: str
    hostname: str
    cpus: float
    mem_mb: float
    attributes: dict[str, str]
    registered_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.monotonic)
    outbound: queue.Queue[pb.MasterMessage | None] = field(default_factory=queue.Queue)
    closed: threading.Event = field(default_factory=threading.Event)

    def send(self, message: pb.MasterMessage) -> bool:
        if self.closed.is_set():
            return False
        self.outbound.put(message)
        return True

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self.outbound.put(None)  # wakes the stream writer

    def view(self) -> AgentView:
        return AgentView(self.agent_id, self.hostname, self.cpus, self.mem_mb, dict(self.attributes))


class AgentHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[str, AgentConnection] = {}
        self._log_requests: dict[str, Future[pb.LogChunk]] = {}
        self.on_change: Callable[[], None] = lambda: None

    def register(self, connection: AgentConnection) -> None:
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

    def agents(self) -> dict[str, AgentView]:
        with self._lock:
            return {agent_id: c.view() for agent_id, c in self._connections.items() if not c.closed.is_set()}

    def send(self, agent_id: str, message: pb.MasterMessage) -> bool:
        connection = self.get(agent_id)
        return connection is not None and connection.send(message)

    def close_all(self) -> None:
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.close()

    # ---- log reads over the agent's stream -------------------------------------------------------
    def read_log(
        self, agent_id: str, task_id: str, stream: str, offset: int, length: int, timeout: float = 10.0
    ) -> pb.LogChunk:
        request_id = uuid.uuid4().hex
        future: Future[pb.LogChunk] = Future()
        with self._lock:
            self._log_requests[request_id] = future
        try:
            message = pb.MasterMessage(
                read_log=pb.ReadLog(
                    request_id=request_id, task_id=task_id, stream=stream, offset=offset, length=length
                )
            )
            if not self.send(agent_id, message):
                raise AgentUnavailable(f"agent {agent_id} is not connected to this master")
            try:
                return future.result(timeout=timeout)
            except TimeoutError:
                raise AgentUnavailable(f"agent {agent_id} did not answer within {timeout:.0f}s") from None
        finally:
            with self._lock:
                self._log_requests.pop(request_id, None)

    def deliver_log(self, chunk: pb.LogChunk) -> None:
        with self._lock:
            future = self._log_requests.get(chunk.request_id)
        if future is not None and not future.done():
            future.set_result(chunk)
