"""The gRPC endpoint agents connect to. Only the leader accepts streams."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc

from elasticjob.master.hub import AgentConnection, AgentHub
from elasticjob.model import check_agent_id
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from elasticjob.protocol.convert import StatusUpdate

log = logging.getLogger(__name__)


class AgentEvents:
    """What the gateway tells the scheduler. Implementations must not block."""

    def agent_registered(self, connection: AgentConnection, tasks: list[StatusUpdate]) -> None: ...
    def agent_disconnected(self, connection: AgentConnection) -> None: ...
    def task_status(self, agent_id: str, status: StatusUpdate) -> None: ...


class Gateway(pb_grpc.AgentGatewayServicer):
    silence_timeout = 8.0  # seconds without any message from an agent before its stream is closed

    def __init__(
        self,
        hub: AgentHub,
        events: AgentEvents,
        is_leader: Callable[[], bool],
        leader_address: Callable[[], str],
    ) -> None:
        self.hub = hub
        self.events = events
        self.is_leader = is_leader
        self.leader_address = leader_address

    def Connect(
        self,
        request_iterator: Iterator[pb.AgentMessage],  # noqa: N802 - gRPC method name
        context: grpc.ServicerContext,
    ) -> Iterator[pb.MasterMessage]:
        if not self.is_leader():
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, f"not the leader; leader: {self.leader_address()}"
            )
        try:
            first = next(request_iterator)
        except StopIteration:
            return
        if first.WhichOneof("body") != "register":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a Register")
        register = first.register
        try:
            check_agent_id(register.agent_id)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        connection = AgentConnection(
            agent_id=register.agent_id,
            hostname=register.hostname,
            cpus=register.total.cpus,
            mem_mb=register.total.mem_mb,
            attributes=dict(register.attributes),
        )
        tasks = []
        for status in register.tasks:
            try:
                tasks.append(StatusUpdate.from_proto(status))
            except ValueError as exc:
                log.warning("agent %s: %s", register.agent_id, exc)
        self.hub.register(connection)
        log.info(
            "agent %s (%s) connected: %.2f CPUs, %.0f MB, %d task(s) reported",
            connection.agent_id,
            connection.hostname,
            connection.cpus,
            connection.mem_mb,
            len(tasks),
        )
        self.events.agent_registered(connection, tasks)
        reader = threading.Thread(
            target=self._read,
            args=(request_iterator, connection),
            name=f"agent-reader-{connection.agent_id}",
            daemon=True,
        )
        reader.start()
        context.add_callback(connection.close)
        try:
            yield pb.MasterMessage(registered=pb.Registered(leader=self.leader_address()))
            while context.is_active():
                try:
                    message = connection.outbound.get(timeout=1.0)
                except queue.Empty:
                    silent = time.monotonic() - connection.last_seen
                    if silent > self.silence_timeout:
                        # Agents send a heartbeat every few seconds: a silent one is frozen or cut off.
                        log.warning(
                            "agent %s silent for %.0fs; closing its stream", connection.agent_id, silent
                        )
                        break
                    continue
                if message is None or connection.closed.is_set():
                    break
                yield message
        finally:
            if self.hub.unregister(connection):
                log.info("agent %s disconnected", connection.agent_id)
                self.events.agent_disconnected(connection)

    def _read(self, request_iterator: Iterator[pb.AgentMessage], connection: AgentConnection) -> None:
        try:
            for message in request_iterator:
                connection.last_seen = time.monotonic()
                kind = message.WhichOneof("body")
                if kind == "status":
                    try:
                        self.events.task_status(connection.agent_id, StatusUpdate.from_proto(message.status))
                    except ValueError as exc:
                        log.warning("agent %s: %s", connection.agent_id, exc)
                elif kind == "log_chunk":
                    self.hub.deliver_log(message.log_chunk)
        except grpc.RpcError:
            pass  # the stream ended; the writer side notices through the callback
        finally:
            connection.close()


def start_grpc_server(
    gateway: Gateway, host: str, port: int, max_agents: int = 512
) -> tuple[grpc.Server, int]:
    """A threaded gRPC server: each connected agent holds one worker thread for its stream. Returns the
    server and the port it bound (``port`` 0: any free one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_agents, thread_name_prefix="grpc"),
        options=[
            ("grpc.keepalive_time_ms", 5_000),
            ("grpc.keepalive_timeout_ms", 3_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            # Accept the agents' keepalive pings (the default minimum interval would answer GOAWAY).
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 4_000),
        ],
    )
    pb_grpc.add_AgentGatewayServicer_to_server(gateway, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for agents on {host}:{port} (--grpc): port in use?")
    server.start()
    return server, bound
