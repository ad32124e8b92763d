"""The mirror's tables — what it keeps of each collection — and how a writer's own committed writes are
applied to them (``apply_writes``), ordered against the mirror's reads by ZooKeeper's zxids."""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kazoo.protocol.states import ZnodeStat

from elasticjob.registry.store import Write, encode

Key = Any  # str for depth-1 collections, (parent, child) for depth 2
_GONE_FOR = 60.0  # seconds a deleted key stays remembered: reads in flight are long answered by then


def _raw(_key: Key, data: bytes) -> bytes:
    return data


@dataclass(frozen=True)
class Collection:
    """What to mirror. ``decode(key, data)`` turns a znode's bytes into the stored object, once, on the
    mirror's thread; an exception leaves the key out (logged). ``sorted_keys`` keeps the keys in order for
    paging (depth 1 only)."""

    name: str
    path: str
    depth: int = 1
    read_data: bool = True
    decode: Callable[[Key, bytes], Any] = _raw
    sorted_keys: bool = False

    def __post_init__(self) -> None:
        if self.depth not in (1, 2):
            raise ValueError("depth must be 1 or 2")
        if self.sorted_keys and self.depth != 1:
            raise ValueError("sorted_keys needs depth 1")


@dataclass(frozen=True, slots=True)
class Node:
    value: Any  # the decoded object (None for presence markers)
    version: int
    mzxid: int = 0  # ZooKeeper's id of the write that made this value (0: a marker, or applied by its writer)


@dataclass(frozen=True, slots=True)
class Change:
    collection: str
    key: Key
    old: Node | None
    new: Node | None


@dataclass
class Table:
    spec: Collection
    nodes: dict[Key, Node] = field(default_factory=dict)
    parents: dict[str, set[str]] = field(default_factory=dict)  # depth 2: every parent -> its children
    order: list[str] = field(default_factory=list)  # sorted keys, when spec.sorted_keys
    # Keys this master deleted: (the deletion's zxid, when); a read older than the deletion is ignored.
    gone: dict[Key, tuple[int, float]] = field(default_factory=dict)

    def put(self, key: Key, node: Node) -> Node | None:
        old = self.nodes.get(key)
        self.nodes[key] = node
        if old is None:
            if self.spec.depth == 2:
                self.parents.setdefault(key[0], set()).add(key[1])
            if self.spec.sorted_keys:
                insort(self.order, key)
        return old

    def remove(self, key: Key) -> Node | None:
        old = self.nodes.pop(key, None)
        if old is not None:
            if self.spec.depth == 2:
                children = self.parents.get(key[0])
                if children is not None:
                    children.discard(key[1])
            if self.spec.sorted_keys:
                index = bisect_left(self.order, key)
                if index < len(self.order) and self.order[index] == key:
                    del self.order[index]
        return old


def stored(table: Table, key: Key, node: Node, changes: list[Change]) -> None:
    old = table.put(key, node)
    changes.append(Change(table.spec.name, key, old, node))


def removed(table: Table, key: Key, changes: list[Change]) -> None:
    old = table.remove(key)
    if old is not None:
        changes.append(Change(table.spec.name, key, old, None))


@dataclass
class Applied:
    """What ``apply_writes`` did: changes to owned and to other collections, and the paths it could not
    order (to be read again)."""

    owned: list[Change] = field(default_factory=list)
    other: list[Change] = field(default_factory=list)
    unordered: list[str] = field(default_factory=list)


def apply_writes(
    tables: dict[str, Table],
    owned: set[str],
    where: Callable[[Write], tuple[Table, Key, bool] | None],
    writes: Sequence[Write],
    results: Sequence[Any] | None,
) -> Applied:
    """Apply a committed transaction's ``writes`` (``results``: kazoo's, one per write; the caller holds
    the tables still). Owned collections take every write. Other collections take a change only when it can
    be ordered against concurrent reads: a set by the new ``ZnodeStat`` in ``results``, a create or delete
    by the transaction's id from its ``stamp`` (a deleted key remembers it, so an older read arriving late
    does not bring it back); anything else goes to ``unordered``."""
    done = Applied()
    stamped = _stamp_zxid(writes, results)
    for index, write in enumerate(writes):
        if write.kind in ("check", "stamp"):
            continue
        found = where(write)
        if found is None:
            continue
        table, key, parent = found
        if table.spec.name in owned:
            _apply_owned(table, write, key, parent, done.owned)
            continue
        if parent:
            continue  # a two-level collection's parent: its children say what matters
        stat: Any = results[index] if results is not None and index < len(results) else None
        mzxid = stat.mzxid if isinstance(stat, ZnodeStat) else stamped
        if mzxid is None:
            done.unordered.append(write.path)
            continue
        old = table.nodes.get(key)
        if write.kind == "delete":
            if old is None or old.mzxid < mzxid:
                removed(table, key, done.other)
                _forget_old(table.gone)
                table.gone[key] = (mzxid, time.monotonic())
            continue
        if old is not None and old.mzxid >= mzxid:
            continue
        version = stat.version if isinstance(stat, ZnodeStat) else 0
        try:
            value = write.obj if write.obj is not None else decode_value(table, key, write.value)
        except Exception:  # noqa: BLE001 - what was written does not decode: read it back
            done.unordered.append(write.path)
            continue
        table.gone.pop(key, None)
        stored(table, key, Node(value, version, mzxid), done.other)
    return done


def decode_value(table: Table, key: Key, value: Any) -> Any:
    """A written JSON value as the table keeps it."""
    if not table.spec.read_data:
        return None
    return table.spec.decode(key, encode(value) if value is not None else b"")


def _apply_owned(table: Table, write: Write, key: Key, parent: bool, changes: list[Change]) -> None:
    if parent:
        if write.kind == "create":
            table.parents.setdefault(key, set())
        elif write.kind == "delete" and not table.parents.get(key):
            table.parents.pop(key, None)
    elif write.kind == "delete":
        removed(table, key, changes)
    elif write.kind in ("create", "set"):
        old = table.nodes.get(key)
        if write.kind == "create":
            version = 0
        elif write.version >= 0:
            version = write.version + 1
        else:
            version = old.version + 1 if old is not None else 0
        value = write.obj if write.obj is not None else decode_value(table, key, write.value)
        stored(table, key, Node(value, version), changes)


def keys_of(changes: Iterable[Change], collection: str) -> set[Key]:
    """The keys of ``collection`` among ``changes``."""
    return {c.key for c in changes if c.collection == collection}


def _stamp_zxid(writes: Sequence[Write], results: Sequence[Any] | None) -> int | None:
    """The id of the transaction, from the result of its stamp (None without one)."""
    if results is None:
        return None
    for write, result in zip(writes, results, strict=False):
        if write.kind == "stamp" and isinstance(result, ZnodeStat):
            return int(result.mzxid)
    return None



def _forget_old(gone: dict[Key, tuple[int, float]]) -> None:
    if len(gone) > 1_000:
        oldest = time.monotonic() - _GONE_FOR
        for key in [k for k, (_, at) in gone.items() if at < oldest]:
            del gone[key]
