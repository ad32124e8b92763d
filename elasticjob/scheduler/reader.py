"""Read a scheduling ``Snapshot`` from ZooKeeper (children read concurrently, one round trip per level)."""

from __future__ import annotations

from collections.abc import Mapping

from kazoo.exceptions import NoNodeError

from elasticjob.model import TaskId
from elasticjob.registry import ConfigReader, JsonStore, Layout
from elasticjob.registry.store import decode
from elasticjob.scheduler.failover import FailoverEntry
from elasticjob.scheduler.queue import ReadyQueue
from elasticjob.scheduler.snapshot import AgentView, RunningTask, Snapshot


def read_snapshot(store: JsonStore, layout: Layout, agents: Mapping[str, AgentView]) -> Snapshot:
    config = ConfigReader(store, layout)
    stored_jobs = config.all_jobs()
    jobs = {name: stored.model for name, stored in stored_jobs.items()}
    apps = {name: stored.model for name, stored in config.all_apps().items()}
    queues = {
        n: (ReadyQueue.from_json(v.value), v.version) for n, v in store.get_all(layout.ready_root).items()
    }
    running: dict[str, tuple[RunningTask, ...]] = {}
    for job_name in store.children(layout.running_root):
        tasks = store.get_all(layout.running(job_name))
        running[job_name] = tuple(RunningTask.from_json(v.value) for _, v in sorted(tasks.items()))
    failover: dict[str, tuple[tuple[FailoverEntry, int], ...]] = {}
    for job_name in store.children(layout.failover_root):
        entries = store.get_all(layout.failover(job_name))
        failover[job_name] = tuple(
            (FailoverEntry.from_json(v.value), v.version) for _, v in sorted(entries.items(), key=_by_item)
        )
    return Snapshot(
        jobs=jobs,
        apps=apps,
        disabled_jobs=frozenset(store.children(layout.disabled_jobs)),
        disabled_apps=frozenset(store.children(layout.disabled_apps)),
        queues=queues,
        running=running,
        agents=dict(agents),
        job_versions={n: v.version for n, v in stored_jobs.items()},
        failover={job: entries for job, entries in failover.items() if entries},
        lost=frozenset(store.children(layout.lost_root)),
    )


def _by_item(pair: tuple[str, object]) -> int:
    return int(pair[0]) if pair[0].isdigit() else -1


def read_running(store: JsonStore, layout: Layout, task_ids: list[str]) -> dict[str, tuple[RunningTask, int]]:
    """The running znodes of the given task ids that exist, with their versions."""
    found: dict[str, tuple[RunningTask, int]] = {}
    pending = []
    for task_id in task_ids:
        try:
            job_name = TaskId.parse(task_id).job_name
        except ValueError:
            continue
        pending.append((task_id, store.client.get_async(layout.running_task(job_name, task_id))))
    for task_id, result in pending:
        try:
            data, stat = result.get()
        except NoNodeError:  # the task is not (or no longer) running
            continue
        found[task_id] = (RunningTask.from_json(decode(data)), stat.version)
    return found
