"""A stand-in leader for agents: a real gRPC ``AgentGateway`` announced in ZooKeeper like a master's.

Agent benchmarks and tests use it to drive a real ``elasticjob agent`` process without the master's
scheduler in the way: the stand-in registers itself as the leader (an ephemeral sequential ``n_`` znode
under ``/<namespace>/leader/election`` whose JSON carries ``"grpc": "host:port"``, the way
``registry.election`` announces a master), accepts the agents' streams, sends ``Launch`` and ``Kill``
messages on request, records every status with the time it arrived, and acknowledges terminal statuses at
once, as a master does once it has recorded them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from kazoo.client import KazooClient

from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from elasticjob.protocol.convert import StatusUpdate, spec_to_proto, statuses_of
from elasticjob.registry import Layout
from elasticjob.registry.handler import PollingHandler
from elasticjob.registry.store import encode

__all__ = ["ReceivedStatus", "StandInMaster", "script_task"]

NEVER = "0 0 0 1 1 ? 2099"


def script_task(task_id: str, command: str, app_url: str, *, execution_type: str = "TRANSIENT",
                cron: str = NEVER, app_version: str = "", app_cache_enable: bool = True,
                mem_mb: float = 16.0, cpus: float = 0.1, job_name: str = "job") -> dict[str, Any]:
    """A complete task spec (the dict ``protocol.convert`` converts) for a SCRIPT shard running ``command``
    in its unpacked app."""
    return {
        "task_id": task_id,
        "job_name": job_name,
        "firing_id": f"{task_id}-firing",
        "sharding_item": 0,
        "sharding_total_count": 1,
        "sharding_parameter": "",
        "job_parameter": "",
        "app_name": job_name,
        "app_url": app_url,
        "app_cache_enable": app_cache_enable,
        "app_version": app_version,
        "job_type": "SCRIPT",
        "command": command,
        "job_class": "",
        "streaming_process": False,
        "environment": {},
        "cpus": cpus,
        "mem_mb": mem_mb,
        "execution_type": execution_type,
        "cron": cron,
        "time_zone": "UTC",
    }


@dataclass(frozen=True)
class ReceivedStatus:
    agent_id: str
    status: StatusUpdate
    received: float  # time.time() when the stand-in read it


@dataclass
class _Stream:
    agent_id: str
    outbound: queue.SimpleQueue[pb.MasterMessage | None] = field(default_factory=queue.SimpleQueue)


class StandInMaster(pb_grpc.AgentGatewayServicer):
    """Plays the leader of ``namespace`` for every agent that connects. Thread-safe.

    ``start()`` binds 127.0.0.1 on a port of the kernel's choosing and announces it; ``stop()`` withdraws
    the announcement and ends every stream (the agents then look for a leader again). ``on_status``, if
    given, is called on the stream's reader thread for every status and must not block.
    """

    def __init__(self, zk_hosts: str, namespace: str,
                 on_status: Callable[[ReceivedStatus], None] | None = None) -> None:
        self.layout = Layout(namespace)
        self._zk = KazooClient(hosts=zk_hosts, timeout=10, handler=PollingHandler())
        self._on_status = on_status
        self._lock = threading.Condition()
        self._streams: dict[str, _Stream] = {}
        self._statuses: list[ReceivedStatus] = []
        self._server: grpc.Server | None = None
        self._node: str | None = None
        self.address = ""

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> StandInMaster:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="standin"))
        pb_grpc.add_AgentGatewayServicer_to_server(self, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"
        self._zk.start(timeout=15)
        self._zk.ensure_path(self.layout.election)
        self._node = self._zk.create(f"{self.layout.election}/n_", encode({"grpc": self.address, "http": ""}),
                                     ephemeral=True, sequence=True)
        return self

    def stop(self) -> None:
        with self._lock:
            for stream in self._streams.values():
                stream.outbound.put(None)
        if self._node is not None:
            self._zk.delete(self._node)
            self._node = None
        self._zk.stop()
        self._zk.close()
        if self._server is not None:
            self._server.stop(grace=1).wait(5)

    # --- commands ------------------------------------------------------------------------------------

    def wait_agent(self, timeout: float = 30.0) -> str:
        """The id of a connected agent (the first to connect), waiting up to ``timeout`` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: bool(self._streams), timeout):
                raise TimeoutError(f"no agent connected to the stand-in leader within {timeout}s")
            return next(iter(self._streams))

    def launch(self, agent_id: str, specs: list[dict[str, Any]]) -> None:
        """Send one ``Launch`` carrying ``specs`` (see ``script_task``)."""
        self._send(agent_id, pb.MasterMessage(launch=pb.Launch(tasks=[spec_to_proto(s) for s in specs])))

    def kill(self, agent_id: str, task_id: str, reason: str = "stand-in") -> None:
        self._send(agent_id, pb.MasterMessage(kill=pb.Kill(task_id=task_id, reason=reason)))

    def statuses(self, task_id: str | None = None) -> list[ReceivedStatus]:
        """Every status received (for ``task_id`` only, if given), in arrival order."""
        with self._lock:
            return [s for s in self._statuses if task_id is None or s.status.task_id == task_id]

    def wait_for(self, predicate: Callable[[list[ReceivedStatus]], bool],
                 timeout: float) -> list[ReceivedStatus]:
        """Wait until ``predicate(all statuses so far)`` holds; return the statuses, or raise TimeoutError."""
        with self._lock:
            if not self._lock.wait_for(lambda: predicate(self._statuses), timeout):
                raise TimeoutError(f"the statuses did not reach the expected state within {timeout}s")
            return list(self._statuses)

    def _send(self, agent_id: str, message: pb.MasterMessage) -> None:
        with self._lock:
            stream = self._streams.get(agent_id)
        if stream is None:
            raise KeyError(f"agent {agent_id} is not connected")
        stream.outbound.put(message)

    # --- the gRPC service ----------------------------------------------------------------------------

    def Connect(self, request_iterator: Iterator[pb.AgentMessage],  # noqa: N802 - gRPC method name
                context: grpc.ServicerContext) -> Iterator[pb.MasterMessage]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("body") != "register":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a Register")
            return
        stream = _Stream(first.register.agent_id)
        reader = threading.Thread(target=self._read, args=(request_iterator, stream), daemon=True,
                                  name=f"standin-reader-{stream.agent_id}")
        reader.start()
        context.add_callback(lambda: stream.outbound.put(None))
        with self._lock:
            self._streams[stream.agent_id] = stream
            self._lock.notify_all()
        try:
            yield pb.MasterMessage(registered=pb.Registered(leader="stand-in"))
            while (message := stream.outbound.get()) is not None:
                yield message
        finally:
            with self._lock:
                if self._streams.get(stream.agent_id) is stream:
                    del self._streams[stream.agent_id]

    def _read(self, request_iterator: Iterator[pb.AgentMessage], stream: _Stream) -> None:
        try:
            for message in request_iterator:
                for proto in statuses_of(message):
                    status = StatusUpdate.from_proto(proto)
                    received = ReceivedStatus(stream.agent_id, status, time.time())
                    if self._on_status is not None:
                        self._on_status(received)
                    with self._lock:
                        self._statuses.append(received)
                        self._lock.notify_all()
                    if received.status.state.terminal and not received.status.daemon_run:
                        ack = pb.Acknowledge(task_ids=[received.status.task_id])
                        stream.outbound.put(pb.MasterMessage(ack=ack))
        except grpc.RpcError:
            pass  # the stream ended
        finally:
            stream.outbound.put(None)
