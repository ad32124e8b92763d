"""Persistent recursive watches (ZooKeeper 3.6+ ``addWatch``) for kazoo, which has none (python-zk/kazoo#715).

One persistent recursive watch on a path tells of every change below it — each znode created, changed or
deleted, with its path — until it is removed or the connection drops, without being set again. A mirror
that follows a collection this way needs no children listing to learn a new child's name and no watch per
znode: a change costs ZooKeeper one event, and the mirror one read (none for a deletion).

How it fits into kazoo. Requests are kazoo request tuples sent with the client's own ``_call`` (``AddWatch``,
opcode 106; ``RemoveWatches``, opcode 18). kazoo drops watch events it holds no one-shot watcher for, so
``PersistentWatches`` wraps the connection's ``_read_watch_event``: every event still goes to kazoo first
(its one-shot watchers fire as before), and an event below a persistent root is also handed to that root's
callback through ``handler.dispatch_callback`` — the thread and order of every other watch callback, so
that a barrier queued behind them (``Mirror.barrier``) still comes after them. This leans on kazoo's
internals (``_call``, ``_connection._read_watch_event``, ``handler``): kazoo is pinned, and
``tests/integration/test_registry_watches.py`` checks the behaviour against a real server.

A connection drop ends the server's watches (kazoo does not send ``SetWatches`` on reconnect): the owner
adds them again once connected (the mirror does so in its re-read), before reading what they cover.

Thread-safety: ``add``/``remove`` may be called from any thread except kazoo's own (they wait for the
answer); callbacks run on kazoo's callback thread and must not block.
"""

from __future__ import annotations

import logging
import threading
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError, UnimplementedError
from kazoo.protocol.serialization import Watch, int_struct, write_string
from kazoo.protocol.states import EVENT_TYPE_MAP, Callback, WatchedEvent

log = logging.getLogger(__name__)

PERSISTENT_RECURSIVE = 1  # AddWatchMode.PERSISTENT_RECURSIVE
_PERSISTENT_RECURSIVE_WATCHER_TYPE = 5  # WatcherType.PersistentRecursive, for removeWatches
REQUEST_TIMEOUT = 15.0

Listener = Callable[[WatchedEvent], None]


class PersistentWatchesUnsupported(KazooException):
    """The ZooKeeper server does not know ``addWatch`` (it is older than 3.6)."""


class AddWatch(namedtuple("AddWatch", "path mode")):
    type = 106

    def serialize(self) -> bytearray:
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(int_struct.pack(self.mode))
        return b

    @classmethod
    def deserialize(cls, _bytes: bytes, _offset: int) -> bool:
        return True


class RemoveWatches(namedtuple("RemoveWatches", "path watcher_type")):
    type = 18

    def serialize(self) -> bytearray:
        b = bytearray()
        b.extend(write_string(self.path))
        b.extend(int_struct.pack(self.watcher_type))
        return b

    @classmethod
    def deserialize(cls, _bytes: bytes, _offset: int) -> bool:
        return True


class PersistentWatches:
    """The persistent recursive watches of one kazoo client; get it with ``PersistentWatches.of(client)``."""

    _install_lock = threading.Lock()

    def __init__(self, client: KazooClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._roots: dict[str, Listener] = {}  # server-side path -> callback
        connection = client._connection
        original = connection._read_watch_event

        def read_watch_event(buffer: bytes, offset: int) -> Any:
            result = original(buffer, offset)  # kazoo's own one-shot watchers first
            self._dispatch(buffer, offset)
            return result

        connection._read_watch_event = read_watch_event

    @classmethod
    def of(cls, client: KazooClient) -> PersistentWatches:
        """The (one) instance for ``client``, installed on first use."""
        with cls._install_lock:
            found = getattr(client, "_elasticjob_persistent_watches", None)
            if found is None:
                found = cls(client)
                client._elasticjob_persistent_watches = found
            return found

    def add(self, path: str, listener: Listener) -> None:
        """Watch ``path`` and everything below it (events for paths below it are delivered as they come;
        ``path`` need not exist). Replaces an earlier listener of the same path. Raises
        ``PersistentWatchesUnsupported`` on a server older than 3.6, kazoo's errors otherwise."""
        server_path = self._server_path(path)
        with self._lock:  # registered first: an event may come before the answer
            self._roots[server_path] = listener
        try:
            self._request(AddWatch(server_path, PERSISTENT_RECURSIVE))
        except UnimplementedError:
            with self._lock:
                self._roots.pop(server_path, None)
            raise PersistentWatchesUnsupported(
                f"ZooKeeper at {self._client.hosts} does not support persistent watches (addWatch): "
                "version 3.6 or newer is needed"
            ) from None
        except BaseException:
            with self._lock:
                self._roots.pop(server_path, None)
            raise

    def remove(self, path: str) -> None:
        """Stop watching ``path`` (events already received may still be delivered). Never raises for a
        watch the server no longer has (after a connection drop, say)."""
        server_path = self._server_path(path)
        with self._lock:
            had = self._roots.pop(server_path, None) is not None
        if not had:
            return
        try:
            self._request(RemoveWatches(server_path, _PERSISTENT_RECURSIVE_WATCHER_TYPE))
        except (NoNodeError, KazooException) as exc:
            log.debug("removing the watch of %s: %s", path, exc)

    def watching(self, path: str) -> bool:
        with self._lock:
            return self._server_path(path) in self._roots

    def _request(self, request: Any) -> None:
        answer = self._client.handler.async_result()
        self._client._call(request, answer)
        answer.get(timeout=REQUEST_TIMEOUT)

    def _server_path(self, path: str) -> str:
        chroot = self._client.chroot
        return f"{chroot}{path}" if chroot else path

    def _dispatch(self, buffer: bytes, offset: int) -> None:
        """On kazoo's connection thread: hand an event below a persistent root to that root's listener."""
        with self._lock:
            if not self._roots:
                return
            roots = list(self._roots.items())
        watch, _ = Watch.deserialize(buffer, offset)
        event_type = EVENT_TYPE_MAP.get(watch.type)
        if event_type is None:
            return
        path: str = watch.path
        listeners = [cb for root, cb in roots if path == root or path.startswith(root + "/")]
        if not listeners or self._client._stopped.is_set():
            return
        event = WatchedEvent(event_type, self._client._state, self._client.unchroot(path))
        for listener in listeners:
            self._client.handler.dispatch_callback(Callback("watch", listener, (event,)))
