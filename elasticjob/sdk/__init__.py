"""The job author's API: the sharding context every shard gets, and base classes for Python jobs.

Every shard of a job runs with its *sharding context*: which job it belongs to, which task it is, how many
shards the firing has and which one this is, plus the shard's and the job's parameters. The agent passes
it in environment variables (so shell scripts can read it too)::

    ELASTICJOB_JOB_NAME             job name                      (required)
    ELASTICJOB_TASK_ID              task id, see below            (required)
    ELASTICJOB_SHARDING_TOTAL_COUNT number of shards, >= 1        (required)
    ELASTICJOB_SHARDING_ITEM        this shard, 0 <= item < total (required)
    ELASTICJOB_SHARDING_PARAMETER   this shard's entry of shardingItemParameters (empty if absent)
    ELASTICJOB_JOB_PARAMETER        the job's jobParameter                       (empty if absent)

The task id has the Elastic-Job-Cloud form ``{jobName}@-@{item}@-@{READY|FAILOVER}@-@{agentId}@-@{uuid}``;
treat it as an opaque string that is unique per run of a shard (good for idempotency keys and log lines).

Python jobs (``jobType`` SIMPLE or DATAFLOW, ``jobClass`` ``"package.module:attribute"``) are started by
``python -m elasticjob.sdk.runner`` in the unpacked app directory and get a ``ShardingContext`` object
instead. A SIMPLE job is a class with ``execute(self, context)`` (instantiated with no arguments) or a plain
function taking the context; a DATAFLOW job is a class with ``fetch_data(self, context)`` and
``process_data(self, context, items)``. Subclassing ``SimpleJob`` / ``DataflowJob`` is optional: the runner
only looks for the methods. Example, registered with ``"jobClass": "reports.jobs:DailyReport"``::

    from elasticjob.sdk import ShardingContext, SimpleJob, shard_slice

    class DailyReport(SimpleJob):
        def execute(self, context: ShardingContext) -> None:
            customers = load_customers()
            for customer in shard_slice(customers, context):   # this shard's share only
                send_report(customer, region=context.sharding_parameter)

    def cleanup(context: ShardingContext) -> None:           # "reports.jobs:cleanup" also works
        print(f"shard {context.sharding_item} of {context.sharding_total_count}")

Outside the runner (a SCRIPT job written in Python, or a test), ``ShardingContext.from_env()`` reads the
same values from the environment.

This package imports only the standard library, so it can be vendored into an app tarball as it is.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

__all__ = [
    "ENV_JOB_NAME",
    "ENV_JOB_PARAMETER",
    "ENV_SHARDING_ITEM",
    "ENV_SHARDING_PARAMETER",
    "ENV_SHARDING_TOTAL_COUNT",
    "ENV_TASK_ID",
    "DataflowJob",
    "ShardingContext",
    "ShardingContextError",
    "SimpleJob",
    "shard_slice",
]

ENV_JOB_NAME = "ELASTICJOB_JOB_NAME"
ENV_TASK_ID = "ELASTICJOB_TASK_ID"
ENV_SHARDING_TOTAL_COUNT = "ELASTICJOB_SHARDING_TOTAL_COUNT"
ENV_SHARDING_ITEM = "ELASTICJOB_SHARDING_ITEM"
ENV_SHARDING_PARAMETER = "ELASTICJOB_SHARDING_PARAMETER"
ENV_JOB_PARAMETER = "ELASTICJOB_JOB_PARAMETER"

# ASCII digits only: int() alone would also take " 3", "+3", "3_0" and non-ASCII digits.
_DIGITS = re.compile(r"[0-9]+")

T = TypeVar("T")


class ShardingContextError(ValueError):
    """A sharding context variable is missing or invalid; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


@dataclasses.dataclass(frozen=True)
class ShardingContext:
    """What one shard of one firing of a job is: immutable, the same values as the ``ELASTICJOB_*`` env.

    Construction checks ``sharding_total_count >= 1`` and ``0 <= sharding_item < sharding_total_count``
    and raises ``ValueError`` otherwise.
    """

    job_name: str
    task_id: str
    sharding_total_count: int
    sharding_item: int
    sharding_parameter: str = ""
    job_parameter: str = ""

    def __post_init__(self) -> None:
        if self.sharding_total_count < 1:
            raise ValueError(f"sharding_total_count must be at least 1 (got {self.sharding_total_count})")
        if not 0 <= self.sharding_item < self.sharding_total_count:
            raise ValueError(f"sharding_item must be in 0..{self.sharding_total_count - 1} "
                             f"(got {self.sharding_item})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ShardingContext:
        """Read the context from ``environ`` (default ``os.environ``).

        Raises ``ShardingContextError`` naming the variable when a required one is missing or empty, a count
        or item is not a non-negative decimal integer, the total is 0, or the item is not below the total.
        The two parameters default to ``""`` when absent.
        """
        env = os.environ if environ is None else environ
        job_name = _required(env, ENV_JOB_NAME)
        task_id = _required(env, ENV_TASK_ID)
        total = _non_negative_int(env, ENV_SHARDING_TOTAL_COUNT)
        item = _non_negative_int(env, ENV_SHARDING_ITEM)
        if total < 1:
            raise ShardingContextError(ENV_SHARDING_TOTAL_COUNT,
                                       f"environment variable {ENV_SHARDING_TOTAL_COUNT} must be at least 1")
        if item >= total:
            raise ShardingContextError(
                ENV_SHARDING_ITEM,
                f"{ENV_SHARDING_ITEM}={item} is not below {ENV_SHARDING_TOTAL_COUNT}={total}")
        return cls(job_name=job_name, task_id=task_id, sharding_total_count=total, sharding_item=item,
                   sharding_parameter=env.get(ENV_SHARDING_PARAMETER, ""),
                   job_parameter=env.get(ENV_JOB_PARAMETER, ""))

    def as_env(self) -> dict[str, str]:
        """The ``ELASTICJOB_*`` variables describing this context (the inverse of ``from_env``)."""
        return {
            ENV_JOB_NAME: self.job_name,
            ENV_TASK_ID: self.task_id,
            ENV_SHARDING_TOTAL_COUNT: str(self.sharding_total_count),
            ENV_SHARDING_ITEM: str(self.sharding_item),
            ENV_SHARDING_PARAMETER: self.sharding_parameter,
            ENV_JOB_PARAMETER: self.job_parameter,
        }


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None:
        raise ShardingContextError(name, f"environment variable {name} is not set")
    if not value:
        raise ShardingContextError(name, f"environment variable {name} is empty")
    return value


def _non_negative_int(env: Mapping[str, str], name: str) -> int:
    value = _required(env, name)
    if not _DIGITS.fullmatch(value):
        raise ShardingContextError(name, f"environment variable {name} must be a non-negative integer "
                                         f"(got {value!r})")
    return int(value)


def shard_slice(items: Sequence[T], context: ShardingContext) -> list[T]:
    """This shard's share of ``items``: every ``items[i]`` with ``i % total == item``, in order.

    Across all shards of a firing the slices partition ``items``: each element lands in exactly one shard,
    and the shards' sizes differ by at most one. ``items`` must be in the same order for every shard.
    """
    step = context.sharding_total_count
    return [items[index] for index in range(context.sharding_item, len(items), step)]


class SimpleJob(abc.ABC):
    """Base class for SIMPLE jobs: the runner creates the class with no arguments and calls ``execute``.

    Raising any exception fails the shard (the runner exits 1 and the traceback goes to the shard's log);
    returning normally succeeds it.
    """

    @abc.abstractmethod
    def execute(self, context: ShardingContext) -> None:
        """Do this shard's work."""


class DataflowJob(abc.ABC, Generic[T]):
    """Base class for DATAFLOW jobs: fetch a batch of work, then process it.

    The runner calls ``fetch_data``; if it returns a non-empty list, it calls ``process_data`` with it.
    With ``streamingProcess: false`` that happens once per firing. With ``streamingProcess: true`` it
    repeats until ``fetch_data`` returns an empty list, so ``fetch_data`` must eventually run dry (e.g. by
    fetching only items not yet processed).
    """

    @abc.abstractmethod
    def fetch_data(self, context: ShardingContext) -> list[T]:
        """Return the next batch of items for this shard; an empty list when there is nothing to do."""

    @abc.abstractmethod
    def process_data(self, context: ShardingContext, items: list[T]) -> None:
        """Process one non-empty batch returned by ``fetch_data``."""
