"""JSON values in ZooKeeper with optimistic concurrency.

Every read returns the znode version with the value; every read-modify-write passes that version back,
either to a single ``set``/``delete`` or to a ``Transaction`` (a ZooKeeper multi-op) that commits all of
its operations or none. A version mismatch surfaces as ``VersionConflict`` so callers can re-read and retry
or report a 409. Thread-safe as far as kazoo is (calls may come from any thread).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError

T = TypeVar("T")


class StoreError(Exception):
    """A multi-op or write failed for a reason the caller can act on; ``path`` says where, and ``index``
    which operation of a transaction it was (when known)."""

    def __init__(self, message: str, path: str | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.index = index


class VersionConflict(StoreError):
    """Someone else changed (or created, or deleted) the znode since it was read."""


class NodeMissing(StoreError):
    """The znode does not exist."""


class NodeAlreadyExists(StoreError):
    """The znode to be created exists already."""


@dataclass(frozen=True)
class Versioned:
    """A JSON value as read, with the znode version to pass back for a conditional write."""

    value: Any
    version: int


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def decode(data: bytes) -> Any:
    return json.loads(data) if data else None


class JsonStore:
    """A thin facade over kazoo for JSON znodes (no caching, no business rules)."""

    def __init__(self, client: KazooClient) -> None:
        self.client = client

    def get(self, path: str) -> Versioned | None:
        try:
            data, stat = self.client.get(path)
        except NoNodeError:
            return None
        return Versioned(decode(data), stat.version)

    def exists(self, path: str) -> bool:
        return self.client.exists(path) is not None

    def children(self, path: str) -> list[str]:
        try:
            return sorted(self.client.get_children(path))
        except NoNodeError:
            return []

    def get_all(self, parent: str) -> dict[str, Versioned]:
        """Every child of ``parent`` that still exists when read, keyed by name.

        Reads are issued asynchronously and then collected, so N children cost one round trip of latency
        rather than N.
        """
        names = self.children(parent)
        pending = [(name, self.client.get_async(f"{parent}/{name}")) for name in names]
        result: dict[str, Versioned] = {}
        for name, async_result in pending:
            try:
                data, stat = async_result.get()
            except NoNodeError:
                continue
            result[name] = Versioned(decode(data), stat.version)
        return result

    def ensure_paths(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.client.ensure_path(path)

    def transaction(self) -> Transaction:
        return Transaction(self.client)

    def update(self, path: str, change: Callable[[Any], Any], retries: int = 10) -> Any:
        """Read-modify-write ``path`` with ``change(old) -> new`` until no concurrent writer interferes.

        Raises ``NodeMissing`` if the znode does not exist, ``VersionConflict`` after ``retries`` lost races.
        """
        for _ in range(retries):
            current = self.get(path)
            if current is None:
                raise NodeMissing(f"{path} does not exist", path)
            new = change(current.value)
            try:
                self.client.set(path, encode(new), version=current.version)
            except BadVersionError:
                continue
            except NoNodeError:
                raise NodeMissing(f"{path} does not exist", path) from None
            return new
        raise VersionConflict(f"{path} kept changing; gave up after {retries} attempts", path)


@dataclass(frozen=True, slots=True)
class Write:
    """One operation of a transaction, described so that the writer's own in-memory state can apply it
    once the transaction committed: ``collection`` and ``key`` name the mirrored record it changes (when
    the writer knows them; otherwise the state finds them from the path), ``obj`` is that record as the
    state keeps it (``None``: decoded from ``value``). ``parent``: it creates or deletes the parent znode
    of a two-level collection's children (``key`` is then the parent's name). A ``stamp`` sets a znode
    nobody reads, for its new ``mzxid``: the id of the whole transaction (see ``Transaction.stamp``)."""

    kind: Literal["create", "set", "delete", "check", "stamp"]
    path: str
    value: Any = None
    version: int = -1
    collection: str | None = None
    key: Any = None
    obj: Any = None
    parent: bool = False

    def __call__(self, txn: Transaction) -> Transaction:
        return txn.add(self)


class Transaction:
    """A ZooKeeper multi-op over JSON values: all operations commit together or none does. ``writes``
    describes every operation (for the writer's own state, see ``Write``)."""

    def __init__(self, client: KazooClient) -> None:
        self._txn = client.transaction()
        self.writes: list[Write] = []

    def add(self, write: Write) -> Transaction:
        """Add the operation ``write`` describes (and keep ``write`` in ``writes``)."""
        if write.kind == "create":
            self._txn.create(write.path, encode(write.value) if write.value is not None else b"")
        elif write.kind == "set":
            self._txn.set_data(write.path, encode(write.value), version=write.version)
        elif write.kind == "delete":
            self._txn.delete(write.path, version=write.version)
        elif write.kind == "stamp":
            self._txn.set_data(write.path, b"", version=-1)
        else:
            self._txn.check(write.path, write.version)
        self.writes.append(write)
        return self

    def create(self, path: str, value: Any = None) -> Transaction:
        return self.add(Write("create", path, value))

    def set(self, path: str, value: Any, version: int = -1) -> Transaction:
        return self.add(Write("set", path, value, version))

    def delete(self, path: str, version: int = -1) -> Transaction:
        return self.add(Write("delete", path, version=version))

    def check(self, path: str, version: int) -> Transaction:
        return self.add(Write("check", path, version=version))

    def stamp(self, path: str) -> Transaction:
        """Also set ``path`` (unconditionally, to nothing): its new ``mzxid`` in the commit's results is the
        transaction's id, which orders this transaction's creates and deletes against reads."""
        return self.add(Write("stamp", path))

    def __len__(self) -> int:
        return len(self.writes)

    @property
    def paths(self) -> list[str]:
        """The paths the operations touch, in order (checks and stamps included)."""
        return [w.path for w in self.writes]

    @property
    def written(self) -> list[str]:
        """The paths the operations create, set or delete (not those they only check or stamp)."""
        checked = {w.path for w in self.writes if w.kind in ("check", "stamp")}
        return [w.path for w in self.writes if w.path not in checked]

    def commit(self, expect: Expect | None = None) -> list[Any]:
        """Commit; on failure raise the ``StoreError`` of the first operation that failed. Returns kazoo's
        result of each operation: the path of a create, the new ``ZnodeStat`` of a set, True otherwise.
        ``expect``: see ``commit_async``."""
        return self.commit_async(expect).result()

    def commit_async(self, expect: Expect | None = None) -> PendingCommit:
        """Send the commit and return at once; ``result()`` of what it returns waits for the answer (and
        raises or returns as ``commit`` does). ZooKeeper applies a session's transactions in the order
        they were sent, so several can be in flight at once. ``expect(writes)``, called before sending,
        tells a watcher of this client what is about to be written; the ``Expected`` it returns is told
        whether the transaction committed once its answer is read (or ``abandon``ed)."""
        expected = expect(self.writes) if expect is not None and self.writes else None
        try:
            answer = self._txn.commit_async() if self.writes else None
        except BaseException:
            if expected is not None:
                expected.done(False)
            raise
        return PendingCommit(self, answer, expected)


class Expected:
    """What an ``Expect`` returns: told once whether the transaction it was called for committed."""

    def done(self, committed: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError


Expect = Callable[[list[Write]], Expected]


class PendingCommit:
    """A transaction sent to ZooKeeper, its answer not read yet (see ``Transaction.commit_async``)."""

    def __init__(self, txn: Transaction, answer: Any, expected: Expected | None = None) -> None:
        self.txn = txn
        self._answer = answer
        self._expected = expected

    def result(self) -> list[Any]:
        committed = False
        try:
            results = self._checked()
            committed = True
            return results
        finally:
            self._settle(committed)

    def abandon(self) -> None:
        """The answer will not be read: tell the ``Expected`` the transaction did not (knowingly) commit."""
        self._settle(False)

    def _settle(self, committed: bool) -> None:
        expected, self._expected = self._expected, None
        if expected is not None:
            expected.done(committed)

    def _checked(self) -> list[Any]:
        if self._answer is None:
            return []
        results: list[Any] = self._answer.get()
        for index, (path, result) in enumerate(zip(self.txn.paths, results, strict=True)):
            if isinstance(result, Exception) and not _is_rollback(result):
                error = _translate(result, path)
                error.index = index
                raise error
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:  # only rollback markers: still a failure, say so
            raise StoreError("transaction rolled back", None)
        return results


def _is_rollback(exc: Exception) -> bool:
    # kazoo reports operations that were fine but rolled back because another one failed as
    # RolledBackError (or RuntimeInconsistency in older versions).
    return type(exc).__name__ in {"RolledBackError", "RuntimeInconsistency"}


def _translate(exc: Exception, path: str) -> StoreError:
    if isinstance(exc, BadVersionError):
        return VersionConflict(f"{path} was changed concurrently", path)
    if isinstance(exc, NoNodeError):
        return NodeMissing(f"{path} does not exist", path)
    if isinstance(exc, NodeExistsError):
        return NodeAlreadyExists(f"{path} exists already", path)
    if isinstance(exc, NotEmptyError):
        return VersionConflict(f"{path} gained children concurrently", path)
    return StoreError(f"{path}: {type(exc).__name__}", path)
