"""A watch-driven, in-memory copy of ZooKeeper collections: list once, then apply watch events.

A ``Collection`` is a znode whose children (``depth=1``: ``path/{key}``) or grandchildren (``depth=2``:
``path/{parent}/{child}``, keyed ``(parent, child)``) are mirrored, with their data (``read_data``) or as
presence markers (without). Each collection is followed by one persistent recursive watch on its path
(``watches.py``; ZooKeeper 3.6+): ZooKeeper tells of every znode created, changed or deleted below it, by
path, and the mirror reads what an event names — no listing to learn a new child's name, no watch to set
again after each change. A change costs one event and one read, whatever the collection's size.

Threads. kazoo calls the watch and state callbacks on its own threads; they only put the event on this
mirror's queue and return. One thread of the mirror's own takes events in batches, reads what they name
(asynchronously, pipelined), applies the results under a lock and then tells the listeners which keys
changed. Reads of the mirror (``get``, ``items``, ...) are thread-safe and never touch ZooKeeper.

Ordering. Reads are issued by one thread and applied in the order ZooKeeper answered them, and a read
returns the state at the time it is served, so the mirror never goes back in time for a key.

Read-your-writes. ZooKeeper sends a session the watch events a write triggers before the write's reply,
and kazoo delivers watch callbacks in order on one thread. ``barrier()`` queues a marker behind the watch
callbacks already received and waits until the mirror has applied everything before it: after a write of
this client returns, ``barrier()`` makes the mirror show it (or something newer). A writer that ``hint``s
the paths it wrote has them read at once (``barrier`` covers hinted paths).

Own writes. A write of this master's to a watched collection comes back as a watch event; the writer
applies what it committed at once (``apply``), so reading the znode again would only cost a round trip.
A writer that calls ``expect(writes)`` before sending a transaction has the events of those paths held
until it tells the outcome (``Expected.done``, queued behind the callbacks kazoo already received, so
behind the transaction's own events, which ZooKeeper sends before its reply): when the held events are
exactly as many as the committed writes of a path, they were this master's own and are dropped; any
other count (a failed or unknown outcome, another writer's change in between) reads the path as usual.

Owned collections. A collection only one writer changes (the leader's running tasks, failover entries,
tombstones) can be ``own``ed by that writer: the mirror removes its watch and the owner ``apply``s what
it commits instead, so the leader is neither told of nor reads back what it wrote itself. ``disown``
reads such a collection again and watches it once more. A hinted path of an owned collection is still
read (a write that conflicted refreshes what it was decided on).

Connection loss. kazoo drops every watch when the connection drops, even if the session survives, and
ZooKeeper ends the connection's persistent watches. On SUSPENDED or LOST the mirror stops claiming to be
in sync; once CONNECTED again it watches and re-reads everything (a full resync: ``generation`` goes up,
and keys that disappeared meanwhile are reported as removed).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.protocol.states import Callback, EventType, WatchedEvent

from elasticjob.registry.store import Expected, Write
from elasticjob.registry.tables import Change, Collection, Key, Node, Table, apply_writes, removed, stored
from elasticjob.registry.watches import PersistentWatches, PersistentWatchesUnsupported

log = logging.getLogger(__name__)

_WINDOW = 2_000  # reads in flight at once
_RESYNC = "resync"
_STOP = "stop"


@dataclass
class Stats:
    resyncs: int = 0
    last_resync_seconds: float = 0.0
    batches: int = 0
    reads: int = 0
    lists: int = 0
    own_events: int = 0  # events of this master's own writes dropped unread


Listener = Callable[[list[Change], bool], None]


class _Expected(Expected):
    """An own transaction's paths, settled once (see ``Mirror.expect``)."""

    def __init__(self, mirror: Mirror, paths: list[str]) -> None:
        self._mirror = mirror
        self._paths: list[str] | None = paths

    def done(self, committed: bool) -> None:
        paths, self._paths = self._paths, None
        if paths:
            self._mirror._settle(paths, committed)


class Mirror:
    """The mirror of ``collections`` over ``client``. ``start()`` begins the first full read; ``synced``
    tells whether it completed and no connection loss happened since."""

    def __init__(self, client: KazooClient, collections: Sequence[Collection]) -> None:
        self._client = client
        self._tables = {c.name: Table(c) for c in collections}
        self._by_path = sorted(((c.path, c) for c in collections), key=lambda pc: -len(pc[0]))
        self._lock = threading.RLock()
        self._events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._synced = threading.Event()
        self._listeners: list[Listener] = []
        self._indexers: list[Listener] = []
        self._thread = threading.Thread(target=self._run, name="registry-mirror", daemon=True)
        self._stopped = False
        self.generation = 0
        self.stats = Stats()
        self._owned: set[str] = set()  # collections applied by their single writer, not followed by watches
        self._watches = PersistentWatches.of(client)
        self.failure: PersistentWatchesUnsupported | None = None  # set when the mirror cannot work at all
        # Own writes (see module doc): writes sent, per path (any thread, under the lock); events held and
        # writes committed meanwhile, per path (the mirror's thread only).
        self._expected: dict[str, int] = {}
        self._held: dict[str, int] = {}
        self._committed: dict[str, int] = {}

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._client.add_listener(self._on_state)
        self._thread.start()
        self._events.put(_RESYNC)

    def stop(self) -> None:
        self._stopped = True
        self._client.remove_listener(self._on_state)
        self._events.put(_STOP)
        self._thread.join(timeout=10)

    def subscribe(self, listener: Listener) -> None:
        """``listener(changes, resynced)`` runs on the mirror's thread after each applied batch (``resynced``:
        the batch was a full re-read). It must not block."""
        self._listeners.append(listener)

    def index(self, indexer: Listener) -> None:
        """``indexer(changes, resynced)`` keeps a view derived from the tables current: it is told every
        change, before any listener, those a writer applied without notifying (``apply(notify=False)``)
        included, on the thread that applied them. It must be quick and not block."""
        self._indexers.append(indexer)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait until synced; False on timeout. Raises ``PersistentWatchesUnsupported`` if the server
        cannot follow collections (older than ZooKeeper 3.6): the mirror has then stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.failure is not None:
                raise self.failure
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if self._synced.wait(max(wait, 0.0)):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def hint(self, paths: Iterable[str]) -> None:
        """Read these paths (just written by this client) now, as if their data watches had fired."""
        for path in paths:
            self._events.put(("hint", path))

    # ---- owned collections ---------------------------------------------------------------------------
    def own(self, collections: Iterable[str]) -> None:
        """From now on ``collections`` change only through ``apply`` (and hinted reads); their watches are
        removed (events already on their way are ignored). Waits for ZooKeeper's answers."""
        names = set(collections)
        with self._lock:
            names -= self._owned
            self._owned.update(names)
        for name in names:
            try:
                self._watches.remove(self._tables[name].spec.path)
            except KazooException as exc:  # the watch goes with the connection anyway
                log.info("registry mirror: %s while removing the watch of %s", type(exc).__name__, name)

    def disown(self, collections: Iterable[str]) -> None:
        """Follow ``collections`` by watches again, after reading them anew."""
        names = set(collections)
        with self._lock:
            names &= self._owned
            self._owned -= names
        if names:
            self._events.put(("reread", frozenset(names)))

    def owns(self, collection: str) -> bool:
        return collection in self._owned

    def apply(
        self, writes: Sequence[Write], results: Sequence[Any] | None = None, *, notify: bool = True
    ) -> None:
        """Apply a committed transaction's writes (``results``: kazoo's, one per write) at once, so that the
        writer reads what it wrote without waiting for watches (see ``tables.apply_writes``); what cannot be
        ordered is read again. ``notify``: tell listeners of the changes to collections it does not own (a
        writer that knows what it wrote need not be told); changes to owned collections are always told,
        on the calling thread."""
        if not self._synced.is_set():
            # Being re-read: the re-read may already have passed these records, so read them after it.
            self.hint(w.path for w in writes if w.kind in ("create", "set", "delete") and not w.parent)
            return
        with self._lock:
            done = apply_writes(self._tables, self._owned, self._where, writes, results)
        if done.unordered:
            self.hint(done.unordered)
        self._notify(done.owned + (done.other if notify else []), False, everything=done.owned + done.other)

    def expect(self, writes: Sequence[Write]) -> Expected:
        """Before sending a transaction of ``writes``: hold the watch events of the records it writes until
        the returned ``Expected`` is told whether it committed (see module doc)."""
        paths: list[str] = []
        with self._lock:
            for write in writes:
                if write.kind not in ("create", "set", "delete"):
                    continue
                found = self._where(write)
                if found is None or found[2] or found[0].spec.name in self._owned:
                    continue  # a parent, or a collection its writer applies: no read to save
                self._expected[write.path] = self._expected.get(write.path, 0) + 1
                paths.append(write.path)
        return _Expected(self, paths)

    def _settle(self, paths: list[str], committed: bool) -> None:
        # Behind the callbacks kazoo has received so far: the transaction's own events come first.
        self._client.handler.dispatch_callback(
            Callback("watch", self._events.put, (("settle", paths, committed),))
        )

    def _where(self, write: Write) -> tuple[Table, Key, bool] | None:
        """The table, key and parent flag of a write (from the write when it names them, else its path)."""
        if write.collection is not None:
            return self._tables[write.collection], write.key, write.parent
        found = self._locate(write.path)
        if found is None:
            return None
        table, parts = found
        if len(parts) == table.spec.depth:
            return table, parts[0] if table.spec.depth == 1 else (parts[0], parts[1]), False
        if table.spec.depth == 2 and len(parts) == 1:
            return table, parts[0], True
        return None

    def barrier(self, timeout: float = 10.0) -> bool:
        """Wait until every watch event this client has received so far is applied (see module doc).
        False on timeout."""
        done = threading.Event()
        self._client.handler.dispatch_callback(Callback("watch", self._events.put, (("barrier", done),)))
        return done.wait(timeout)

    # ---- reads (any thread) ----------------------------------------------------------------------------
    def get(self, collection: str, key: Key) -> Node | None:
        return self._tables[collection].nodes.get(key)

    def contains(self, collection: str, key: Key) -> bool:
        return key in self._tables[collection].nodes

    def count(self, collection: str) -> int:
        return len(self._tables[collection].nodes)

    def keys(self, collection: str) -> list[Key]:
        with self._lock:
            table = self._tables[collection]
            return list(table.order) if table.spec.sorted_keys else list(table.nodes)

    def range_nodes(self, collection: str, start: int, stop: int) -> tuple[list[Node], int]:
        """The nodes of sorted keys ``[start:stop]``, and the total count (``sorted_keys`` collections)."""
        with self._lock:
            table = self._tables[collection]
            nodes = table.nodes
            return [nodes[key] for key in table.order[start:stop]], len(table.order)

    def items(self, collection: str) -> list[tuple[Key, Node]]:
        with self._lock:
            return list(self._tables[collection].nodes.items())

    def children(self, collection: str, parent: str) -> list[tuple[str, Node]]:
        """The ``(child, node)`` pairs under ``parent`` of a depth-2 collection."""
        with self._lock:
            table = self._tables[collection]
            return [(c, table.nodes[(parent, c)]) for c in sorted(table.parents.get(parent, ()))]

    def has_parent(self, collection: str, parent: str) -> bool:
        """Whether the parent znode of a depth-2 collection exists (with or without children)."""
        return parent in self._tables[collection].parents

    def parents(self, collection: str, *, empty: bool = False) -> list[str]:
        """The parents of a depth-2 collection that have children (with ``empty``: only those without)."""
        with self._lock:
            return [p for p, children in self._tables[collection].parents.items() if bool(children) != empty]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the mirror still while reading several collections consistently (keep it short)."""
        with self._lock:
            yield

    # ---- kazoo callbacks: never block ------------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            self._synced.clear()
        elif state == KazooState.CONNECTED and not self._stopped:
            self._events.put(_RESYNC)

    def _on_event(self, event: WatchedEvent) -> None:
        if event.type != EventType.NONE and event.path:
            self._events.put(("deleted" if event.type == EventType.DELETED else "changed", event.path))

    # ---- the mirror's thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = [self._events.get()]
            while True:
                try:
                    batch.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                return
            barriers = [item[1] for item in batch if isinstance(item, tuple) and item[0] == "barrier"]
            rereads = {
                name for item in batch if isinstance(item, tuple) and item[0] == "reread" for name in item[1]
            }
            try:
                if _RESYNC in batch:
                    with self._lock:  # everything is read again: only the own writes' counts matter
                        for item in batch:
                            if isinstance(item, tuple) and item[0] == "settle":
                                self._settled(item[1], item[2])
                    self._resync()
                else:
                    if rereads:
                        self._resync(rereads)
                    self._apply_events(
                        [e for e in batch if isinstance(e, tuple) and e[0] not in ("barrier", "reread")]
                    )
            except PersistentWatchesUnsupported as exc:
                log.error("registry mirror: %s", exc)
                self.failure = exc
                return
            except KazooException as exc:
                # Disconnected mid-batch: the state listener schedules a full resync once connected. Any
                # other failure (e.g. no permission on a znode) is retried by a resync after a pause.
                log.warning("registry mirror: %s while reading; resyncing", type(exc).__name__)
                self._synced.clear()
                if self._client.state == KazooState.CONNECTED:
                    self._resync_later(1.0)
            except Exception:  # noqa: BLE001 - the mirror must survive a bug in one batch
                log.exception("registry mirror batch failed; resyncing")
                self._synced.clear()
                self._resync_later(1.0)
            for done in barriers:
                done.set()

    def _resync_later(self, delay: float) -> None:
        timer = threading.Timer(delay, self._events.put, (_RESYNC,))
        timer.daemon = True
        timer.start()

    def _locate(self, path: str) -> tuple[Table, list[str]] | None:
        """The table a path belongs to and the path's segments below the collection's path."""
        for prefix, spec in self._by_path:
            if path == prefix:
                return self._tables[spec.name], []
            if path.startswith(prefix + "/"):
                return self._tables[spec.name], path[len(prefix) + 1 :].split("/")
        return None

    def _apply_events(self, events: list[tuple[Any, ...]]) -> None:
        """Apply a batch of ``(kind, path)`` events (``changed``, ``deleted``, ``hint``) and ``settle``s of
        own writes, in order: a record's path is read (a deleted one reads as gone), a two-level
        collection's parent is noted or dropped; the events of an own write are held until it settles."""
        reads: dict[str, tuple[Table, Key]] = {}
        hinted = {e[1] for e in events if e[0] == "hint"}
        changes: list[Change] = []
        with self._lock:
            for event in events:
                if event[0] == "settle":
                    for path in self._settled(event[1], event[2]):
                        self._note(("changed", path), reads, changes)
                    continue
                if event[0] != "hint" and event[1] in self._expected:
                    self._held[event[1]] = self._held.get(event[1], 0) + 1
                    continue
                self._note(event, reads, changes)
        for path, (table, key), result in self._pipelined(reads, lambda p, _tk: self._client.get_async(p)):
            with self._lock:
                if table.spec.name not in self._owned or path in hinted:
                    self._apply_read(table, key, result, changes)
        self.stats.batches += 1
        self._notify(changes, False)

    def _note(
        self, event: tuple[str, str], reads: dict[str, tuple[Table, Key]], changes: list[Change]
    ) -> None:
        """One event: a parent's is applied, a record's path goes to ``reads``."""
        kind, path = event
        found = self._locate(path)
        if found is None:
            return
        table, parts = found
        if table.spec.name in self._owned and kind != "hint":
            return  # its writer applies it
        if table.spec.depth == 2 and len(parts) == 1:
            self._apply_parent(table, parts[0], kind, changes)
        elif len(parts) == table.spec.depth:
            reads[path] = (table, parts[0] if table.spec.depth == 1 else (parts[0], parts[1]))

    def _settled(self, paths: list[str], committed: bool) -> list[str]:
        """An own transaction of ``paths`` settled (see module doc): the paths whose held events must be
        read after all (not just this master's own committed writes)."""
        unexplained: list[str] = []
        for path in paths:
            if committed:
                self._committed[path] = self._committed.get(path, 0) + 1
            left = self._expected.get(path, 1) - 1
            if left > 0:
                self._expected[path] = left
                continue
            self._expected.pop(path, None)
            held, mine = self._held.pop(path, 0), self._committed.pop(path, 0)
            if held != mine:
                unexplained.append(path)
            else:
                self.stats.own_events += held
        return unexplained

    @staticmethod
    def _apply_parent(table: Table, parent: str, kind: str, changes: list[Change]) -> None:
        if kind == "changed":
            table.parents.setdefault(parent, set())
        elif kind == "deleted":
            # ZooKeeper deletes only an empty parent: its children's deletions came first. Any left here
            # were missed (an owned collection disowned meanwhile): gone with it.
            for child in list(table.parents.get(parent, ())):
                removed(table, (parent, child), changes)
            table.parents.pop(parent, None)

    def _pipelined(
        self, requests: dict[str, Any], issue: Callable[[str, Any], Any]
    ) -> list[tuple[str, Any, Any]]:
        """Issue ``issue(path, info)`` for every request, at most ``_WINDOW`` in flight; return
        ``(path, info, result or exception)`` in the order issued (= the order ZooKeeper served them)."""
        results: list[tuple[str, Any, Any]] = []
        pending: list[tuple[str, Any, Any]] = []
        for path, info in requests.items():
            pending.append((path, info, issue(path, info)))
            if len(pending) >= _WINDOW:
                results.extend(self._collect(pending))
                pending = []
        results.extend(self._collect(pending))
        return results

    @staticmethod
    def _collect(pending: list[tuple[str, Any, Any]]) -> Iterator[tuple[str, Any, Any]]:
        for path, info, async_result in pending:
            try:
                yield path, info, async_result.get()
            except NoNodeError as exc:
                yield path, info, exc

    def _apply_read(self, table: Table, key: Key, result: Any, changes: list[Change]) -> None:
        self.stats.reads += 1
        if isinstance(result, Exception):
            removed(table, key, changes)
            return
        data, stat = result
        old = table.nodes.get(key)
        if old is not None and old.mzxid >= stat.mzxid:
            return  # read again (a hint, or a watch of this master's own write): nothing newer
        gone = table.gone.get(key)
        if gone is not None:
            if stat.mzxid <= gone[0]:
                return  # read before this master deleted it
            del table.gone[key]
        try:
            value = table.spec.decode(key, data) if table.spec.read_data else None
        except Exception as exc:  # noqa: BLE001 - one bad znode must not stop the mirror
            log.error("%s %s in ZooKeeper cannot be read (%s); left out", table.spec.name, key, exc)
            removed(table, key, changes)
            return
        stored(table, key, Node(value, stat.version, stat.mzxid), changes)

    def _resync(self, only: set[str] | None = None) -> None:
        """Read everything (or the ``only`` collections) again, watches re-armed, then replace the tables:
        removed keys are reported. A full resync makes the mirror synced and bumps ``generation``."""
        full = only is None
        if full:
            self._synced.clear()
        started = time.monotonic()
        names = set(self._tables) if only is None else only
        fresh = {name: Table(self._tables[name].spec) for name in names}
        for table in fresh.values():
            self._load(table)
        changes: list[Change] = []
        with self._lock:
            for name, new in fresh.items():
                old = self._tables[name]
                for key, node in old.nodes.items():
                    if key not in new.nodes:
                        changes.append(Change(name, key, node, None))
                for key, node in new.nodes.items():
                    before = old.nodes.get(key)
                    if before is None or before.mzxid != node.mzxid:
                        changes.append(Change(name, key, before, node))
                self._tables[name] = new
            if full:
                self.generation += 1
        if not full:
            log.info("registry mirror re-read %s", ", ".join(f"{n} {len(t.nodes)}" for n, t in fresh.items()))
            self._notify(changes, False)
            return
        self.stats.resyncs += 1
        self.stats.last_resync_seconds = time.monotonic() - started
        log.info(
            "registry mirror synced in %.1fs: %s",
            self.stats.last_resync_seconds,
            ", ".join(f"{n} {len(t.nodes)}" for n, t in fresh.items()),
        )
        self._synced.set()
        self._notify(changes, True)

    def _load(self, table: Table) -> None:
        """Read the collection whole: its watch first (unless owned), so that no change after the read
        goes untold — a change the read already saw is read once more, and applied as nothing new."""
        spec = table.spec
        if spec.name not in self._owned:
            self._watches.add(spec.path, self._on_event)
        try:
            names = self._client.get_children(spec.path)
        except NoNodeError:
            return
        self.stats.lists += 1
        changes: list[Change] = []
        reads: dict[str, tuple[Table, Key]] = {}
        if spec.depth == 2:
            lists = {f"{spec.path}/{name}": (table, name) for name in names}
            for path, (_, parent), result in self._pipelined(
                lists, lambda p, _tp: self._client.get_children_async(p)
            ):
                if not isinstance(result, Exception):
                    table.parents.setdefault(parent, set())
                    for child in result:
                        if spec.read_data:
                            reads[f"{path}/{child}"] = (table, (parent, child))
                        else:
                            stored(table, (parent, child), Node(None, 0), changes)
        else:
            for name in names:
                if spec.read_data:
                    reads[f"{spec.path}/{name}"] = (table, name)
                else:
                    stored(table, name, Node(None, 0), changes)
        for _path, (_, key), result in self._pipelined(reads, lambda p, _tk: self._client.get_async(p)):
            self._apply_read(table, key, result, changes)

    def _notify(self, changes: list[Change], resynced: bool, everything: list[Change] | None = None) -> None:
        told = changes if everything is None else everything
        if told or resynced:
            for indexer in self._indexers:
                try:
                    indexer(told, resynced)
                except Exception:  # noqa: BLE001 - an indexer bug must not stop the mirror
                    log.exception("registry mirror indexer failed")
        if not changes and not resynced:
            return
        for listener in self._listeners:
            try:
                listener(changes, resynced)
            except Exception:  # noqa: BLE001 - a listener bug must not stop the mirror
                log.exception("registry mirror listener failed")
