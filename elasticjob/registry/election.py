"""Leader election among masters, with ZooKeeper connection states taken seriously.

Each master owns one ephemeral sequential znode under ``/leader/election`` carrying its addresses; the
owner of the lowest sequence number is the leader. Followers watch their predecessor for leadership; every
master also watches the listing to know the other masters (``on_members``): a master joining or leaving
wakes each master once, which is cheap with the few masters an installation has.

Connection states (kazoo calls the listener on its own thread, which must not block, so the listener only
records the state and wakes the election thread):
- SUSPENDED: we cannot know whether the session survives, so we stop acting as leader at once;
- CONNECTED again with the same session: the znode is still ours, leadership is re-evaluated;
- LOST (session expired): the znode is gone; once reconnected we enter the election anew.

Who leads (``leader()``, for ``GET /leader``, a follower's forwarding and the agents' redirects) is kept
in memory from that same watched listing: the leader's znode is read once when it changes, never per
request.

``on_change(is_leader)`` is called from the election thread whenever leadership flips, and
``on_members(others)`` (the election node names of the other masters) whenever their set changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.protocol.states import KeeperState

from elasticjob.registry.layout import Layout
from elasticjob.registry.store import decode, encode

log = logging.getLogger(__name__)

_PREFIX = "n_"
_SAFETY_INTERVAL = 5.0  # seconds between re-evaluations even without any event


@dataclass(frozen=True)
class Fence:
    """The leader's own election znode and its version: checked inside every leader multi-transaction so
    a master that lost its session (and with it the znode) cannot write."""

    path: str
    version: int


def _sequence(name: str) -> int:
    return int(name.rsplit("_", 1)[-1])


def read_leader(
    client: KazooClient, layout: Layout, timeout: float = 5.0
) -> tuple[str, dict[str, Any]] | None:
    """The current leader's election znode name and data, or ``None`` when no master is running.

    Raises kazoo's ``KazooTimeoutError`` when ZooKeeper does not answer within ``timeout`` (e.g. it has
    no quorum): callers answering an HTTP request must not hang for as long as the outage lasts.
    """
    try:
        names = client.get_children_async(layout.election).get(timeout=timeout)
    except NoNodeError:
        return None
    for name in sorted((n for n in names if n.startswith(_PREFIX)), key=_sequence):
        try:
            data, _ = client.get_async(f"{layout.election}/{name}").get(timeout=timeout)
        except NoNodeError:
            continue  # vanished between the listing and the read: the next one is the leader
        return name, decode(data) or {}
    return None


class LeaderElection:
    """Takes part in the election until ``stop()``. Thread-safe; all work happens on its own thread."""

    def __init__(
        self,
        client: KazooClient,
        layout: Layout,
        info: dict[str, Any],
        on_change: Callable[[bool], None] = lambda _: None,
        on_members: Callable[[frozenset[str]], None] = lambda _: None,
    ) -> None:
        self._client = client
        self._layout = layout
        self._info = info
        self._on_change = on_change
        self._on_members = on_members
        self._others: frozenset[str] | None = None  # the last value given to on_members
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._node: str | None = None  # our znode's name, while we believe it exists
        self._leader = False
        self._reported = False  # the last value given to on_change
        self._dropped = False  # set by kazoo's thread when it cleared the flag; reported by ours
        self._suspended = False
        self._fence: Fence | None = None  # see fence()
        self._seen: tuple[str, dict[str, Any]] | None = None  # the leader's node and data, as last listed
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    # ---- public API -------------------------------------------------------------------------------
    def start(self) -> None:
        self._client.add_listener(self._on_state)
        self._thread.start()

    def stop(self) -> None:
        """Leave the election: step down and delete our znode (so a follower takes over at once)."""
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._client.remove_listener(self._on_state)
        self._set_leader(False)
        node = self._node
        if node is not None and self._client.state == KazooState.CONNECTED:
            # If this fails, the session ends right after and the znode goes with it.
            with contextlib.suppress(KazooException):
                self._client.delete(f"{self._layout.election}/{node}")

    @property
    def is_leader(self) -> bool:
        return self._leader

    @property
    def node(self) -> str | None:
        return self._node

    def leader(self) -> tuple[str, dict[str, Any]] | None:
        """The leader's election znode name and data (as ``read_leader``), from memory: kept current by
        the watch on the election's listing. ``None`` while no master leads, and while this master's
        ZooKeeper connection is suspended or lost (it cannot know)."""
        if self._suspended or self._client.state != KazooState.CONNECTED:
            return None
        return self._seen

    def fence(self) -> Fence | None:
        """The fence to include in a leader's writes, or ``None`` when we are not the leader.

        Read from ZooKeeper once per election node and then kept: the scheduler asks for it every cycle,
        and the check inside each transaction is what fences. A write that fails that check calls
        ``forget_fence`` so that the next call reads it again (nobody but a person by hand changes it)."""
        node = self._node
        if not self._leader or node is None:
            return None
        cached = self._fence
        path = f"{self._layout.election}/{node}"
        if cached is not None and cached.path == path:
            return cached
        try:
            stat = self._client.exists(path)
        except KazooException:
            return None
        if stat is None:
            return None
        self._fence = Fence(path, stat.version)
        return self._fence

    def forget_fence(self) -> None:
        """A transaction failed its fence check: read the fence again before the next write."""
        self._fence = None

    # ---- kazoo callbacks: never block ------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        if state == KazooState.SUSPENDED:
            self._suspended = True
            self._set_leader_flag_only(False)
        elif state == KazooState.LOST:
            self._suspended = True
            self._node = None
            self._set_leader_flag_only(False)
        else:
            self._suspended = False
        self._wake.set()

    def _on_watch(self, _event: object) -> None:
        self._wake.set()

    # ---- election thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            if self._dropped:
                # kazoo's thread already cleared the flag; tell the listener before anything else, even
                # if leadership is regained a moment later, so it stops whatever it was doing as leader.
                self._dropped = False
                self._set_leader(False)
            try:
                self._evaluate()
            except KazooException as exc:
                log.warning("leader election: %s; retrying", type(exc).__name__)
                self._set_leader(False)
            except Exception:  # noqa: BLE001 - the election thread must survive anything
                log.exception("leader election failed; retrying")
                self._set_leader(False)
            self._wake.wait(_SAFETY_INTERVAL)

    def _evaluate(self) -> None:
        if self._suspended or self._client.state != KazooState.CONNECTED:
            self._set_leader(False)
            return
        if self._client.client_state != KeeperState.CONNECTED:
            self._set_leader(False)
            return
        listed = self._client.get_children(self._layout.election, watch=self._on_watch)
        names = sorted((n for n in listed if n.startswith(_PREFIX)), key=_sequence)
        self._see(names)
        if self._node is None or self._node not in names:
            if self._node is not None:
                log.warning("our election node %s disappeared; entering the election again", self._node)
            created = self._client.create(
                f"{self._layout.election}/{_PREFIX}", encode(self._info), ephemeral=True, sequence=True
            )
            self._node = created.rsplit("/", 1)[-1]
            self._wake.set()  # evaluate again with the new node in the listing
            return
        self._members(frozenset(names) - {self._node})
        index = names.index(self._node)
        if index == 0:
            if not self._leader:
                self._publish_info()
            self._set_leader(True)
            return
        self._set_leader(False)
        predecessor = f"{self._layout.election}/{names[index - 1]}"
        if self._client.exists(predecessor, watch=self._on_watch) is None:
            self._wake.set()  # it went away before the watch was set: look again

    def _see(self, names: list[str]) -> None:
        """Remember the leader of the listing ``names`` (reading its data when it is another master's
        node not seen before: the data of an election node never changes)."""
        if not names:
            self._seen = None
            return
        first = names[0]
        if first == self._node:
            self._seen = (first, dict(self._info))
        elif self._seen is None or self._seen[0] != first:
            try:
                data, _ = self._client.get(f"{self._layout.election}/{first}")
            except NoNodeError:
                self._seen = None
                self._wake.set()  # gone between the listing and the read: list again
                return
            self._seen = (first, decode(data) or {})

    def _members(self, others: frozenset[str]) -> None:
        if others == self._others:
            return
        self._others = others
        try:
            self._on_members(others)
        except Exception:  # noqa: BLE001 - a listener bug must not break the election
            log.exception("election members listener failed")

    def _publish_info(self) -> None:
        """Write ``/leader/info`` (ephemeral) for tools that want the leader without listing the election."""
        path = self._layout.leader_info
        data = encode({**self._info, "node": self._node})
        try:
            self._client.create(path, data, ephemeral=True)
        except NodeExistsError:
            try:
                self._client.delete(path)
                self._client.create(path, data, ephemeral=True)
            except KazooException:
                log.warning("could not publish %s", path)

    def _set_leader_flag_only(self, value: bool) -> None:
        # Used from kazoo's thread: flip the flag now (so nothing acts as leader a moment longer),
        # the election thread reports the change through on_change.
        self._leader = value
        self._dropped = True

    def _set_leader(self, value: bool) -> None:
        with self._lock:
            changed = value != self._reported
            self._leader = value
            if not changed:
                return
            self._reported = value
        log.info("leadership %s", "acquired" if value else "released")
        try:
            self._on_change(value)
        except Exception:  # noqa: BLE001 - a listener bug must not break the election
            log.exception("leadership listener failed")
