"""Benchmark of ``elasticjob.placement.plan``: 10,000 tasks over 1,000 agents on one CPU core.

Builds a fixed, seeded cluster (a mix of agent sizes, racks and zones, apps already running on some agents)
and 2,000 firings of 5 shards each (a mix of shard sizes, ~30% with a rack or zone constraint, a few
high-priority ones), then times ``plan()`` over a few repetitions. Prints ONE JSON object on stdout; the
headline numbers are for the default ``Spread`` scorer, ``variants`` has ``BinPack`` and a saturated
cluster (agents an eighth of the size, so most firings are rolled back and explained).

Usage: ``python -m bench placement [--quick]``; the headline figure is the slowest variant.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence

from bench.harness import Figure, at_least
from elasticjob.placement import (
    BinPack,
    Offer,
    Resources,
    Scorer,
    Spread,
    TaskGroup,
    TaskRequest,
    plan,
)

AGENTS = 1_000
FIRINGS = 2_000
SHARDS = 5
APPS = 50
RACKS = 20
ZONES = 3


def build_offers(rng: random.Random, shrink: int = 1, count: int = AGENTS) -> list[Offer]:
    """``count`` offers of 4-32 CPUs with 2-4 GB per CPU; each runs 0-3 of the apps already."""
    offers = []
    for i in range(count):
        cpus = rng.choice((4, 8, 16, 32))
        mem = cpus * rng.choice((2048, 3072, 4096))
        offers.append(
            Offer(
                agent_id=f"agent-{i:04d}",
                hostname=f"host-{i:04d}.example",
                free=Resources(cpus / shrink, mem / shrink),
                attributes={"rack": f"r{i % RACKS}", "zone": f"z{i % ZONES}"},
                apps_running=frozenset(f"app-{a}" for a in rng.sample(range(APPS), rng.randint(0, 3))),
            )
        )
    return offers


def build_groups(rng: random.Random, count: int = FIRINGS) -> list[TaskGroup]:
    """``count`` all-or-nothing firings of ``SHARDS`` shards each."""
    groups = []
    for f in range(count):
        app = f"app-{f % APPS}"
        size = Resources(rng.choice((0.1, 0.25, 0.5, 1, 2)), rng.choice((128, 256, 512, 1024, 2048)))
        roll = rng.random()
        if roll < 0.2:
            constraints = {"rack": f"r{rng.randrange(RACKS)}"}
        elif roll < 0.3:
            constraints = {"zone": f"z{rng.randrange(ZONES)}"}
        else:
            constraints = {}
        tasks = tuple(
            TaskRequest(
                task_key=f"job-{f}@{item}",
                job_name=f"job-{f}",
                sharding_item=item,
                app_name=app,
                resources=size,
                app_resources=Resources(0.1, 64),
            )
            for item in range(SHARDS)
        )
        groups.append(
            TaskGroup(
                group_key=f"job-{f}",
                tasks=tasks,
                all_or_nothing=True,
                constraints=constraints,
                priority=1 if rng.random() < 0.05 else 0,
            )
        )
    return groups


def time_plan(
    groups: Sequence[TaskGroup], offers: Sequence[Offer], scorer: Scorer, repeat: int
) -> tuple[float, int]:
    """Median seconds of ``repeat`` plan() calls, and the number of tasks placed."""
    seconds = []
    placed = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = plan(groups, offers, scorer)
        seconds.append(time.perf_counter() - started)
        placed = len(result.placements)
    return statistics.median(seconds), placed


def run(quick: bool) -> Figure:
    """10,000 tasks (2,000 firings x 5 shards) over 1,000 agents, with each scorer and on a saturated
    cluster; ``quick``: a tenth of the size, one repetition."""
    seed, repeat = 20240601, 1 if quick else 5
    agents, firings = (AGENTS // 10, FIRINGS // 10) if quick else (AGENTS, FIRINGS)
    offers = build_offers(random.Random(seed), count=agents)
    small_offers = build_offers(random.Random(seed), shrink=8, count=agents)
    groups = build_groups(random.Random(seed + 1), count=firings)
    tasks = sum(len(group.tasks) for group in groups)
    target = at_least(20_000)
    figures = []
    for name, variant_offers, scorer in (
        ("spread", offers, Spread()),
        ("binpack", offers, BinPack()),
        ("saturated_spread", small_offers, Spread()),
        ("saturated_binpack", small_offers, BinPack()),
    ):
        seconds, placed = time_plan(groups, variant_offers, scorer, repeat)
        figures.append(
            Figure(f"placement.{name}", round(tasks / seconds), "tasks/s", target,
                   {"placed": placed, "seconds_p50": round(seconds, 4)})
        )
    headline = min(figures, key=lambda f: f.value or 0.0)
    return Figure(
        "placement",
        headline.value,
        "tasks/s",
        target,
        {"tasks": tasks, "agents": agents, "repeat": repeat, "seed": seed, "slowest": headline.name},
        figures,
    )
