"""Shard starts per second on one agent: a real ``elasticjob agent`` process, real ZooKeeper, real gRPC.

The benchmark plays the master (``elasticjob.dev.standin.StandInMaster``), so the master's scheduler is not
part of the figure: it announces itself as the leader in ZooKeeper, accepts the agent's stream and sends
``Launch`` messages for N one-shard SCRIPT tasks (``./run.sh``, a two-line shell script, from a tar.gz
served over HTTP by ``elasticjob.dev.examples.TarballServer``), ``batch`` tasks per message, all at once.
One task runs first so the archive is in the agent's cache: the figure is the steady state, not the first
download.

- TRANSIENT (headline): from the first ``Launch`` sent until the N-th shard's process started (the
  ``started_ms`` of its RUNNING report); every shard must then finish.
- DAEMON: the same for DAEMON shards (RUNNING is reported once the sandbox is ready and the shard waits for
  its first fire time; the cron never fires during the run); they are killed afterwards, and every one must
  end KILLED.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Figure, at_least, workdir
from elasticjob.common.net import free_port
from elasticjob.dev.examples import TarballServer
from elasticjob.dev.processes import AgentProcess, build_tarball
from elasticjob.dev.standin import ReceivedStatus, StandInMaster, script_task
from elasticjob.dev.zookeeper import LocalZooKeeper
from elasticjob.model import TaskState

TARGET = 200.0
SCRIPT = "#!/bin/sh\necho \"shard $ELASTICJOB_SHARDING_ITEM of $ELASTICJOB_JOB_NAME\"\n"


class _Tally:
    """Counts statuses as they arrive (on the stand-in's reader thread): when each task started, how each
    ended. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.started_ms: dict[str, int] = {}
        self.ended: dict[str, TaskState] = {}
        self.failures: list[str] = []

    def __call__(self, received: ReceivedStatus) -> None:
        status = received.status
        with self._lock:
            if status.state is TaskState.RUNNING and status.started_ms:
                self.started_ms.setdefault(status.task_id, status.started_ms)
            elif status.state.terminal and not status.daemon_run:
                self.ended[status.task_id] = status.state
                if status.state is TaskState.FAILED:
                    self.failures.append(f"{status.task_id}: {status.reason}: {status.message}")
            self._lock.notify_all()

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: done() or bool(self.failures), timeout):
                raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
            if self.failures:
                raise RuntimeError(f"{len(self.failures)} task(s) failed, e.g. {self.failures[0]}")


def _measure(master: StandInMaster, tally: _Tally, agent_id: str, specs: list[dict[str, Any]], batch: int,
             timeout: float) -> float:
    ids = {spec["task_id"] for spec in specs}
    first_sent = time.time()
    for at in range(0, len(specs), batch):
        master.launch(agent_id, specs[at:at + batch])
    tally.wait(lambda: ids <= tally.started_ms.keys(), timeout, f"{len(ids)} shards running")
    last_start = max(tally.started_ms[task_id] for task_id in ids) / 1000
    return len(ids) / max(last_start - first_sent, 1e-3)


def measure(transient_n: int, daemon_n: int, batch: int, timeout: float, *,
            extra_agent_args: tuple[str, ...] = (),
            on_agent: Callable[[AgentProcess], object] = lambda _agent: None) -> tuple[float, float]:
    """Run the agent benchmark once: (TRANSIENT starts/s, DAEMON starts/s). ``on_agent`` is called with the
    agent process once it is connected and warmed up (to attach a profiler, for example)."""
    with workdir("agent") as tmp:
        root = Path(tmp)
        build_tarball({"run.sh": SCRIPT}, root / "www" / "app.tar.gz", executable=("run.sh",))
        zk = LocalZooKeeper(root / "zk", free_port()).start()
        artifacts = TarballServer(root / "www", 0).start()
        tally = _Tally()
        master = StandInMaster(zk.hosts, "bench-agent", on_status=tally).start()
        agent = AgentProcess(zk.hosts, "bench-agent", root / "agent", cpus=1, mem=1024, agent_id="bench",
                             extra=extra_agent_args).start()
        url = f"{artifacts.base_url}/app.tar.gz"
        try:
            agent_id = master.wait_agent(60)
            master.launch(agent_id, [script_task("warm-up", "./run.sh", url)])
            tally.wait(lambda: "warm-up" in tally.ended, 60, "the warm-up task")
            on_agent(agent)

            run_id = uuid.uuid4().hex[:6]
            transient = [script_task(f"t-{run_id}-{i}", "./run.sh", url, job_name="transient")
                         for i in range(transient_n)]
            transient_rate = _measure(master, tally, agent_id, transient, batch, timeout)
            tally.wait(lambda: tally.ended.keys() >= {s["task_id"] for s in transient}, timeout, "every end")
            finished = sum(tally.ended[s["task_id"]] is TaskState.FINISHED for s in transient)

            daemons = [script_task(f"d-{run_id}-{i}", "./run.sh", url, job_name="daemon",
                                   execution_type="DAEMON") for i in range(daemon_n)]
            daemon_rate = _measure(master, tally, agent_id, daemons, batch, timeout)
            for spec in daemons:
                master.kill(agent_id, spec["task_id"])
            tally.wait(lambda: tally.ended.keys() >= {s["task_id"] for s in daemons}, timeout, "every kill")
            killed = sum(tally.ended[s["task_id"]] is TaskState.KILLED for s in daemons)
        finally:
            agent.stop()
            master.stop()
            artifacts.stop()
            zk.stop()
    if finished != transient_n or killed != daemon_n:
        raise RuntimeError(f"lost shards: {finished}/{transient_n} finished, {killed}/{daemon_n} killed")
    return transient_rate, daemon_rate


def run(quick: bool) -> Figure:
    transient_n, daemon_n, batch = (20, 10, 5) if quick else (2000, 1000, 50)
    transient_rate, daemon_rate = measure(transient_n, daemon_n, batch, 120.0 if quick else 600.0)
    params = {"tasks": transient_n, "launch_batch": batch, "app": "tar.gz over HTTP, one shell script"}
    daemon = Figure("agent.daemon_starts", round(daemon_rate, 1), "starts/s", at_least(TARGET),
                    {"tasks": daemon_n, "launch_batch": batch})
    return Figure("agent", round(transient_rate, 1), "starts/s", at_least(TARGET), params,
                  [Figure("agent.transient_starts", round(transient_rate, 1), "starts/s", at_least(TARGET),
                          params), daemon])
