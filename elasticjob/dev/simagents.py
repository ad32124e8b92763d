"""Lightweight simulated agents: thousands of real agent streams from one process, for the master's
capacity test and the ``launch`` benchmark.

Each simulated agent does on the wire what an ``elasticjob agent`` does, and nothing else: it holds an
ephemeral ``/agents/{id}`` znode, finds the leader in ZooKeeper, opens one bidirectional gRPC stream to it
on a TCP connection of its own, registers its resources (re-reporting unacknowledged statuses, like an
agent), sends a heartbeat when it has sent nothing for ``--heartbeat`` seconds, answers a ``Launch`` by
reporting RUNNING and then FINISHED (exit 0) for every task at once — it never spawns anything — and
answers log reads with an empty chunk. A stream that ends is opened again (with the leader looked up
again), as agents do.

    python -m elasticjob.dev.simagents --zk HOSTS --namespace NS --count 1000 [--cpus 64] [--mem 65536]

Control: one command per line on stdin, each answered by one JSON line on stdout (``Stats``):
``stats``; ``stop`` — answer, then leave (streams closed, znodes gone) and exit 0. The end of stdin,
SIGTERM and SIGINT stop it the same way, so it never outlives a parent that holds its stdin.

Concurrency: one asyncio loop runs every stream; kazoo (membership, leader lookups) is only called
through ``asyncio.to_thread`` so its blocking calls never stall the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
from kazoo.client import KazooClient

from elasticjob.common.openfiles import raise_open_files_limit
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from elasticjob.protocol.convert import status_message, statuses_of
from elasticjob.registry import Layout, read_leader
from elasticjob.registry.handler import PollingHandler
from elasticjob.registry.store import encode

log = logging.getLogger("elasticjob.simagents")

MEMBERSHIP_BATCH = 500  # znodes per multi-transaction
HOSTNAME = "simulated"
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # A TCP connection per agent, as separate agent processes would have (gRPC otherwise shares one
    # connection between channels to the same address).
    ("grpc.use_local_subchannel_pool", 1),
]


@dataclass
class Stats:
    """What the simulated agents saw. Times are UNIX seconds (``time.time()``), None before the first."""

    agents: int = 0
    registered: int = 0  # agents whose stream is open and answered Registered
    registrations: int = 0  # Registered answers received, reconnects included
    launches: int = 0  # Launch messages
    tasks: int = 0  # tasks in them
    duplicate_tasks: int = 0  # task ids received more than once
    statuses_sent: int = 0
    kills: int = 0
    log_reads: int = 0
    stream_errors: int = 0
    first_launch_at: float | None = None
    last_launch_at: float | None = None
    all_registered_at: float | None = None


class Leader:
    """The leader's gRPC address, looked up in ZooKeeper; concurrent lookups share one."""

    def __init__(self, client: KazooClient, layout: Layout) -> None:
        self.client = client
        self.layout = layout
        self._address: str | None = None
        self._lookup: asyncio.Task[str | None] | None = None

    async def address(self, fresh: bool = False) -> str | None:
        if self._address is not None and not fresh:
            return self._address
        if self._lookup is None or self._lookup.done():
            self._lookup = asyncio.create_task(asyncio.to_thread(self._read))
        self._address = await asyncio.shield(self._lookup)
        return self._address

    def _read(self) -> str | None:
        try:
            found = read_leader(self.client, self.layout)
        except Exception as exc:  # noqa: BLE001 - ZooKeeper unreachable for a moment: retried
            log.info("leader lookup failed: %s", exc)
            return None
        return None if found is None else found[1].get("grpc")


class SimulatedAgent:
    """One agent's stream, reopened until stopped. Everything runs on the simulator's loop."""

    def __init__(self, agent_id: str, fleet: Fleet) -> None:
        self.agent_id = agent_id
        self.fleet = fleet
        self.outbox: asyncio.Queue[pb.AgentMessage | None] = asyncio.Queue()
        self.unacknowledged: dict[str, pb.TaskStatus] = {}  # terminal statuses the master has not acked
        self.connected = False
        self.last_sent = time.monotonic()

    async def run(self) -> None:
        backoff = 0.2
        fresh = False
        while True:
            address = await self.fleet.leader.address(fresh)
            if address is None:
                await asyncio.sleep(backoff)
                backoff, fresh = min(backoff * 2, 2.0), True
                continue
            channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
            try:
                async with self.fleet.connecting:
                    call = pb_grpc.AgentGatewayStub(channel).Connect(self._requests())
                    registered = await call.read()
                    if isinstance(registered, pb.MasterMessage):
                        self._handle(registered)
                await self._serve(call)
                backoff, fresh = 0.2, False
            except grpc.RpcError as exc:
                self.fleet.stats.stream_errors += 1
                log.debug("agent %s: stream ended: %s", self.agent_id, exc)
                fresh = True
            finally:
                if self.connected:
                    self.connected = False
                    self.fleet.stats.registered -= 1
                self.outbox.put_nowait(None)  # ends the request stream of the call that ended
                await channel.close(grace=None)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _serve(self, call: grpc.aio.StreamStreamCall[pb.AgentMessage, pb.MasterMessage]) -> None:
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                return
            assert isinstance(message, pb.MasterMessage)
            self._handle(message)

    async def _requests(self) -> AsyncIterator[pb.AgentMessage]:
        # A new stream starts with a fresh outbox holding the Register (stale heartbeats are dropped).
        self.outbox = asyncio.Queue()
        yield pb.AgentMessage(
            register=pb.Register(
                agent_id=self.agent_id,
                hostname=HOSTNAME,
                total=pb.Resources(cpus=self.fleet.cpus, mem_mb=self.fleet.mem_mb),
                tasks=list(self.unacknowledged.values()),
                version="simulated",
            )
        )
        outbox = self.outbox
        while True:
            message = await outbox.get()
            if message is None:
                return
            self.fleet.stats.statuses_sent += len(statuses_of(message))
            self.last_sent = time.monotonic()
            yield message

    def heartbeat(self, now: float) -> None:
        """Like an agent: a heartbeat only after a period in which nothing else was sent."""
        if self.connected and now - self.last_sent >= self.fleet.heartbeat_seconds:
            self.last_sent = now
            self.outbox.put_nowait(pb.AgentMessage(heartbeat=pb.Heartbeat()))

    def _handle(self, message: pb.MasterMessage) -> None:
        stats = self.fleet.stats
        kind = message.WhichOneof("body")
        if kind == "registered":
            self.connected = True
            stats.registered += 1
            stats.registrations += 1
            if stats.registered == stats.agents and stats.all_registered_at is None:
                stats.all_registered_at = time.time()
        elif kind == "launch":
            self._launch(message.launch)
        elif kind == "ack":
            for task_id in message.ack.task_ids:
                self.unacknowledged.pop(task_id, None)
        elif kind == "kill":
            stats.kills += 1  # every task has finished already: nothing to kill
        elif kind == "read_log":
            stats.log_reads += 1
            request = message.read_log
            chunk = pb.LogChunk(
                request_id=request.request_id, offset=request.offset, next_offset=request.offset, eof=True
            )
            self.outbox.put_nowait(pb.AgentMessage(log_chunk=chunk))

    def _launch(self, launch: pb.Launch) -> None:
        stats = self.fleet.stats
        now = time.time()
        stats.launches += 1
        stats.tasks += len(launch.tasks)
        if stats.first_launch_at is None:
            stats.first_launch_at = now
        stats.last_launch_at = now
        millis = int(now * 1000)
        by_state: dict[pb.TaskState, list[pb.TaskStatus]] = {pb.RUNNING: [], pb.FINISHED: []}
        for spec in launch.tasks:
            if spec.task_id in self.fleet.seen:
                stats.duplicate_tasks += 1
            self.fleet.seen.add(spec.task_id)
            for state, statuses in by_state.items():
                status = pb.TaskStatus(
                    task_id=spec.task_id,
                    state=state,
                    exit_code=0,
                    has_exit_code=state == pb.FINISHED,
                    timestamp_ms=millis,
                    started_ms=millis,
                    firing_id=spec.firing_id,
                )
                statuses.append(status)
            self.unacknowledged[spec.task_id] = status
        # Like an agent: what it has to report at once goes in one message per state.
        for statuses in by_state.values():
            self.outbox.put_nowait(status_message(statuses))


class Fleet:
    """``count`` simulated agents named ``{prefix}-{n}``, their membership znodes and their statistics."""

    def __init__(
        self,
        zk_hosts: str,
        namespace: str,
        count: int,
        *,
        prefix: str = "sim",
        cpus: float = 64.0,
        mem_mb: float = 65536.0,
        heartbeat: float = 2.0,
        connect_concurrency: int = 256,
    ) -> None:
        self.layout = Layout(namespace)
        self.client = KazooClient(hosts=zk_hosts, timeout=10, handler=PollingHandler())
        self.leader = Leader(self.client, self.layout)
        self.cpus = cpus
        self.mem_mb = mem_mb
        self.heartbeat_seconds = heartbeat
        self.ids = [f"{prefix}-{n:05d}" for n in range(count)]
        self.stats = Stats(agents=count)
        self.seen: set[str] = set()
        self.connecting = asyncio.Semaphore(connect_concurrency)  # streams being opened at once
        self.agents = [SimulatedAgent(agent_id, self) for agent_id in self.ids]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.to_thread(self._join)
        self._tasks = [asyncio.create_task(agent.run(), name=agent.agent_id) for agent in self.agents]
        self._tasks.append(asyncio.create_task(self._heartbeats(), name="heartbeats"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._leave)

    def _join(self) -> None:
        """Connect to ZooKeeper and create every agent's ephemeral membership znode, in batches."""
        self.client.start(timeout=15)
        for path in (self.layout.root, self.layout.agents):
            self.client.ensure_path(path)
        for start in range(0, len(self.ids), MEMBERSHIP_BATCH):
            txn = self.client.transaction()
            for agent_id in self.ids[start : start + MEMBERSHIP_BATCH]:
                value = {"agentId": agent_id, "hostname": HOSTNAME, "pid": os.getpid(), "cpus": self.cpus,
                         "memMB": self.mem_mb, "attributes": {}, "simulated": True}
                txn.create(self.layout.agent(agent_id), encode(value), ephemeral=True)
            txn.commit()

    def _leave(self) -> None:
        self.client.stop()  # the session ends: every ephemeral znode goes with it
        self.client.close()

    async def _heartbeats(self) -> None:
        """Heartbeats spread over each period: one timer for the whole fleet, not one per agent."""
        slices = 20
        tick = self.heartbeat_seconds / slices
        n = 0
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for agent in self.agents[n % slices :: slices]:
                agent.heartbeat(now)
            n += 1


async def serve(fleet: Fleet) -> Stats:
    """Run ``fleet`` until told to stop (stdin command or end, SIGTERM, SIGINT); answer stdin commands."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    commands: asyncio.Queue[str] = asyncio.Queue()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def read_commands() -> None:
        while line := await reader.readline():
            commands.put_nowait(line.decode().strip())
        commands.put_nowait("stop")

    async def answer() -> None:
        while True:
            command = await commands.get()
            if command == "stop":
                stopping.set()
                return
            if command == "stats":
                emit(fleet.stats)
            elif command:
                log.warning("unknown command %r (stats | stop)", command)

    await fleet.start()
    log.info("%d simulated agents started", len(fleet.ids))
    helpers = [asyncio.create_task(read_commands()), asyncio.create_task(answer())]
    await stopping.wait()
    for helper in helpers:
        helper.cancel()
    await fleet.stop()
    return fleet.stats


def emit(stats: Stats) -> None:
    sys.stdout.write(json.dumps(asdict(stats)) + "\n")
    sys.stdout.flush()


class SimulatedAgentsProcess:
    """The simulator as a child process of the caller (tests, benchmarks), driven through its stdin and
    stdout; its log goes to ``log_path``. Ended only through its own pid."""

    def __init__(self, zk_hosts: str, namespace: str, count: int, log_path: Path, *extra: str) -> None:
        self.args = ["--zk", zk_hosts, "--namespace", namespace, "--count", str(count), *extra]
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> SimulatedAgentsProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "elasticjob.dev.simagents", *self.args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stats(self, timeout: float = 30.0) -> dict[str, Any]:
        """The simulator's ``Stats`` as a dict; ``RuntimeError`` (with its log) if it does not answer."""
        return self._ask("stats", timeout)

    def stop(self, timeout: float = 30.0) -> dict[str, Any] | None:
        """Stop it and return its final ``Stats``; None if it had already ended or had to be killed."""
        if self.process is None or self.process.poll() is not None:
            return None
        try:
            final = self._ask("stop", timeout)
            self.process.wait(timeout)
            return final
        except (RuntimeError, subprocess.TimeoutExpired, OSError):
            self.process.kill()
            self.process.wait(10)
            return None

    def _ask(self, command: str, timeout: float) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError(f"the simulated agents have exited:\n{self.log()}") from None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the simulated agents did not answer {command!r}:\n{self.log()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elasticjob.dev.simagents", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zk", required=True, help="ZooKeeper connect string")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--count", type=int, required=True, help="how many agents")
    parser.add_argument("--prefix", default="sim", help="agent ids are PREFIX-00000, PREFIX-00001, ...")
    parser.add_argument("--cpus", type=float, default=64.0, help="CPUs each agent registers")
    parser.add_argument("--mem", type=float, default=65536.0, help="MB each agent registers")
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds between heartbeats")
    parser.add_argument("--connect-concurrency", type=int, default=256, help="streams opened at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    raise_open_files_limit()  # every agent holds a socket

    async def run() -> Stats:
        fleet = Fleet(args.zk, args.namespace, args.count, prefix=args.prefix, cpus=args.cpus,
                      mem_mb=args.mem, heartbeat=args.heartbeat, connect_concurrency=args.connect_concurrency)
        return await serve(fleet)

    emit(asyncio.run(run()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
