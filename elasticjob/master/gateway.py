"""The gRPC endpoint agents connect to. Only the leader accepts streams.

Concurrency model: asyncio. ``GatewayServer`` runs a ``grpc.aio`` server on an event loop of its own
thread ("agent-gateway"); each agent stream is two coroutines on that loop (a reader and the writer that
drains the connection's outbox), so thousands of agents cost no thread each. The rest of the master is
thread-based; it reaches the streams only through ``AgentHub`` (see ``hub.py`` for that bridge) and is
reached through ``AgentEvents``, whose callbacks run on the loop and therefore must never block.

Who may connect: with TLS (``ServerTls``) the server presents the master's certificate, and with a client CA
it requires every agent's certificate to chain to it (mutual TLS: a process without one never completes
the handshake). With a ``JoinToken`` a stream is refused with UNAUTHENTICATED before the gateway reads its
first message — nothing is registered and nothing is sent to a process without the token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable

import grpc

from elasticjob.common.net import peer_ip
from elasticjob.common.openfiles import raise_open_files_limit
from elasticjob.master.hub import AgentConnection, AgentHub
from elasticjob.master.outbox import LoopWaker
from elasticjob.model import check_agent_id
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from elasticjob.protocol.convert import StatusUpdate, statuses_of
from elasticjob.security.jointoken import JoinToken
from elasticjob.security.tls import ServerTls

log = logging.getLogger(__name__)

SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_time_ms", 5_000),
    ("grpc.keepalive_timeout_ms", 3_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # Accept the agents' keepalive pings (the default minimum interval would answer GOAWAY).
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 4_000),
    # gRPC sets SO_REUSEPORT by default: a second master given the same --grpc port would then share it
    # silently (the kernel spreading agents over both). A taken port must be an error.
    ("grpc.so_reuseport", 0),
]


class AgentEvents:
    """What the gateway tells the scheduler. Called on the gateway's event loop: must not block."""

    def agent_registered(self, connection: AgentConnection, tasks: list[StatusUpdate]) -> None: ...
    def agent_disconnected(self, connection: AgentConnection) -> None: ...
    def task_status(self, agent_id: str, status: StatusUpdate) -> None: ...


class Gateway(pb_grpc.AgentGatewayServicer):
    """The ``AgentGateway`` service. Its coroutines run on the gateway's loop only."""

    silence_timeout = 8.0  # seconds without any message from an agent before its stream is closed
    silence_check_interval = 1.0

    def __init__(
        self,
        hub: AgentHub,
        events: AgentEvents,
        is_leader: Callable[[], bool],
        leader_address: Callable[[], str],
        current_leader: Callable[[], str | None] | None = None,
        join_token: JoinToken | None = None,
    ) -> None:
        """``is_leader`` and ``leader_address`` (this master's own HTTP address, sent in ``Registered``)
        must not block; ``current_leader`` (the leader's HTTP address, named when a stream is refused) may
        block on ZooKeeper: it runs on a worker thread, never on the loop. With ``join_token`` only streams
        presenting it are accepted."""
        self.hub = hub
        self.join_token = join_token
        self.events = events
        self.is_leader = is_leader
        self.leader_address = leader_address
        self.current_leader = current_leader
        self._waker: LoopWaker | None = None  # made on the loop by the first stream

    async def Connect(  # type: ignore[override]  # noqa: N802 - gRPC method name
        self,
        request_iterator: AsyncIterator[pb.AgentMessage],
        context: grpc.aio.ServicerContext[pb.AgentMessage, pb.MasterMessage],
    ) -> None:
        # Messages are read with context.read() (never request_iterator) and written with context.write().
        # The token first: a process without it learns nothing, not even who leads.
        if self.join_token is not None and not self.join_token.admits(context.invocation_metadata()):
            log.warning("refused an agent stream from %s: no valid join token", context.peer() or "?")
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "this master requires the agent join token: give the agent --join-token-file FILE "
                "(or env ELASTICJOB_JOIN_TOKEN) with the token of the master's --agent-token-file",
            )
        if not self.is_leader():
            await self._refuse(context)
        first = await context.read()
        if first is grpc.aio.EOF:
            return
        assert isinstance(first, pb.AgentMessage)
        if first.WhichOneof("body") != "register":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a Register")
        register = first.register
        try:
            check_agent_id(register.agent_id)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        connection = AgentConnection(
            agent_id=register.agent_id,
            hostname=register.hostname,
            cpus=register.total.cpus,
            mem_mb=register.total.mem_mb,
            attributes=dict(register.attributes),
            waker=self._loop_waker(),
            incarnation=register.incarnation,
            # Where its stream comes from: the address the executions record as the agent's ``ip``.
            ip=peer_ip(context.peer() or ""),
        )
        tasks = []
        for status in register.tasks:
            try:
                tasks.append(StatusUpdate.from_proto(status))
            except ValueError as exc:
                log.warning("agent %s: %s", register.agent_id, exc)
        self.hub.register(connection)
        if not self.is_leader():  # leadership lost while this stream was being accepted
            self.hub.unregister(connection)
            await self._refuse(context)
        reader: asyncio.Task[None] | None = None
        try:
            log.info(
                "agent %s (%s, %s) connected: %.2f CPUs, %.0f MB, %d task(s) reported",
                connection.agent_id,
                connection.hostname,
                connection.ip or "no IP",
                connection.cpus,
                connection.mem_mb,
                len(tasks),
            )
            self.events.agent_registered(connection, tasks)
            reader = asyncio.create_task(self._read(context, connection), name=f"agent-{connection.agent_id}")
            await context.write(pb.MasterMessage(registered=pb.Registered(leader=self.leader_address())))
            async for message in connection.outgoing():
                await context.write(message)
        finally:
            if reader is not None:
                reader.cancel()
            if self.hub.unregister(connection):
                log.info("agent %s disconnected", connection.agent_id)
                self.events.agent_disconnected(connection)

    def _loop_waker(self) -> LoopWaker:
        if self._waker is None:
            self._waker = LoopWaker(asyncio.get_running_loop())
        return self._waker

    async def _refuse(self, context: grpc.aio.ServicerContext[pb.AgentMessage, pb.MasterMessage]) -> None:
        """End the stream: only the leader accepts agents (the agent looks the leader up again)."""
        leader = None
        if self.current_leader is not None:
            try:
                leader = await asyncio.to_thread(self.current_leader)
            except Exception as exc:  # noqa: BLE001 - ZooKeeper unavailable: refuse all the same
                log.info("cannot name the leader to a refused agent: %s", exc)
        await context.abort(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"not the leader; leader: {leader}" if leader else "not the leader; no leader is known",
        )

    async def _read(
        self,
        context: grpc.aio.ServicerContext[pb.AgentMessage, pb.MasterMessage],
        connection: AgentConnection,
    ) -> None:
        try:
            while True:
                message = await context.read()
                if message is grpc.aio.EOF:
                    break
                assert isinstance(message, pb.AgentMessage)
                connection.last_seen = time.monotonic()
                kind = message.WhichOneof("body")
                if kind in ("status", "statuses"):
                    for status in statuses_of(message):
                        try:
                            self.events.task_status(connection.agent_id, StatusUpdate.from_proto(status))
                        except ValueError as exc:
                            log.warning("agent %s: %s", connection.agent_id, exc)
                elif kind == "log_chunk":
                    self.hub.deliver_log(message.log_chunk)
        except grpc.RpcError:
            pass  # the stream ended under us: the writer ends too, below
        except Exception:  # noqa: BLE001 - a bug must end this stream, not go unnoticed
            log.exception("agent %s: reading its stream failed", connection.agent_id)
        finally:
            connection.close()

    async def watch_silence(self) -> None:
        """Close the streams of agents silent for longer than ``silence_timeout`` (agents send a heartbeat
        every few seconds: a silent one is frozen or cut off). Runs on the loop until cancelled.

        A sweep that itself ran late by more than a check interval is skipped: the loop was stalled, so
        messages may be waiting unread, and closing every stream then would only make things worse.
        """
        interval = self.silence_check_interval
        expected = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(expected - time.monotonic(), 0.0))
            now = time.monotonic()
            late = now - expected
            expected = now + interval
            if late > interval:
                log.warning("agent gateway loop stalled for %.1fs; silence check skipped", late)
                continue
            for connection in self.hub.connections():
                silent = now - connection.last_seen
                if silent > self.silence_timeout and not connection.closed:
                    log.warning("agent %s silent for %.0fs; closing its stream", connection.agent_id, silent)
                    connection.close()


class GatewayServer:
    """A ``grpc.aio`` server for ``gateway`` on an event loop of its own thread.

    ``start`` and ``stop`` are called from any (one) thread and block until the server is listening or
    has stopped; nothing else of the master ever runs on this loop except the hub's wake-ups.
    """

    def __init__(self, gateway: Gateway, host: str, port: int, tls: ServerTls | None = None) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self.tls = tls
        self._thread = threading.Thread(target=self._run, name="agent-gateway", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._grace = 2.0

    def start(self, timeout: float = 30.0) -> int:
        """Bind and start serving; return the port bound (``port`` 0: any free one). ``OSError`` if the
        address cannot be bound."""
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"the agent gateway did not start within {timeout:.0f}s")
        if self._error is not None:
            raise self._error
        return self.port

    def stop(self, grace: float = 2.0) -> None:
        """Stop accepting streams, give open ones ``grace`` seconds to end, then cancel them."""
        loop, stop = self._loop, self._stop
        if loop is None or stop is None or not self._thread.is_alive():
            return
        self._grace = grace
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # the loop has already closed
            return
        self._thread.join(grace + 10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start(), or logged if after it
            if self._started.is_set():
                log.exception("the agent gateway failed")
            else:
                self._error = exc
        finally:
            self._started.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = grpc.aio.server(options=SERVER_OPTIONS)
        pb_grpc.add_AgentGatewayServicer_to_server(self.gateway, server)
        address = f"{self.host}:{self.port}"
        try:
            if self.tls is None:
                bound = server.add_insecure_port(address)
            else:
                bound = server.add_secure_port(address, server_credentials(self.tls))
        except RuntimeError:
            bound = 0
        if bound == 0:
            raise OSError(f"cannot listen for agents on {address} (--grpc): port in use?")
        self.port = bound
        await server.start()
        sweeper = asyncio.create_task(self.gateway.watch_silence(), name="silence-check")
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            sweeper.cancel()
            await server.stop(self._grace)


def server_credentials(tls: ServerTls) -> grpc.ServerCredentials:
    """gRPC's TLS credentials for ``tls``; with a client CA, agents must present a certificate it signed."""
    return grpc.ssl_server_credentials(
        [(tls.key, tls.certificate_chain)],
        root_certificates=tls.client_ca,
        require_client_auth=tls.client_ca is not None,
    )


def start_grpc_server(
    gateway: Gateway, host: str, port: int, tls: ServerTls | None = None
) -> tuple[GatewayServer, int]:
    """Start the agents' endpoint (see ``GatewayServer``; over TLS with ``tls``); return it and the port it
    bound (``port`` 0: any free one). Raises the soft limit of open files to the hard one first: every
    agent holds a socket."""
    raise_open_files_limit()
    server = GatewayServer(gateway, host, port, tls)
    return server, server.start()

