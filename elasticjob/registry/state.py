"""Every master's in-memory view of its installation, kept current by a ``Mirror`` of ZooKeeper.

Jobs, their metadata (creator, times), apps, disable markers, ready queues, running tasks, failover entries,
tombstones and agents are read once when the master starts (or reconnects) and then maintained from watch
events. API reads and the
leader's planning read from here only; nothing here reads ZooKeeper on a caller's thread.

Memory: a job is kept as its normalised JSON (what the API shows) plus its app's name — about half a
kilobyte — and parsed into a ``Job`` model on demand through a bounded cache, so 100,000 jobs fit a
master comfortably. Runtime records (queues, running tasks, failover entries) are kept decoded.

Thread-safety: every method may be called from any thread.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kazoo.client import KazooClient
from pydantic import ValidationError

from elasticjob.model import App, DomainError, Job, JobExecutionType
from elasticjob.model.failover import FailoverEntry
from elasticjob.model.jobmeta import JobMeta
from elasticjob.model.masking import has_secrets, masked
from elasticjob.model.queue import ReadyQueue, parse_iso
from elasticjob.model.run import StopRequest
from elasticjob.model.running import RunningTask
from elasticjob.registry.layout import Layout
from elasticjob.registry.mirror import Mirror
from elasticjob.registry.store import Expected, Write, encode
from elasticjob.registry.tables import Change, Collection

JOBS = "jobs"
APPS = "apps"
DISABLED_JOBS = "disabled_jobs"
DISABLED_APPS = "disabled_apps"
READY = "ready"
RUNNING = "running"
FAILOVER = "failover"
LOST = "lost"
AGENTS = "agents"
STOPS = "stops"  # requests to stop a run: (job, firing id) -> StopRequest
JOB_META = "job_meta"  # who created a job, when it was created and updated: job name -> JobMeta

# Written by the leader alone (see ClusterState.own_runtime).
LEADER_OWNED = (RUNNING, FAILOVER, LOST)
# Stored next to an implied app's fields (and never shown by the API): which job's registration created it.
IMPLIED_BY = "impliedBy"
MODEL_CACHE_SIZE = 20_000
M = TypeVar("M", App, Job)


class CorruptConfig(DomainError):
    """A configuration znode holds something that is not a valid app or job (written by hand, or by
    another tool). Not the client's fault: the API answers 500 with this message."""


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A model with the znode version it was read at."""

    model: M
    version: int
    implied: bool = False  # an app created by a single-step job registration, not by POST /app


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as kept in memory: ``json`` is its normalised JSON (or, when ``error`` is set, the raw bytes of
    a znode that is not a valid job), with the fields the scheduler's timer needs without parsing it."""

    json: bytes  # as the API shows it: secrets masked (model/masking.py)
    app_name: str
    cron: str | None = None  # None: no schedule
    cron_dialect: str = "QUARTZ"
    time_zone: str = ""
    daemon: bool = False
    job_type: str = "SCRIPT"
    error: str | None = None
    schedule_active: bool = True  # False: the schedule is switched off (``scheduleActive``)
    full: bytes | None = None  # the JSON with its secrets, when it has some (``json`` masks them)

    @property
    def stored_json(self) -> bytes:
        """The job's JSON as stored, secrets included: for the model, never for an answer."""
        return self.full if self.full is not None else self.json


@dataclass(frozen=True, slots=True)
class AppRecord:
    stored: Stored[App] | None
    error: str | None = None


def decode_job(name: str, data: bytes) -> JobRecord:
    try:
        job = _validate(Job, name, json.loads(data) if data else None)
    except (CorruptConfig, ValueError) as exc:
        return JobRecord(data, "", error=str(exc))
    value = job.as_json()
    full = encode(value) if has_secrets(value) else None
    # Interned: thousands of jobs share a handful of apps, schedules and zones.
    return JobRecord(
        encode(masked(value)),
        sys.intern(job.effective_app_name),
        None if job.cron is None else sys.intern(job.cron),
        job.cron_dialect.value,
        sys.intern(job.timeZone),
        job.jobExecutionType is JobExecutionType.DAEMON,
        sys.intern(job.jobType.value),
        schedule_active=job.schedule_active,
        full=full,
    )


def decode_app(name: str, data: bytes) -> AppRecord:
    try:
        value = json.loads(data) if data else None
        implied = isinstance(value, dict) and IMPLIED_BY in value
        if isinstance(value, dict) and implied:
            value = {k: v for k, v in value.items() if k != IMPLIED_BY}
        return AppRecord(Stored(_validate(App, name, value), 0, implied))
    except (CorruptConfig, ValueError) as exc:
        return AppRecord(None, str(exc))


def _validate(model: type[M], name: str, value: Any) -> M:
    # Stored values were validated strictly when written; reading them back is lax so that enum values
    # stored as strings load without a JSON round trip.
    try:
        return model.model_validate(value, strict=False)
    except ValidationError as exc:
        raise CorruptConfig(
            f"{model.__name__.lower()} '{name}' in ZooKeeper is not valid "
            f"({exc.error_count()} error(s)); fix or remove its znode"
        ) from None


def _json(_key: Any, data: bytes) -> Any:
    return json.loads(data) if data else None


def _lost_at(_key: Any, data: bytes) -> dt.datetime:
    value = json.loads(data) if data else None
    text = value.get("lostAt") if isinstance(value, dict) else None
    return parse_iso(text) if isinstance(text, str) else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def collections(layout: Layout) -> list[Collection]:
    """What a master mirrors, and how each value is decoded."""
    return [
        Collection(JOBS, layout.jobs, decode=decode_job, sorted_keys=True),
        Collection(APPS, layout.apps, decode=decode_app, sorted_keys=True),
        Collection(DISABLED_JOBS, layout.disabled_jobs, read_data=False),
        Collection(DISABLED_APPS, layout.disabled_apps, read_data=False),
        Collection(READY, layout.ready_root, decode=lambda _k, d: ReadyQueue.from_json(_json(_k, d))),
        Collection(RUNNING, layout.running_root, depth=2,
                   decode=lambda _k, d: RunningTask.from_json(_json(_k, d))),
        Collection(FAILOVER, layout.failover_root, depth=2,
                   decode=lambda _k, d: FailoverEntry.from_json(_json(_k, d))),
        Collection(LOST, layout.lost_root, decode=_lost_at),
        Collection(AGENTS, layout.agents, decode=_json),
        Collection(STOPS, layout.stops_root, depth=2,
                   decode=lambda _k, d: StopRequest.from_json(_json(_k, d))),
        Collection(JOB_META, layout.job_metas, decode=lambda _k, d: JobMeta.from_json(_json(_k, d))),
    ]


class ClusterState:
    """The typed view over the mirror. ``start()`` begins the first load; callers that must not act on a
    partial view wait for ``synced``."""

    def __init__(self, client: KazooClient, layout: Layout) -> None:
        self.layout = layout
        self.mirror = Mirror(client, collections(layout))
        self._index_lock = threading.Lock()
        self._jobs_by_app: dict[str, set[str]] = {}
        self._app_of_job: dict[str, str] = {}
        self._models: OrderedDict[tuple[str, bytes], Job] = OrderedDict()
        self._models_lock = threading.Lock()
        # Jobs whose ready queue holds firings, and those with missed firings: what the operators' views
        # and the queue routes list, without walking every job's queue.
        self._waiting: dict[str, int] = {}
        self._missed: dict[str, int] = {}
        self.mirror.index(self._index)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.mirror.start()

    def stop(self) -> None:
        self.mirror.stop()

    @property
    def synced(self) -> bool:
        return self.mirror.synced

    @property
    def generation(self) -> int:
        return self.mirror.generation

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self.mirror.wait_synced(timeout)

    def barrier(self, timeout: float = 10.0) -> bool:
        """After a write of this master's ZooKeeper client: wait until this view shows it."""
        return self.mirror.barrier(timeout)

    # ---- the leader's own records ------------------------------------------------------------------------
    def own_runtime(self) -> None:
        """The leader alone writes running tasks, failover entries and tombstones: from now on this state
        applies the leader's writes (``wrote``) instead of reading them back."""
        self.mirror.own(LEADER_OWNED)

    def disown_runtime(self) -> None:
        """No longer the leader: read those records anew and follow them by watches again."""
        self.mirror.disown(LEADER_OWNED)

    def wrote(self, writes: list[Write], results: list[Any] | None = None) -> None:
        """The leader's scheduler committed ``writes`` (``results``: kazoo's, one per write): applied at
        once (see ``Mirror.apply``); its listeners are told only of changes to owned collections — the
        scheduler knows what else it wrote."""
        self.mirror.apply(writes, results, notify=False)

    def expect(self, writes: list[Write]) -> Expected:
        """Before this master's ZooKeeper client sends ``writes``: their watch events need not be read back
        once they committed (see ``Mirror.expect``; pass it as a transaction's ``expect``)."""
        return self.mirror.expect(writes)

    def committed(self, writes: list[Write], results: list[Any]) -> None:
        """An API write of this master committed: applied at once, listeners told (the scheduler plans
        what it changed), so that a client that wrote reads its write from this master."""
        self.mirror.apply(writes, results)

    def refresh(self, paths: list[str]) -> None:
        """Read ``paths`` again (a write decided on them failed)."""
        self.mirror.hint(paths)

    def written(self, paths: list[str], timeout: float = 10.0) -> bool:
        """This master wrote (or failed to write) ``paths``: read them now and wait until this view shows
        them."""
        self.mirror.hint(paths)
        return self.mirror.barrier(timeout)

    def subscribe(self, listener: Callable[[list[Change], bool], None]) -> None:
        self.mirror.subscribe(listener)

    # ---- configuration -------------------------------------------------------------------------------
    def job(self, name: str) -> Stored[Job] | None:
        """The job and its znode version; ``CorruptConfig`` if its znode is not a valid job."""
        node = self.mirror.get(JOBS, name)
        if node is None:
            return None
        record: JobRecord = node.value
        if record.error is not None:
            raise CorruptConfig(record.error)
        return Stored(self._model(name, record), node.version)

    def job_record(self, name: str) -> JobRecord | None:
        """The job as kept in memory (check ``error``), without parsing it."""
        node = self.mirror.get(JOBS, name)
        return None if node is None else node.value

    def job_json(self, name: str) -> bytes | None:
        """The job as the API shows it, secrets masked (``None`` if unknown; ``CorruptConfig`` if invalid)."""
        node = self.mirror.get(JOBS, name)
        if node is None:
            return None
        if node.value.error is not None:
            raise CorruptConfig(node.value.error)
        return bytes(node.value.json)

    def job_meta(self, name: str) -> tuple[JobMeta, int] | None:
        """Who created the job and when it was created and updated, with the znode's version; None for a
        job registered before such records were kept (or one that does not exist)."""
        node = self.mirror.get(JOB_META, name)
        return None if node is None else (node.value, node.version)

    def job_count(self) -> int:
        return self.mirror.count(JOBS)

    def job_names(self) -> list[str]:
        return list(self.mirror.keys(JOBS))

    def jobs_json(self, start: int = 0, stop: int | None = None) -> tuple[list[bytes], int]:
        """The JSON of the valid jobs among those at positions ``[start:stop]`` in name order, and the
        number of jobs; secrets masked, as the API shows them."""
        nodes, total = self.mirror.range_nodes(JOBS, start, total_if_none(stop))
        return [n.value.json for n in nodes if n.value.error is None], total

    def jobs_json_named(self, names: Iterable[str]) -> list[bytes]:
        """The JSON of those of the jobs ``names`` that exist and are valid, in that order."""
        nodes = (self.mirror.get(JOBS, name) for name in names)
        return [n.value.json for n in nodes if n is not None and n.value.error is None]

    def job_kinds(self) -> tuple[dict[str, int], dict[str, int]]:
        """How many valid jobs there are of each ``jobType`` and of each ``jobExecutionType``, counted
        from memory (no parsing, no ZooKeeper read)."""
        types: dict[str, int] = {}
        executions: dict[str, int] = {}
        for _name, node in self.mirror.items(JOBS):
            record: JobRecord = node.value
            if record.error is None:
                types[record.job_type] = types.get(record.job_type, 0) + 1
                kind = "DAEMON" if record.daemon else "TRANSIENT"
                executions[kind] = executions.get(kind, 0) + 1
        return types, executions

    def jobs_of_app(self, app_name: str) -> list[str]:
        with self._index_lock:
            return sorted(self._jobs_by_app.get(app_name, ()))

    def app(self, name: str) -> Stored[App] | None:
        node = self.mirror.get(APPS, name)
        if node is None:
            return None
        record: AppRecord = node.value
        if record.stored is None:
            raise CorruptConfig(record.error or f"app '{name}' is not valid")
        return Stored(record.stored.model, node.version, record.stored.implied)

    def apps(self) -> list[Stored[App]]:
        """Every valid app, by name."""
        result = []
        for name in self.mirror.keys(APPS):
            node = self.mirror.get(APPS, name)
            if node is not None and node.value.stored is not None:
                result.append(Stored(node.value.stored.model, node.version, node.value.stored.implied))
        return result

    def job_disabled(self, name: str) -> bool:
        return self.mirror.contains(DISABLED_JOBS, name)

    def app_disabled(self, name: str) -> bool:
        return self.mirror.contains(DISABLED_APPS, name)

    def disabled_jobs(self) -> frozenset[str]:
        return frozenset(self.mirror.keys(DISABLED_JOBS))

    def disabled_apps(self) -> frozenset[str]:
        return frozenset(self.mirror.keys(DISABLED_APPS))

    # ---- runtime state -------------------------------------------------------------------------------
    def queue(self, job: str) -> tuple[ReadyQueue, int] | None:
        node = self.mirror.get(READY, job)
        return None if node is None else (node.value, node.version)

    def waiting(self) -> list[tuple[str, ReadyQueue]]:
        """The ready queues holding firings, by job name: as many as wait, whatever the number of jobs."""
        with self._index_lock:
            names = sorted(self._waiting)
        found = []
        for name in names:
            node = self.mirror.get(READY, name)
            if node is not None and node.value.firings:
                found.append((name, node.value))
        return found

    def waiting_firings(self) -> int:
        """How many firings wait in all ready queues."""
        with self._index_lock:
            return sum(self._waiting.values())

    def missed(self) -> dict[str, int]:
        """Jobs with missed firings, and how many each (the queues' counters)."""
        with self._index_lock:
            return dict(self._missed)

    def running_of(self, job: str) -> list[tuple[RunningTask, int]]:
        return [(node.value, node.version) for _, node in self.mirror.children(RUNNING, job)]

    def running_task(self, job: str, task_id: str) -> tuple[RunningTask, int] | None:
        node = self.mirror.get(RUNNING, (job, task_id))
        return None if node is None else (node.value, node.version)

    def running(self) -> list[RunningTask]:
        """Every launched, unfinished task."""
        return [node.value for _, node in sorted(self.mirror.items(RUNNING), key=lambda kn: kn[0])]

    def failover_of(self, job: str) -> list[tuple[FailoverEntry, int]]:
        entries = [(node.value, node.version) for _, node in self.mirror.children(FAILOVER, job)]
        return sorted(entries, key=lambda ev: ev[0].sharding_item)

    def failover(self) -> list[FailoverEntry]:
        return [node.value for _, node in sorted(self.mirror.items(FAILOVER), key=lambda kn: kn[0])]

    def stops_of(self, job: str) -> dict[str, tuple[StopRequest, int]]:
        """Requests to stop runs of ``job``: firing id -> (request, znode version)."""
        return {firing: (node.value, node.version) for firing, node in self.mirror.children(STOPS, job)}

    def unfinished_firings(self, job: str) -> set[str]:
        """The firings of ``job`` the state still holds: queued, running, waiting to run again, or asked
        to stop — its active runs."""
        found = self.queue(job)
        firings = {f.firing_id for f in found[0].firings} if found is not None else set()
        firings.update(task.firing_id for task, _ in self.running_of(job))
        firings.update(entry.firing_id for entry, _ in self.failover_of(job))
        firings.update(self.stops_of(job))
        return firings

    def has_stops(self, job: str) -> bool:
        return self.mirror.has_parent(STOPS, job)

    def failover_jobs(self) -> list[str]:
        return self.mirror.parents(FAILOVER)

    def lost(self) -> dict[str, dt.datetime]:
        """Tombstones: task id -> when it was declared LOST."""
        return {name: node.value for name, node in self.mirror.items(LOST)}

    def is_lost(self, task_id: str) -> bool:
        return self.mirror.contains(LOST, task_id)

    def agent_count(self) -> int:
        return self.mirror.count(AGENTS)

    def app_count(self) -> int:
        return self.mirror.count(APPS)

    # ---- internals -----------------------------------------------------------------------------------
    def _model(self, name: str, record: JobRecord) -> Job:
        key = (name, record.stored_json)
        with self._models_lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
        model = Job.model_validate(json.loads(record.stored_json), strict=False)
        with self._models_lock:
            self._models[key] = model
            if len(self._models) > MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
        return model

    def _index(self, changes: list[Change], _resynced: bool) -> None:
        """Keep jobs-by-app and the waiting and missed counters current (a mirror indexer: told of every
        change, the leader's own included, before any listener)."""
        with self._index_lock:
            for change in changes:
                if change.collection == READY:
                    self._count_queue(change.key, None if change.new is None else change.new.value)
                    continue
                if change.collection != JOBS:
                    continue
                name = change.key
                before = self._app_of_job.pop(name, None)
                if before is not None:
                    jobs = self._jobs_by_app.get(before)
                    if jobs is not None:
                        jobs.discard(name)
                        if not jobs:
                            del self._jobs_by_app[before]
                if change.new is not None and change.new.value.error is None:
                    app = change.new.value.app_name
                    self._app_of_job[name] = app
                    self._jobs_by_app.setdefault(app, set()).add(name)


    def _count_queue(self, name: str, queue: ReadyQueue | None) -> None:
        for counts, value in ((self._waiting, len(queue.firings) if queue else 0),
                              (self._missed, queue.missed if queue else 0)):
            if value:
                counts[name] = value
            else:
                counts.pop(name, None)


def total_if_none(stop: int | None) -> int:
    return 2**62 if stop is None else stop


def job_names_of(changes: Iterable[Change], collections_: Iterable[str]) -> set[str]:
    """The job names that ``changes`` of the given job-keyed collections touch (depth-2 keys: the parent)."""
    wanted = set(collections_)
    names = set()
    for change in changes:
        if change.collection in wanted:
            names.add(change.key[0] if isinstance(change.key, tuple) else change.key)
    return names
