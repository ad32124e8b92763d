"""Benchmark of ``elasticjob.placement.plan`` on one CPU core: 10,000 tasks on 1,000 agents, and 10x more.

Builds a fixed, seeded cluster (a mix of agent sizes, racks and zones, apps already running on some agents)
and 2,000 firings of 5 shards each (a mix of shard sizes, ~30% with a rack or zone constraint, a few
high-priority ones), then times ``plan()`` over a few repetitions. Four variants, each a figure held to the
issue's target (>= 20,000 tasks/s): the ``Spread`` and ``BinPack`` scorers, each on that cluster and on a
saturated one (agents an eighth of the size, so most firings are rolled back and explained). The headline
is the slowest of the four.

Then the same mix ten times larger: 20,000 firings (100,000 tasks) over 5,000 agents with the default
``Spread`` scorer, and the growth exponent ``log(t_large / t_small) / log(100,000 / 10,000)`` against the
10,000-task ``Spread`` run: 1.0 is linear in the number of tasks; a planner that scored every agent for
every task would grow with tasks x agents, an exponent of log(50)/log(10) = 1.70. Note that the large run
is the more loaded one: 20 tasks per agent instead of 10, near CPU saturation.

Times are the CPU time of the ``plan()`` call (``time.process_time``; it is single-threaded and pure), so
other processes on a shared machine do not count against it; the wall-clock median is in the params.

Usage: ``python -m bench placement [--quick]`` (quick: a tenth of every size, one repetition).
"""

from __future__ import annotations

import math
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
LARGE_AGENTS = 5_000
LARGE_FIRINGS = 20_000
TARGET = at_least(20_000)  # tasks/s, the figure for each variant
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
) -> tuple[float, float, int]:
    """Median CPU seconds and median wall seconds of ``repeat`` plan() calls, and the tasks placed."""
    cpu, wall = [], []
    placed = 0
    for _ in range(repeat):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        result = plan(groups, offers, scorer)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
        placed = len(result.placements)
    return statistics.median(cpu), statistics.median(wall), placed


def measure(
    name: str, groups: Sequence[TaskGroup], offers: Sequence[Offer], scorer: Scorer, repeat: int
) -> tuple[Figure, float]:
    """One throughput figure (target >= 20,000 tasks/s) and the CPU seconds it took."""
    tasks = sum(len(group.tasks) for group in groups)
    seconds, wall, placed = time_plan(groups, offers, scorer, repeat)
    params = {
        "tasks": tasks,
        "agents": len(offers),
        "placed": placed,
        "cpu_seconds_p50": round(seconds, 4),
        "wall_seconds_p50": round(wall, 4),
    }
    return Figure(f"placement.{name}", round(tasks / seconds), "tasks/s", TARGET, params), seconds


def run(quick: bool) -> Figure:
    """The four 10,000-task variants (headline: the slowest), the 100,000-task run and the growth exponent;
    ``quick``: a tenth of every size, one repetition."""
    seed = 20240601
    scale = 10 if quick else 1
    repeat, repeat_large = (1, 1) if quick else (5, 3)
    agents, firings = AGENTS // scale, FIRINGS // scale
    offers = build_offers(random.Random(seed), count=agents)
    small_offers = build_offers(random.Random(seed), shrink=8, count=agents)
    groups = build_groups(random.Random(seed + 1), count=firings)
    variants = []
    seconds = {}
    for name, variant_offers, scorer in (
        ("spread", offers, Spread()),
        ("binpack", offers, BinPack()),
        ("saturated_spread", small_offers, Spread()),
        ("saturated_binpack", small_offers, BinPack()),
    ):
        figure, seconds[name] = measure(name, groups, variant_offers, scorer, repeat)
        variants.append(figure)
    large_agents, large_firings = LARGE_AGENTS // scale, LARGE_FIRINGS // scale
    large, large_seconds = measure(
        "large_spread",
        build_groups(random.Random(seed + 1), count=large_firings),
        build_offers(random.Random(seed), count=large_agents),
        Spread(),
        repeat_large,
    )
    size_ratio = large.params["tasks"] / variants[0].params["tasks"]
    time_ratio = large_seconds / seconds["spread"]
    exponent = Figure(
        "placement.growth_exponent",
        round(math.log(time_ratio) / math.log(size_ratio), 2),
        "",
        None,
        {
            "small": f"{variants[0].params['tasks']} tasks on {agents} agents",
            "large": f"{large.params['tasks']} tasks on {large_agents} agents",
            "size_ratio": size_ratio,
            "time_ratio": round(time_ratio, 2),
            "scorer": "spread",
        },
        note="no target: 1.0 is linear in tasks, 1.70 the growth of scoring every agent for every task; "
        "the large run holds twice the tasks per agent, and the Spread search's band of agents within "
        "one executor charge of the best grows with the agents (elasticjob/placement/candidate_index.py)",
    )
    headline = min(variants, key=lambda f: f.value or 0.0)
    return Figure(
        "placement",
        headline.value,
        "tasks/s",
        TARGET,
        {"tasks": variants[0].params["tasks"], "agents": agents, "repeat": repeat, "seed": seed,
         "slowest": headline.name},
        [*variants, large, exponent],
    )
