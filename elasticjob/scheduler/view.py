"""Immutable ``Snapshot``s of just the jobs a cycle plans, cut from the master's in-memory ``ClusterState``.

A cycle plans the jobs that are due or changed, so a snapshot holds those jobs, their apps, queues,
running tasks and failover entries — plus what every launched task uses per agent, which placement needs
whatever the jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from elasticjob.model import App, Job
from elasticjob.registry.state import ClusterState, CorruptConfig
from elasticjob.scheduler.snapshot import AgentView, Snapshot, usage_of

log = logging.getLogger(__name__)


def snapshot_of(state: ClusterState, job_names: Iterable[str], agents: Mapping[str, AgentView]) -> Snapshot:
    """The snapshot for planning ``job_names`` (a job that no longer exists is kept for its running tasks
    and failover entries, so they can be killed and dropped). Holds the state still while reading."""
    jobs: dict[str, Job] = {}
    versions: dict[str, int] = {}
    apps: dict[str, App] = {}
    queues = {}
    running = {}
    failover = {}
    stops: dict[str, dict[str, tuple[str, int]]] = {}
    disabled_jobs = set()
    disabled_apps = set()
    with state.mirror.locked():
        for name in job_names:
            try:
                stored = state.job(name)
            except CorruptConfig as exc:
                log.error("%s", exc)
                stored = None
            if stored is not None:
                jobs[name] = stored.model
                versions[name] = stored.version
                app_name = stored.model.effective_app_name
                if app_name not in apps:
                    app = _app(state, app_name)
                    if app is not None:
                        apps[app_name] = app
                if state.app_disabled(app_name):
                    disabled_apps.add(app_name)
                if state.job_disabled(name):
                    disabled_jobs.add(name)
            queue = state.queue(name)
            if queue is not None:
                queues[name] = queue
            tasks = state.running_of(name)
            if tasks:
                running[name] = tuple(task for task, _ in tasks)
            entries = state.failover_of(name)
            if entries:
                failover[name] = tuple(entries)
            if state.has_stops(name):
                stops[name] = {f: (stop.reason, v) for f, (stop, v) in state.stops_of(name).items()}
        usage = usage_of(state.running())
    return Snapshot(
        jobs=jobs,
        apps=apps,
        disabled_jobs=frozenset(disabled_jobs),
        disabled_apps=frozenset(disabled_apps),
        queues=queues,
        running=running,
        agents=dict(agents),
        job_versions=versions,
        failover=failover,
        usage=usage,
        stops=stops,
    )


def _app(state: ClusterState, name: str) -> App | None:
    try:
        stored = state.app(name)
    except CorruptConfig as exc:
        log.error("%s", exc)
        return None
    return None if stored is None else stored.model
