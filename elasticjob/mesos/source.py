"""``MesosOfferSource``: ElasticJob as a Mesos framework on the v1 scheduler HTTP API, over httpx.

Concurrency model: threads (as the rest of the master), started while this master leads:

- "mesos-subscriber" holds the SUBSCRIBE stream: reads RecordIO events, updates the ``OfferBook`` and tells
  the scheduler (``OfferEvents``, which never block). When the stream ends or fails it forgets its offers
  and subscribes again after a backoff (0.5 s doubling to 30 s), with the framework id it had, then
  RECONCILEs every task of ours it believes on Mesos (the state's running tasks on ``mesos-`` agents).
- "mesos-calls" makes every other call (ACCEPT, DECLINE, KILL, ACKNOWLEDGE, RECONCILE) from a queue, each
  with the stream's ``Mesos-Stream-Id`` on a connection of its own, and declines offers the scheduler left
  unused for ``offer_hold`` seconds (with ``refuse_seconds`` as the filter).

``agents``/``send`` are the scheduler's (any thread): they never block on the network. A launch onto an
agent with no offer held (or tasks that do not fit what it offers) is answered at once with a LOST,
not-started status: the shard is queued again.

Acknowledgements: a non-terminal update is acknowledged when it is read; a terminal one when the
scheduler acknowledges it (after recording it), so a leader that dies first leaves it to Mesos to resend
to the next one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from elasticjob.mesos import mapping, messages
from elasticjob.mesos.book import OfferBook
from elasticjob.mesos.messages import FrameworkInfo, Json
from elasticjob.model.running import RunningTask
from elasticjob.model.task import TaskId
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.scheduler.ports import OfferEvents
from elasticjob.scheduler.snapshot import AgentView

log = logging.getLogger(__name__)

BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
EPSILON = 1e-6


@dataclass(frozen=True)
class MesosConfig:
    master: str  # http://HOST:5050
    framework: FrameworkInfo = FrameworkInfo()
    refuse_seconds: float = 5.0  # filter of DECLINEs (and what ACCEPTs leave unused)
    offer_hold: float = 1.0  # seconds an offer the scheduler has not used is kept before it is declined
    timeout: float = 10.0  # connect/write timeout of every call; read timeout of calls
    stream_timeout: float = 60.0  # read timeout of the stream (Mesos heartbeats every 15 s by default)

    def __post_init__(self) -> None:
        if not self.master.startswith(("http://", "https://")):
            raise ValueError(f"--mesos-master must be an http:// or https:// URL (got {self.master!r})")
        if not 0 <= self.refuse_seconds <= 86400:
            raise ValueError(f"--mesos-refuse-seconds must be from 0 to 86400 (got {self.refuse_seconds:g})")


class FrameworkIds:
    """Where the framework id is kept between subscriptions and leaders (ZooKeeper in the master)."""

    def __init__(self, load: Callable[[], str | None] = lambda: None,
                 save: Callable[[str | None], None] = lambda _id: None) -> None:
        self.load = load
        self.save = save


class MesosOfferSource:
    """An ``OfferSource`` on Mesos. ``running()`` answers the tasks the master's state holds (the book
    tells its agents from them, and re-subscriptions reconcile them)."""

    def __init__(
        self,
        config: MesosConfig,
        events: OfferEvents,
        running: Callable[[], Iterable[RunningTask]],
        framework_ids: FrameworkIds | None = None,
    ) -> None:
        self.config = config
        self.events = events
        self.running = running
        self.ids = framework_ids or FrameworkIds()
        self.book = OfferBook()
        self._base = config.master.rstrip("/")
        self._lock = threading.Lock()
        self._framework_id: str | None = None
        self._stream_id: str | None = None
        self._calls: queue.Queue[tuple[Json, Callable[[int], None] | None] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._response: httpx.Response | None = None  # the stream's (closed to stop it)
        self.subscriptions = 0  # SUBSCRIBED events received (for tests and logs)

    # ---- OfferSource -----------------------------------------------------------------------------
    def owns(self, agent_id: str) -> bool:
        return agent_id.startswith(mapping.AGENT_PREFIX)

    def agents(self) -> dict[str, AgentView]:
        return self.book.views(self.running())

    @property
    def subscribed(self) -> bool:
        return self._stream_id is not None

    @property
    def framework_id(self) -> str | None:
        return self._framework_id

    def send(self, agent_id: str, message: pb.MasterMessage) -> bool:
        kind = message.WhichOneof("body")
        framework_id, subscribed = self._framework_id, self.subscribed
        mesos_agent = mapping.mesos_agent_id(agent_id)
        if mesos_agent is None:
            return False
        if kind == "launch":
            self._launch(agent_id, mesos_agent, list(message.launch.tasks))
            return True
        if not subscribed or framework_id is None:
            return False
        if kind == "kill":
            self._queue(messages.kill(framework_id, message.kill.task_id, mesos_agent))
        elif kind == "ack":
            for task_id, held_agent, uuid in self.book.release_acks(message.ack.task_ids):
                self._queue(messages.acknowledge(framework_id, held_agent, task_id, uuid))
        return True

    def leading(self, leader: bool) -> None:
        if leader and not self._threads:
            # A stop event per leadership term: threads of an earlier term that are still blocked in a read
            # see their own event set, and never touch this term's state.
            self._stop = stop = threading.Event()
            self._threads = [
                threading.Thread(target=self._subscribe_loop, args=(stop,), name="mesos-subscriber",
                                 daemon=True),
                threading.Thread(target=self._calls_loop, args=(stop,), name="mesos-calls", daemon=True),
            ]
            for thread in self._threads:
                thread.start()
        elif not leader and self._threads:
            self._halt()

    def close(self) -> None:
        self._halt()

    def _halt(self) -> None:
        self._stop.set()
        self._calls.put(None)
        response = self._response
        if response is not None:
            # Ends the subscriber's read at once; closing from another thread may race, it ends anyway.
            with contextlib.suppress(Exception):
                response.close()
        # A read blocked in the stream ends at its next event or timeout (its thread is a daemon, and its
        # stop event is set): not waited for long.
        for thread in self._threads:
            thread.join(timeout=1.0)
        self._threads = []
        self._stream_id = None
        self.book.clear()
        self.book.drop_acks()
        self._calls = queue.Queue()

    # ---- launches --------------------------------------------------------------------------------
    def _launch(self, agent_id: str, mesos_agent: str, specs: list[pb.TaskSpec]) -> None:
        framework_id = self._framework_id
        offers = self.book.take(mesos_agent) if self.subscribed and framework_id else []
        if not offers:
            for spec in specs:
                self.events.task_status(agent_id, mapping.not_launched(
                    spec.task_id, spec.firing_id, f"no offer of Mesos agent {mesos_agent} is held"))
            return
        assert framework_id is not None
        cpus = sum(o.cpus for o in offers)
        mem = sum(o.mem_mb for o in offers)
        infos, placed = [], []
        for spec in specs:
            need_cpus, need_mem = spec.resources.cpus, spec.resources.mem_mb
            if need_cpus > cpus + EPSILON or need_mem > mem + EPSILON:
                self.events.task_status(agent_id, mapping.not_launched(
                    spec.task_id, spec.firing_id,
                    f"Mesos agent {mesos_agent} offers {cpus:g} CPUs and {mem:g} MB, the task needs "
                    f"{need_cpus:g} and {need_mem:g}"))
                continue
            cpus, mem = cpus - need_cpus, mem - need_mem
            infos.append(mapping.task_info(spec, mesos_agent, self._role()))
            placed.append(spec)
        offer_ids = [o.offer_id for o in offers]
        if not infos:
            self._queue(messages.decline(framework_id, offer_ids, self.config.refuse_seconds))
            return

        def refused(status: int) -> None:
            if status >= 400:  # Mesos refused the call itself: nothing was launched
                for spec in placed:
                    self.events.task_status(agent_id, mapping.not_launched(
                        spec.task_id, spec.firing_id, f"Mesos answered ACCEPT with HTTP {status}"))

        self._queue(messages.accept(framework_id, offer_ids, infos, self.config.refuse_seconds), refused)
        log.info("launching %d task(s) on Mesos agent %s (offers %s)", len(infos), mesos_agent,
                 ", ".join(offer_ids))

    def _role(self) -> str | None:
        roles = self.config.framework.roles
        return roles[0] if roles else None

    def _queue(self, call: Json, then: Callable[[int], None] | None = None) -> None:
        self._calls.put((call, then))

    # ---- the calls thread ------------------------------------------------------------------------
    def _calls_loop(self, stop: threading.Event) -> None:
        calls = self._calls
        timeout = httpx.Timeout(self.config.timeout)
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    item = calls.get(timeout=min(0.25, self.config.offer_hold))
                except queue.Empty:
                    item = None
                    self._decline_expired()
                    continue
                if item is None:
                    continue
                self._decline_expired()
                call, then = item
                status = self._post(client, call)
                if then is not None:
                    try:
                        then(status)
                    except Exception:  # noqa: BLE001 - a bug in a callback must not end the thread
                        log.exception("Mesos call callback failed")

    def _decline_expired(self) -> None:
        framework_id = self._framework_id
        old = self.book.expire(self.config.offer_hold)
        if old and framework_id and self.subscribed:
            self._calls.put((messages.decline(framework_id, old, self.config.refuse_seconds), None))

    def _post(self, client: httpx.Client, call: Json) -> int:
        """POST one call; its HTTP status (0: not sent, or no answer)."""
        stream_id = self._stream_id
        if stream_id is None:
            log.info("Mesos %s not sent: not subscribed", call.get("type"))
            return 0
        try:
            response = client.post(
                self._base + messages.SCHEDULER_PATH,
                json=call,
                headers={messages.STREAM_ID_HEADER: stream_id, "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            log.warning("Mesos %s failed: %s", call.get("type"), exc)
            return 0
        if response.status_code >= 400:
            log.warning("Mesos answered %s with HTTP %d: %s", call.get("type"), response.status_code,
                        response.text[:300])
        return response.status_code

    # ---- the subscription thread -----------------------------------------------------------------
    def _subscribe_loop(self, stop: threading.Event) -> None:
        failures = 0
        if self._framework_id is None:
            try:
                self._framework_id = self.ids.load()
            except Exception as exc:  # noqa: BLE001 - ZooKeeper unavailable: subscribe, maybe as a new one
                log.warning("cannot read the Mesos framework id: %s", exc)
        while not stop.is_set():
            subscribed_before = self.subscriptions
            try:
                self._subscribe_once(stop)
            except (httpx.HTTPError, messages.RecordIOError, ValueError) as exc:
                if not stop.is_set():
                    log.warning("Mesos subscription to %s ended: %s", self._base, exc)
            except Exception:  # noqa: BLE001 - a bug must not end the subscription for good
                log.exception("Mesos subscription failed")
            if stop.is_set():
                break  # ``_halt`` forgot this term's state
            self._stream_id = None
            self._response = None
            dropped = self.book.clear()
            if dropped:
                log.info("forgot %d Mesos offer(s) with the subscription", len(dropped))
            failures = 0 if self.subscriptions > subscribed_before else failures + 1
            delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
            stop.wait(delay)

    def _subscribe_once(self, stop: threading.Event) -> None:
        call = messages.subscribe(self.config.framework, self._framework_id)
        timeout = httpx.Timeout(self.config.timeout, read=self.config.stream_timeout)
        url = self._base + messages.SCHEDULER_PATH
        headers = {"Accept": "application/json"}
        with httpx.Client(timeout=timeout) as client, client.stream(
            "POST", url, json=call, headers=headers
        ) as response:
            if response.status_code == 307 and response.headers.get("Location"):
                self._redirect(response.headers["Location"])
                return
            if response.status_code != 200:
                body = response.read().decode(errors="replace")[:300]
                raise ValueError(f"SUBSCRIBE answered HTTP {response.status_code}: {body}")
            stream_id = response.headers.get(messages.STREAM_ID_HEADER)
            if not stream_id:
                raise ValueError(f"SUBSCRIBE answer has no {messages.STREAM_ID_HEADER} header")
            self._response = response
            decoder = messages.RecordIO()
            for chunk in response.iter_raw():
                for record in decoder.feed(chunk):
                    if stop.is_set():
                        return
                    self._handle(messages_json(record), stream_id)

    def _redirect(self, location: str) -> None:
        """A Mesos master that does not lead answers 307 naming the leader (``//host:port/...``)."""
        target = location if "://" in location else f"{self._base.split('://')[0]}:{location}"
        base = target.split(messages.SCHEDULER_PATH)[0].rstrip("/")
        log.info("Mesos master %s is not the leader; subscribing to %s", self._base, base)
        self._base = base

    # ---- events ----------------------------------------------------------------------------------
    def _handle(self, event: Json, stream_id: str) -> None:
        kind = event.get("type")
        if kind == messages.SUBSCRIBED:
            self._subscribed(event, stream_id)
        elif kind == messages.OFFERS:
            offers = []
            for raw in event.get("offers", {}).get("offers", []):
                try:
                    offers.append(messages.parse_offer(raw))
                except ValueError as exc:
                    log.warning("Mesos: %s", exc)
            if offers:
                self.book.add(offers)
                self.events.capacity_changed()
        elif kind == messages.RESCIND:
            offer_id = event.get("rescind", {}).get("offer_id", {}).get("value", "")
            self.book.rescind(offer_id)
        elif kind == messages.UPDATE:
            self._update(event)
        elif kind == messages.FAILURE:
            failure = event.get("failure", {})
            mesos_agent = failure.get("agent_id", {}).get("value")
            if mesos_agent and "executor_id" not in failure:  # the agent failed, not just an executor
                log.warning("Mesos agent %s failed", mesos_agent)
                self.book.failed(mesos_agent)
                self.events.agent_disconnected(mapping.our_agent_id(mesos_agent))
        elif kind == messages.ERROR:
            text = event.get("error", {}).get("message", "")
            log.error("Mesos ERROR event: %s", text)
            if "removed" in text.lower():
                # The framework is gone for Mesos (torn down, or its failover timeout passed): subscribing
                # again with its id would be refused for ever. ("Framework failed over": another scheduler
                # took it over; the id stays ours to retry with.)
                self._forget_framework()
            raise ValueError(f"Mesos sent ERROR: {text}")
        elif kind == messages.HEARTBEAT:
            pass
        else:
            log.debug("Mesos event %s ignored", kind)

    def _subscribed(self, event: Json, stream_id: str) -> None:
        body = event.get("subscribed", {})
        framework_id = body.get("framework_id", {}).get("value")
        if not framework_id:
            raise ValueError("SUBSCRIBED without a framework id")
        resubscribed = framework_id == self._framework_id
        self._framework_id = framework_id
        self._stream_id = stream_id
        self.subscriptions += 1
        self.book.drop_acks()  # Mesos resends every unacknowledged update to this subscription
        log.info("subscribed to Mesos at %s as framework %s%s", self._base, framework_id,
                 " (again)" if resubscribed else "")
        if not resubscribed:
            try:
                self.ids.save(framework_id)
            except Exception as exc:  # noqa: BLE001 - kept in memory; the next leader subscribes anew
                log.warning("cannot store the Mesos framework id: %s", exc)
        tasks = [(t.task_id, mapping.mesos_agent_id(t.agent_id)) for t in self.running()
                 if t.agent_id.startswith(mapping.AGENT_PREFIX)]
        if tasks:
            log.info("reconciling %d task(s) with Mesos", len(tasks))
            self._queue(messages.reconcile(framework_id, tasks))

    def _forget_framework(self) -> None:
        self._framework_id = None
        try:
            self.ids.save(None)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot clear the Mesos framework id: %s", exc)

    def _update(self, event: Json) -> None:
        try:
            update = messages.parse_update(event)
        except ValueError as exc:
            log.warning("Mesos: %s", exc)
            return
        mesos_agent = update.agent_id or self._agent_of(update.task_id)
        if not mesos_agent:
            log.warning("Mesos update of task %s names no agent; ignored", update.task_id)
            return
        agent_id = mapping.our_agent_id(mesos_agent)
        firing = next((t.firing_id for t in self.running() if t.task_id == update.task_id), "")
        status = mapping.status_of(update, firing)
        framework_id = self._framework_id
        if update.uuid and framework_id:
            if status.state.terminal:
                self.book.hold_ack(update.task_id, mesos_agent, update.uuid)
            else:
                self._queue(messages.acknowledge(framework_id, mesos_agent, update.task_id, update.uuid))
        self.events.task_status(agent_id, status)

    def _agent_of(self, task_id: str) -> str | None:
        """The Mesos agent a task was launched to, from its id (an update may not name it)."""
        try:
            return mapping.mesos_agent_id(TaskId.parse(task_id).agent_id)
        except ValueError:
            return None


def messages_json(record: bytes) -> Any:
    try:
        value = json.loads(record)
    except ValueError as exc:
        raise ValueError(f"a Mesos event that is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a Mesos event that is not a JSON object")
    return value
