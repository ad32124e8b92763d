"""Example Python jobs: a SIMPLE report and a DATAFLOW batch, each over its shard's share of the orders.

``orders.jobs:OrderReport`` (jobType SIMPLE) and ``orders.jobs:PendingOrders`` (jobType DATAFLOW) are the
``jobClass`` values of ``examples/jobs/python-job.json`` and ``examples/jobs/dataflow-job.json``. Each shard
takes its slice of ``data/orders.csv`` with ``shard_slice``, so the shards of one firing together handle
every order exactly once, whatever ``shardingTotalCount`` is.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from elasticjob.sdk import DataflowJob, ShardingContext, SimpleJob, shard_slice

DATA_FILE = Path(__file__).resolve().parent / "data" / "orders.csv"


@dataclass(frozen=True)
class Order:
    order_id: int
    customer: str
    status: str  # PAID, PENDING or SHIPPED
    amount: Decimal


def load_orders(path: Path = DATA_FILE) -> list[Order]:
    """All orders, in file order (the same order in every shard, which ``shard_slice`` relies on)."""
    with path.open(newline="", encoding="utf-8") as stream:
        return [Order(int(row["order_id"]), row["customer"], row["status"], Decimal(row["amount"]))
                for row in csv.DictReader(stream)]


def _shard(context: ShardingContext) -> str:
    return f"shard {context.sharding_item}/{context.sharding_total_count} of {context.job_name}"


class OrderReport(SimpleJob):
    """Report the number and total amount of this shard's orders (one line on stdout)."""

    def execute(self, context: ShardingContext) -> None:
        orders = shard_slice(load_orders(), context)
        total = sum((order.amount for order in orders), Decimal("0.00"))
        ids = ",".join(str(order.order_id) for order in orders)
        print(f"{_shard(context)} parameter={context.sharding_parameter} orders={len(orders)} "
              f"total={total} ids={ids}")


class PendingOrders(DataflowJob[Order]):
    """Confirm this shard's PENDING orders, at most ``BATCH_SIZE`` per batch.

    Not streaming (the example job), one batch per firing. Streaming, batches follow one another until
    none is left: ``fetch_data`` skips orders this process has already confirmed, so it runs dry.
    """

    BATCH_SIZE = 3

    def __init__(self) -> None:
        self._confirmed: set[int] = set()

    def fetch_data(self, context: ShardingContext) -> list[Order]:
        pending = [order for order in shard_slice(load_orders(), context)
                   if order.status == "PENDING" and order.order_id not in self._confirmed]
        return pending[:self.BATCH_SIZE]

    def process_data(self, context: ShardingContext, items: list[Order]) -> None:
        self._confirmed.update(order.order_id for order in items)
        ids = ",".join(str(order.order_id) for order in items)
        print(f"{_shard(context)} confirmed={len(items)} ids={ids}")
