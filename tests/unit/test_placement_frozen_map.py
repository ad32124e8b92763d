"""FrozenMap: the immutable, hashable mapping behind Offer.attributes and TaskGroup.constraints."""

from __future__ import annotations

import pytest

from elasticjob.placement import FrozenMap


def test_behaves_as_a_read_only_mapping() -> None:
    m = FrozenMap({"zone": "z1", "rack": "a"})
    assert m["rack"] == "a"
    assert m.get("missing") is None
    assert m.get("missing", "default") == "default"
    assert m.get("rack", "default") == "a"
    assert list(m.items()) == [("rack", "a"), ("zone", "z1")]
    assert "zone" in m and "x" not in m
    assert len(m) == 2
    assert list(m) == ["rack", "zone"]  # sorted, whatever the input order
    with pytest.raises(TypeError):
        m["rack"] = "b"  # type: ignore[index]


def test_equality_and_hash_depend_only_on_items() -> None:
    a = FrozenMap([("rack", "a"), ("zone", "z1")])
    b = FrozenMap({"zone": "z1", "rack": "a"})
    assert a == b and hash(a) == hash(b)
    assert a == {"rack": "a", "zone": "z1"}
    assert a != FrozenMap({"rack": "a"})
    assert a != "rack=a"
    assert {a: 1}[b] == 1


def test_copies_its_input() -> None:
    source = {"rack": "a"}
    m = FrozenMap(source)
    source["rack"] = "b"
    assert m["rack"] == "a"


def test_rejects_non_string_items() -> None:
    with pytest.raises(TypeError):
        FrozenMap({"cpus": 4})  # type: ignore[arg-type]


def test_describe_and_repr() -> None:
    assert FrozenMap({"zone": "z1", "rack": "a"}).describe() == "rack=a, zone=z1"
    assert FrozenMap().describe() == ""
    assert repr(FrozenMap({"rack": "a"})) == "FrozenMap({'rack': 'a'})"
