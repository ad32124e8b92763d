"""Where everything lives in ZooKeeper, under ``/<namespace>`` (see DESIGN.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


def check_namespace(namespace: str) -> str:
    """Return the namespace without surrounding slashes, or raise ``ValueError``."""
    stripped = namespace.strip("/")
    if not _NAMESPACE_RE.fullmatch(stripped) or any(part in {".", ".."} for part in stripped.split("/")):
        raise ValueError(f"invalid namespace {namespace!r}: use segments of letters, digits, '_', '.', '-'")
    return stripped


@dataclass(frozen=True)
class Layout:
    """Paths of one ElasticJob installation. Pure: builds strings, talks to nobody."""

    namespace: str = "elasticjob"

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespace", check_namespace(self.namespace))

    @property
    def root(self) -> str:
        return f"/{self.namespace}"

    # configuration
    @property
    def apps(self) -> str:
        return f"{self.root}/config/app"

    def app(self, name: str) -> str:
        return f"{self.apps}/{name}"

    @property
    def jobs(self) -> str:
        return f"{self.root}/config/job"

    def job(self, name: str) -> str:
        return f"{self.jobs}/{name}"

    @property
    def job_metas(self) -> str:
        """Who created each job and when it was created and updated (``model.jobmeta``)."""
        return f"{self.root}/config/job-meta"

    def job_meta(self, name: str) -> str:
        return f"{self.job_metas}/{name}"

    @property
    def counters(self) -> str:
        """Counters that number things (``counter``)."""
        return f"{self.root}/config/counter"

    def counter(self, name: str) -> str:
        """A counter: its value is the last number given out (JSON integer; empty: none yet). Set with a
        version check in the transaction that uses the number, so a number is never given twice and a
        failed write gives none (the ``execs`` dialect's job ids)."""
        return f"{self.counters}/{name}"

    # state
    @property
    def ready_root(self) -> str:
        return f"{self.root}/state/ready"

    def ready(self, job: str) -> str:
        return f"{self.ready_root}/{job}"

    @property
    def running_root(self) -> str:
        return f"{self.root}/state/running"

    def running(self, job: str) -> str:
        return f"{self.running_root}/{job}"

    def running_task(self, job: str, task_id: str) -> str:
        return f"{self.running(job)}/{task_id}"

    @property
    def failover_root(self) -> str:
        return f"{self.root}/state/failover"

    def failover(self, job: str) -> str:
        return f"{self.failover_root}/{job}"

    def failover_item(self, job: str, key: str) -> str:
        """A failover entry's znode; ``key`` is ``FailoverEntry.key``."""
        return f"{self.failover(job)}/{key}"

    @property
    def lost_root(self) -> str:
        """Tombstones ``/state/lost/{taskId}`` of tasks declared LOST, so a stale copy is recognised."""
        return f"{self.root}/state/lost"

    def lost(self, task_id: str) -> str:
        return f"{self.lost_root}/{task_id}"

    @property
    def stops_root(self) -> str:
        """Requests to stop a run: ``/state/stop/{job}/{firingId}`` (the leader kills what the run has
        running, drops what it has queued, then deletes the request)."""
        return f"{self.root}/state/stop"

    def stops(self, job: str) -> str:
        return f"{self.stops_root}/{job}"

    def stop(self, job: str, firing_id: str) -> str:
        return f"{self.stops(job)}/{firing_id}"

    @property
    def stamp(self) -> str:
        """Set (to nothing) by every write of the masters, for the id of the write (``Transaction.stamp``)."""
        return f"{self.root}/state/stamp"

    @property
    def disabled_apps(self) -> str:
        return f"{self.root}/state/disable/app"

    def disabled_app(self, name: str) -> str:
        return f"{self.disabled_apps}/{name}"

    @property
    def disabled_jobs(self) -> str:
        return f"{self.root}/state/disable/job"

    def disabled_job(self, name: str) -> str:
        return f"{self.disabled_jobs}/{name}"

    # membership
    @property
    def agents(self) -> str:
        return f"{self.root}/agents"

    def agent(self, agent_id: str) -> str:
        return f"{self.agents}/{agent_id}"

    @property
    def election(self) -> str:
        return f"{self.root}/leader/election"

    @property
    def leader_info(self) -> str:
        return f"{self.root}/leader/info"

    def base_paths(self) -> tuple[str, ...]:
        """Persistent parents that must exist before multi-transactions create children under them."""
        return (
            self.apps,
            self.jobs,
            self.job_metas,
            self.counters,
            self.ready_root,
            self.running_root,
            self.failover_root,
            self.lost_root,
            self.stops_root,
            self.disabled_apps,
            self.disabled_jobs,
            self.agents,
            self.election,
            self.stamp,
        )
