"""An agent stream's outbox: messages queued by any thread, written out by the gateway's event loop.

Thread/async contract: ``Outbox.put`` and ``Outbox.close`` may be called from any thread and never block;
``Outbox.messages`` runs on the loop of its ``LoopWaker``. A message is appended to a ``deque`` (safe
across threads) and the loop is woken through ``LoopWaker``, which makes at most one cross-thread call
(``call_soon_threadsafe``, a write to the loop's self-pipe) per burst, however many outboxes the burst
touched: the scheduler sends one launch to each of hundreds of agents per transaction it commits.

When messages pile up faster than the stream drains them, consecutive ``Launch`` messages are written as
one ``Launch`` (and consecutive ``Acknowledge`` as one), up to ``MAX_MERGED_BYTES``: an agent handles the
tasks of a launch in order, so this changes nothing for it and saves a gRPC write per message merged.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from elasticjob.protocol import agent_pb2 as pb

MAX_MERGED_BYTES = 1 << 20  # well below gRPC's default 4 MiB receive limit of the agents


class LoopWaker:
    """Sets asyncio events on ``loop`` on behalf of other threads, one cross-thread call per burst."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: deque[asyncio.Event] = deque()
        self._scheduled = False

    def wake(self, event: asyncio.Event) -> bool:
        """Set ``event`` on the loop soon. Any thread; never blocks. False if the loop has closed."""
        self._due.append(event)
        # A racy check is harmless: two threads may both schedule a run (one is spare), but an event is
        # never left unset, because the flag is cleared on the loop *before* the queue is drained.
        if self._scheduled:
            return True
        self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop is closed: the gateway has stopped
            return False
        return True

    def _run(self) -> None:
        self._scheduled = False
        while self._due:
            self._due.popleft().set()


class Outbox:
    """Messages for one agent, in order. See the module docstring for the thread contract."""

    def __init__(self, waker: LoopWaker) -> None:
        self.closed = False
        self._waker = waker
        self._messages: deque[pb.MasterMessage] = deque()
        self._ready = asyncio.Event()

    def put(self, message: pb.MasterMessage) -> bool:
        """Queue ``message``; False if the outbox is closed (it will not be written). Never blocks."""
        if self.closed:
            return False
        self._messages.append(message)
        if not self._waker.wake(self._ready):
            self.closed = True
        return not self.closed

    def close(self) -> None:
        """Stop: ``messages`` ends (what is still queued is dropped). Any thread; idempotent."""
        if not self.closed:
            self.closed = True
            self._waker.wake(self._ready)

    def __len__(self) -> int:
        return len(self._messages)

    async def messages(self) -> AsyncIterator[pb.MasterMessage]:
        """The queued messages in order (runs merged), waiting for more, until closed. Loop only."""
        while not self.closed:
            if self._messages:
                yield self._take()
                continue
            # Cleared before the re-check: a put() after the check sets the event again.
            self._ready.clear()
            if self._messages or self.closed:
                continue
            await self._ready.wait()

    def _take(self) -> pb.MasterMessage:
        first = self._messages.popleft()
        kind = first.WhichOneof("body")
        if kind not in ("launch", "ack") or not self._messages:
            return first
        run = [first]
        size = first.ByteSize()
        while self._messages and self._messages[0].WhichOneof("body") == kind:
            size += self._messages[0].ByteSize()
            if size > MAX_MERGED_BYTES:
                break
            run.append(self._messages.popleft())
        if len(run) == 1:
            return first
        if kind == "launch":
            return pb.MasterMessage(launch=pb.Launch(tasks=[t for m in run for t in m.launch.tasks]))
        return pb.MasterMessage(ack=pb.Acknowledge(task_ids=[i for m in run for i in m.ack.task_ids]))
