"""AgentLedger: the planner's running balance of one agent."""

from __future__ import annotations

import pytest

from elasticjob.placement import Offer, Resources, TaskRequest
from elasticjob.placement.ledger import AgentLedger

EXECUTOR = Resources(0.5, 256)


def task(key: str = "t", app: str = "app", cpus: float = 1, mem: float = 512) -> TaskRequest:
    return TaskRequest(key, "job", 0, app, Resources(cpus, mem), EXECUTOR)


def test_starts_from_the_offer() -> None:
    ledger = AgentLedger(Offer("a1", "h", Resources(4, 4096), {"rack": "a"}, frozenset({"other"})))
    assert (ledger.free_mcpus, ledger.free_mmem) == (4000, 4096000)
    assert ledger.apps == {"other"}
    assert ledger.free == Resources(4, 4096)


def test_demand_includes_the_executor_only_where_the_app_is_not_running() -> None:
    fresh = AgentLedger(Offer("a1", "h", Resources(4, 4096)))
    running = AgentLedger(Offer("a2", "h", Resources(4, 4096), apps_running=frozenset({"app"})))
    assert fresh.charges_app(task()) and not running.charges_app(task())
    assert fresh.demand(task()) == (1500, 768000)
    assert running.demand(task()) == (1000, 512000)


def test_take_charges_the_executor_once() -> None:
    ledger = AgentLedger(Offer("a1", "h", Resources(4, 4096)))
    ledger.take(task("t1"))
    ledger.take(task("t2"))
    assert ledger.free == Resources(4 - 0.5 - 2, 4096 - 256 - 1024)
    assert ledger.apps == {"app"}


def test_take_refuses_to_over_commit() -> None:
    ledger = AgentLedger(Offer("a1", "h", Resources(1.2, 4096)))
    with pytest.raises(ValueError, match="does not fit"):
        ledger.take(task())  # 1 CPU + 0.5 for the executor
    assert ledger.free == Resources(1.2, 4096)


def test_give_back_reverts_takes_newest_first() -> None:
    ledger = AgentLedger(Offer("a1", "h", Resources(4, 4096), apps_running=frozenset({"other"})))
    undo1 = ledger.take(task("t1"))
    undo2 = ledger.take(task("t2"))
    ledger.give_back(task("t2"), undo2)
    assert ledger.apps == {"other", "app"}
    ledger.give_back(task("t1"), undo1)
    assert ledger.free == Resources(4, 4096)
    assert ledger.apps == {"other"}
