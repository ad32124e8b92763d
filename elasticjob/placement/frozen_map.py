"""An immutable, hashable ``str -> str`` mapping for agent attributes and placement constraints."""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping
from typing import TypeVar, overload

_T = TypeVar("_T")


class FrozenMap(Mapping[str, str]):
    """Read-only ``Mapping[str, str]`` that can be hashed, so it can key a dict or live in a frozen dataclass.

    Contract:
    - Built from a mapping or from ``(key, value)`` pairs; later pairs win, as with ``dict``.
    - Keys and values must be ``str`` (``TypeError`` otherwise).
    - Iteration is in sorted key order, so ``repr`` and iteration are deterministic.
    - Equal to any ``Mapping`` with the same items (``FrozenMap({"a": "1"}) == {"a": "1"}``); its hash
      depends only on the items.
    - No method mutates it; the items are copied on construction.
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = dict(items)
        for key, value in pairs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"FrozenMap keys and values must be str, got {key!r}: {value!r}")
        self._items: dict[str, str] = dict(sorted(pairs.items()))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # get() and items() go straight to the dict: the planner calls them once per agent and constraint.
    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str | _T) -> str | _T: ...

    def get(self, key: str, default: object = None) -> object:
        return self._items.get(key, default)

    def items(self) -> ItemsView[str, str]:
        return self._items.items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def describe(self) -> str:
        """``"rack=a, zone=z1"``: the pairs as an operator would type them (empty string when empty)."""
        return ", ".join(f"{key}={value}" for key, value in self._items.items())


EMPTY = FrozenMap()
