"""A master holds thousands of agent streams: 5,000 simulated agents (real gRPC streams on loopback, each
on its own TCP connection, real ZooKeeper membership) connect to a real master process, are all
registered, can all be launched on, and are all let go when they leave.

No timing is asserted beyond generous waits: how fast is the ``launch`` benchmark's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from elasticjob.dev.simagents import SimulatedAgentsProcess
from tests.support import MasterProcess, build_tarball, wait_until

AGENTS = 5000
SHARDS = 40


def gauge(master: MasterProcess, name: str) -> float | None:
    found = re.search(rf"^{name} (\S+)$", master.get("/metrics", timeout=10).text, re.M)
    return None if found is None else float(found.group(1))


@pytest.fixture
def fleet(zk_hosts: str, namespace: str, tmp_path: Path) -> Iterator[SimulatedAgentsProcess]:
    agents = SimulatedAgentsProcess(zk_hosts, namespace, AGENTS, tmp_path / "simagents.log", "--cpus", "4")
    yield agents
    agents.stop()


def test_a_master_holds_5000_agent_streams_and_launches_on_them(
    master_factory: Callable[..., MasterProcess],
    namespace: str,
    fleet: SimulatedAgentsProcess,
    tmp_path: Path,
) -> None:
    master = master_factory(namespace)
    fleet.start()

    wait_until(lambda: gauge(master, "elasticjob_connected_agents") == AGENTS, 120, interval=0.5,
               message=f"{AGENTS} agent streams on the master")
    assert gauge(master, "elasticjob_registered_agents") == AGENTS  # and their membership znodes
    # The master counts a stream when the agent registers; the agent counts the master's answer, which
    # may still be on its way to the last few agents on a busy machine.
    stats = wait_until(lambda: (s := fleet.stats())["registered"] == AGENTS and s, 60, interval=0.5,
                       message=f"{AGENTS} agents told they are registered")
    assert stats["registrations"] == AGENTS  # each once: no stream was dropped and registered again

    # The streams carry work: a firing of 40 shards (1 CPU each, on agents of 4 CPUs) is launched over
    # them and every shard's FINISHED report comes back over them and is recorded.
    tarball = build_tarball({"run.sh": "#!/bin/sh\n"}, tmp_path / "app.tar.gz", executable=("run.sh",))
    with master.http(timeout=30) as api:
        job = {"jobName": "wide", "appURL": tarball.as_uri(), "bootstrapScript": "./run.sh",
               "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": SHARDS, "cpuCount": 1, "memoryMB": 16}
        api.post("/job/register", json=job).raise_for_status()
        api.post("/job/trigger", content=b"wide", headers={"Content-Type": "text/plain"}).raise_for_status()

        def finished() -> list[dict]:  # type: ignore[type-arg]
            rows = api.get("/job/events/executions", params={"jobName": "wide", "per_page": 100}).json()["rows"]
            return [r for r in rows if r["state"] == "FINISHED"]

        rows = wait_until(lambda: len(finished()) == SHARDS and finished(), 120, interval=0.5,
                          message=f"{SHARDS} shards FINISHED")
    assert sorted(r["shardingItem"] for r in rows) == list(range(SHARDS))
    assert len({r["agentId"] for r in rows}) > 1  # spread over the simulated agents
    stats = fleet.stats()
    assert stats["tasks"] == SHARDS and stats["duplicate_tasks"] == 0
    assert stats["stream_errors"] == 0 and stats["registrations"] == AGENTS

    final = fleet.stop()
    assert final is not None and final["registered"] == 0
    wait_until(lambda: gauge(master, "elasticjob_connected_agents") == 0, 60, interval=0.5,
               message="every stream let go")
    wait_until(lambda: gauge(master, "elasticjob_registered_agents") == 0, 60, interval=0.5,
               message="every membership znode gone")
