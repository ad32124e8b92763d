"""The job author's SDK (pure): ShardingContext from the environment, its errors, shard_slice."""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import pytest

import elasticjob.sdk
from elasticjob.sdk import (
    DataflowJob,
    ShardingContext,
    ShardingContextError,
    SimpleJob,
    shard_slice,
)

TASK_ID = "order_report@-@2@-@READY@-@agent-1@-@0b4c5a2e-8f7d-4c11-9a3e-2b6f1d0c9e77"
FULL_ENV = {
    "ELASTICJOB_JOB_NAME": "order_report",
    "ELASTICJOB_TASK_ID": TASK_ID,
    "ELASTICJOB_SHARDING_TOTAL_COUNT": "4",
    "ELASTICJOB_SHARDING_ITEM": "2",
    "ELASTICJOB_SHARDING_PARAMETER": "Guangzhou",
    "ELASTICJOB_JOB_PARAMETER": "mode=full,limit=10",
    "PATH": "/usr/bin",
}
REQUIRED = ["ELASTICJOB_JOB_NAME", "ELASTICJOB_TASK_ID", "ELASTICJOB_SHARDING_TOTAL_COUNT",
            "ELASTICJOB_SHARDING_ITEM"]


def _context(total: int, item: int) -> ShardingContext:
    return ShardingContext("job", "task", total, item)


def _error(**changes: str | None) -> ShardingContextError:
    env = {key: value for key, value in {**FULL_ENV, **changes}.items() if value is not None}
    with pytest.raises(ShardingContextError) as caught:
        ShardingContext.from_env(env)
    return caught.value


def test_from_env_reads_every_variable() -> None:
    assert ShardingContext.from_env(FULL_ENV) == ShardingContext(
        job_name="order_report", task_id=TASK_ID, sharding_total_count=4, sharding_item=2,
        sharding_parameter="Guangzhou", job_parameter="mode=full,limit=10")


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FULL_ENV.items():
        monkeypatch.setenv(key, value)
    assert ShardingContext.from_env().task_id == TASK_ID


def test_parameters_are_optional_and_kept_verbatim() -> None:
    without = ShardingContext.from_env({k: FULL_ENV[k] for k in REQUIRED})
    assert (without.sharding_parameter, without.job_parameter) == ("", "")
    spaced = ShardingContext.from_env({**FULL_ENV, "ELASTICJOB_SHARDING_PARAMETER": " a = b , c "})
    assert spaced.sharding_parameter == " a = b , c "


def test_as_env_is_the_inverse_of_from_env() -> None:
    context = ShardingContext.from_env(FULL_ENV)
    assert ShardingContext.from_env(context.as_env()) == context
    assert set(context.as_env()) == set(FULL_ENV) - {"PATH"}


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_required_variable_is_named(name: str) -> None:
    error = _error(**{name: None})
    assert error.variable == name
    assert str(error) == f"environment variable {name} is not set"


@pytest.mark.parametrize("name", REQUIRED)
def test_an_empty_required_variable_is_named(name: str) -> None:
    error = _error(**{name: ""})
    assert error.variable == name
    assert name in str(error) and "empty" in str(error)


@pytest.mark.parametrize("value", ["x", "-1", "1.0", " 2", "+2", "1_0", "٣", "0x2"])
@pytest.mark.parametrize("name", ["ELASTICJOB_SHARDING_TOTAL_COUNT", "ELASTICJOB_SHARDING_ITEM"])
def test_a_non_integer_is_named_with_its_value(name: str, value: str) -> None:
    error = _error(**{name: value})
    assert error.variable == name
    assert f"{name} must be a non-negative integer (got {value!r})" in str(error)


def test_total_count_of_zero_is_rejected() -> None:
    error = _error(ELASTICJOB_SHARDING_TOTAL_COUNT="0", ELASTICJOB_SHARDING_ITEM="0")
    assert error.variable == "ELASTICJOB_SHARDING_TOTAL_COUNT"
    assert "at least 1" in str(error)


@pytest.mark.parametrize("item", ["4", "5", "100"])
def test_item_must_be_below_total(item: str) -> None:
    error = _error(ELASTICJOB_SHARDING_ITEM=item)
    assert error.variable == "ELASTICJOB_SHARDING_ITEM"
    assert str(error) == f"ELASTICJOB_SHARDING_ITEM={item} is not below ELASTICJOB_SHARDING_TOTAL_COUNT=4"


def test_the_error_is_a_value_error() -> None:
    assert isinstance(_error(ELASTICJOB_SHARDING_ITEM=None), ValueError)


def test_context_is_frozen_and_validated_on_construction() -> None:
    context = _context(3, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.sharding_item = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="sharding_total_count"):
        _context(0, 0)
    with pytest.raises(ValueError, match="sharding_item"):
        _context(3, 3)
    with pytest.raises(ValueError, match="sharding_item"):
        _context(3, -1)


def test_shard_slice_takes_every_totalth_item_from_the_shards_own_offset() -> None:
    items = list(range(10))
    assert shard_slice(items, _context(4, 0)) == [0, 4, 8]
    assert shard_slice(items, _context(4, 1)) == [1, 5, 9]
    assert shard_slice(items, _context(4, 3)) == [3, 7]
    assert shard_slice(items, _context(1, 0)) == items
    assert shard_slice(items, _context(20, 15)) == []
    assert shard_slice([], _context(3, 2)) == []


def test_shard_slice_accepts_any_sequence_and_returns_a_list() -> None:
    assert shard_slice(("a", "b", "c"), _context(2, 1)) == ["b"]
    assert shard_slice("abcde", _context(2, 0)) == ["a", "c", "e"]
    assert shard_slice(range(100, 110), _context(3, 2)) == [102, 105, 108]


@pytest.mark.parametrize("total", range(1, 9))
@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 40, 41])
def test_shard_slices_partition_the_items(total: int, size: int) -> None:
    items = [f"order-{i}" for i in range(size)]
    slices = [shard_slice(items, _context(total, item)) for item in range(total)]
    assert sorted(x for part in slices for x in part) == sorted(items)  # every item exactly once
    assert max(map(len, slices)) - min(map(len, slices)) <= 1  # balanced


def test_simple_job_base_class_requires_execute() -> None:
    class Forgetful(SimpleJob):
        pass

    class Report(SimpleJob):
        def __init__(self) -> None:
            self.seen: list[int] = []

        def execute(self, context: ShardingContext) -> None:
            self.seen.append(context.sharding_item)

    with pytest.raises(TypeError):
        Forgetful()  # type: ignore[abstract]
    report = Report()
    report.execute(_context(2, 1))
    assert report.seen == [1]


def test_dataflow_job_base_class_requires_both_methods() -> None:
    class FetchOnly(DataflowJob[int]):
        def fetch_data(self, context: ShardingContext) -> list[int]:
            return []

    class Doubler(DataflowJob[int]):
        def __init__(self) -> None:
            self.out: list[int] = []

        def fetch_data(self, context: ShardingContext) -> list[int]:
            return shard_slice(range(6), context)

        def process_data(self, context: ShardingContext, items: list[int]) -> None:
            self.out.extend(2 * item for item in items)

    with pytest.raises(TypeError):
        FetchOnly()  # type: ignore[abstract]
    job = Doubler()
    context = _context(2, 0)
    job.process_data(context, job.fetch_data(context))
    assert job.out == [0, 4, 8]


def test_the_sdk_imports_only_the_standard_library_and_itself() -> None:
    """Job authors vendor or install just this package: it must not drag in the platform."""
    package_dir = Path(elasticjob.sdk.__file__).parent
    for source in sorted(package_dir.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{source.name}: use absolute imports"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                allowed = name == "elasticjob.sdk" or name.startswith("elasticjob.sdk.")
                allowed = allowed or (top in sys.stdlib_module_names or top == "__future__")
                assert allowed, f"{source.name} imports {name}"


def test_public_api_is_exported() -> None:
    for name in elasticjob.sdk.__all__:
        assert hasattr(elasticjob.sdk, name)
    assert {"ShardingContext", "SimpleJob", "DataflowJob", "shard_slice"} <= set(elasticjob.sdk.__all__)
