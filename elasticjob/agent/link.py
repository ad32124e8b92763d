"""The agent's link to the leader: find it through ZooKeeper, hold one gRPC stream, reconnect forever.

A new stream starts with a Register carrying every unacknowledged task status, so a new leader can
reconcile; running tasks are never touched by a reconnect. Thread-safe: ``send_status`` may be called
from task threads at any time (statuses that cannot be sent are re-reported on the next registration).

With ``ClientTls`` the stream runs over TLS to the host the leader advertises in ZooKeeper, whose
certificate must chain to the given CA and name that host; the agent's own certificate goes with it for
mutual TLS. A join token goes in the call's metadata. A master that refuses the agent (no or a wrong
token, an untrusted certificate either way) is retried like an unreachable one, but with a longer pause,
and the log says why each time.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import uuid
from collections.abc import Iterator

import grpc
from kazoo.client import KazooClient

from elasticjob import __version__
from elasticjob.agent.tasks import LogsGone, TaskManager
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from elasticjob.protocol.convert import StatusUpdate, kill_grace, spec_from_proto, status_message
from elasticjob.registry import Layout, read_leader
from elasticjob.security.jointoken import token_metadata
from elasticjob.security.tls import ClientTls

log = logging.getLogger(__name__)

_STOP = object()
MAX_STATUS_BATCH = 500
MAX_BACKOFF = 2.0
REFUSED_BACKOFF = 10.0  # after a refusal (token, certificate): retrying sooner would not change the answer
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


class MasterLink:
    def __init__(
        self,
        client: KazooClient,
        layout: Layout,
        agent_id: str,
        cpus: float,
        mem_mb: float,
        attributes: dict[str, str],
        heartbeat_seconds: float = 2.0,
        tls: ClientTls | None = None,
        join_token: str | None = None,
    ) -> None:
        self.client = client
        self.tls = tls
        self._metadata = token_metadata(join_token) if join_token else ()
        self.layout = layout
        self.agent_id = agent_id
        self.cpus = cpus
        self.mem_mb = mem_mb
        self.attributes = attributes
        self.heartbeat_seconds = heartbeat_seconds
        # New at every start of this process: see Register.incarnation.
        self.incarnation = uuid.uuid4().hex
        self.tasks: TaskManager | None = None
        self.connected = threading.Event()
        self._stopped = threading.Event()
        self._leader_changed = threading.Event()
        self._outbound: queue.Queue[object] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="master-link", daemon=True)
        self.leader: str | None = None

    def start(self, tasks: TaskManager) -> None:
        self.tasks = tasks
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._leader_changed.set()  # wakes a wait between attempts (up to REFUSED_BACKOFF after a refusal)
        self._end_stream()
        self._thread.join(timeout=10)

    def send_status(self, status: StatusUpdate) -> None:
        self._send(pb.AgentMessage(status=status.to_proto()))

    def _send(self, message: pb.AgentMessage) -> None:
        with self._lock:
            outbound = self._outbound
        if outbound is not None:
            outbound.put(message)

    def _end_stream(self) -> None:
        with self._lock:
            outbound = self._outbound
        if outbound is not None:
            outbound.put(_STOP)

    # ---- connection loop -------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.2
        while not self._stopped.is_set():
            try:
                address = self._leader_grpc()
            except Exception as exc:  # noqa: BLE001 - ZooKeeper unreachable (no quorum, network): retry
                log.info("cannot look the leader up (%s); retrying", type(exc).__name__)
                self._leader_changed.wait(2.0)
                self._leader_changed.clear()
                continue
            if address is None:
                log.info("no leader elected yet; waiting")
                self._leader_changed.wait(min(backoff, 2.0))
                self._leader_changed.clear()
                backoff = min(backoff * 2, 2.0)
                continue
            pause = None
            try:
                self._stream(address)
                backoff = 0.2
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                details = getattr(exc, "details", lambda: "")() or ""
                refusal = refusal_reason(code, details, tls=self.tls is not None)
                if refusal is not None:
                    log.warning("master %s refused this agent: %s (%s); retrying", address, refusal, details)
                    pause = REFUSED_BACKOFF
                else:
                    hint = ""
                    if self.tls is None and closed_at_connect(details):
                        hint = " (a master serving TLS closes plaintext connections so: give --master-ca)"
                    log.info("stream to %s ended: %s %s%s", address, code, details, hint)
            except Exception:  # noqa: BLE001 - keep the agent connected whatever happens
                log.exception("stream to %s failed", address)
            self.connected.clear()
            if not self._stopped.is_set():
                self._leader_changed.wait(pause or backoff)
                self._leader_changed.clear()
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _leader_grpc(self) -> str | None:
        found = read_leader(self.client, self.layout)
        if found is None:
            return None
        # Re-read when the election changes (a watch that fires once; set again on each lookup).
        self.client.get_children(self.layout.election, watch=lambda _e: self._on_election_change())
        return found[1].get("grpc")

    def _on_election_change(self) -> None:
        self._leader_changed.set()

    def _stream(self, address: str) -> None:
        assert self.tasks is not None
        outbound: queue.Queue[object] = queue.Queue()
        register = pb.Register(
            agent_id=self.agent_id,
            hostname=socket.gethostname(),
            total=pb.Resources(cpus=self.cpus, mem_mb=self.mem_mb),
            attributes=self.attributes,
            tasks=[s.to_proto() for s in self.tasks.statuses()],
            version=__version__,
            incarnation=self.incarnation,
        )
        outbound.put(pb.AgentMessage(register=register))
        with self._lock:
            self._outbound = outbound

        def requests() -> Iterator[pb.AgentMessage]:
            held: object | None = None
            while True:
                if held is not None:
                    item, held = held, None
                else:
                    try:
                        item = outbound.get(timeout=self.heartbeat_seconds)
                    except queue.Empty:
                        assert self.tasks is not None
                        running = self.tasks.running_ids()
                        item = pb.AgentMessage(heartbeat=pb.Heartbeat(running_task_ids=running))
                if item is _STOP:
                    return
                assert isinstance(item, pb.AgentMessage)
                if item.WhichOneof("body") == "status":
                    # Statuses queued meanwhile go in the same message (in order).
                    batch = [item.status]
                    while len(batch) < MAX_STATUS_BATCH:
                        try:
                            following = outbound.get_nowait()
                        except queue.Empty:
                            break
                        if _is_status(following):
                            assert isinstance(following, pb.AgentMessage)
                            batch.append(following.status)
                        else:
                            held = following
                            break
                    item = status_message(batch)
                yield item

        if self.tls is None:
            channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            channel = grpc.secure_channel(address, channel_credentials(self.tls), options=CHANNEL_OPTIONS)
        try:
            responses = pb_grpc.AgentGatewayStub(channel).Connect(requests(), metadata=self._metadata)
            for message in responses:
                self._handle(message, address)
                if self._stopped.is_set():
                    break
        finally:
            with self._lock:
                if self._outbound is outbound:
                    self._outbound = None
            outbound.put(_STOP)
            channel.close()

    def _handle(self, message: pb.MasterMessage, address: str) -> None:
        assert self.tasks is not None
        kind = message.WhichOneof("body")
        if kind == "registered":
            self.leader = message.registered.leader
            self.connected.set()
            log.info("connected to leader %s (gRPC %s)", self.leader, address)
        elif kind == "launch":
            for spec in message.launch.tasks:
                self.tasks.launch(spec_from_proto(spec))
        elif kind == "kill":
            self.tasks.kill(message.kill.task_id, message.kill.reason, grace=kill_grace(message.kill))
        elif kind == "ack":
            self.tasks.acknowledge(list(message.ack.task_ids))
        elif kind == "read_log":
            self._send(pb.AgentMessage(log_chunk=log_reply(self.tasks, message.read_log)))


def channel_credentials(tls: ClientTls) -> grpc.ChannelCredentials:
    """gRPC's TLS credentials: trust ``tls.ca`` only, and present the agent's certificate if it has one."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.certificate_chain
    )


def refusal_reason(code: grpc.StatusCode | None, details: str, *, tls: bool) -> str | None:
    """Why a master refused this agent, in an operator's words, or None when the stream simply ended
    (a leader change, a restart, a network cut: reconnecting soon is right then).

    gRPC tells the TLS cases apart only in the text of an UNAVAILABLE status ("failed to connect ...;
    last error: ..."), which names BoringSSL's reason; a server that refuses a client certificate (or its
    absence) under TLS 1.3 just closes the socket, which is named as the likely cause.
    tests/unit/test_agent_link_refusal.py holds the texts a real master gives."""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return "no valid join token (give --join-token-file, or env ELASTICJOB_JOIN_TOKEN, with the master's)"
    if code != grpc.StatusCode.UNAVAILABLE or "failed to connect" not in details:
        return None  # a stream that was open and ended, or a master that is not there: no refusal
    text = details.lower()
    if "certificate_verify_failed" in text:
        return "its certificate is not signed by the CA of --master-ca"
    if "hostname verification" in text:
        return (
            "its certificate does not name the host it advertises (its --advertise-host, else the host of "
            "its --grpc, must be among the --hosts of its certificate)"
        )
    if "wrong_version_number" in text:
        return "it does not serve TLS (no --grpc-tls-cert): drop --master-ca, or give the master one"
    if tls and closed_at_connect(details):
        return (
            "the master closed the connection during the TLS handshake (does it require a client "
            "certificate: --tls-cert and --tls-key signed by its --grpc-client-ca?)"
        )
    # In plaintext the same closed socket may be a master going away mid-connect: no refusal (the default
    # setup keeps reconnecting at once), only a hint in the log line (see MasterLink._run).
    return None


def closed_at_connect(details: str) -> bool:
    """Whether gRPC's details say the master closed the connection before the stream opened."""
    text = details.lower()
    return "failed to connect" in text and ("socket closed" in text or "connection reset" in text)


def log_reply(tasks: TaskManager, request: pb.ReadLog) -> pb.LogChunk:
    """The answer to a master's ``ReadLog``: a byte range, or lines; an ``error`` (with ``gone_ms`` once
    the retention removed the logs) when they cannot be read."""
    try:
        if not request.lines:
            chunk = tasks.read_log(request.task_id, request.stream, request.offset, request.length)
            return pb.LogChunk(
                request_id=request.request_id, data=chunk.data, offset=chunk.offset,
                next_offset=chunk.next_offset, size=chunk.size, eof=chunk.eof,
                running=tasks.is_running(request.task_id),
            )
        lines, running = tasks.read_lines(
            request.task_id, request.stream,
            start=request.from_line if request.HasField("from_line") else None,
            size=request.size or 100,
            start_ms=request.start_ms if request.HasField("start_ms") else None,
            end_ms=request.end_ms if request.HasField("end_ms") else None,
        )
        return pb.LogChunk(
            request_id=request.request_id,
            lines=[pb.LogLine(number=line.number, time_ms=line.time_ms, data=line.data,
                              truncated=line.truncated) for line in lines.lines],
            first_line=lines.first_line, next_line=lines.next_line, eof=lines.eof, running=running,
        )
    except LogsGone as exc:
        return pb.LogChunk(request_id=request.request_id, error=str(exc), gone_ms=exc.removed_ms)
    except (OSError, ValueError) as exc:
        return pb.LogChunk(request_id=request.request_id, error=str(exc))


def _is_status(item: object) -> bool:
    return isinstance(item, pb.AgentMessage) and item.WhichOneof("body") == "status"
