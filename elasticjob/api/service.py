"""The service facade: every operation of the native API as a method, with its business rules.

No HTTP here: methods take models and names, return models and plain data, and raise the domain errors
of ``elasticjob.model.errors``. Every read-modify-write is one versioned ZooKeeper multi-transaction, so
several masters can serve the API at once without a lock (followers write through, see README).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from elasticjob import cron
from elasticjob.model import App, Conflict, Job, JobExecutionType, NotFound, ValidationFailed
from elasticjob.registry import (
    IMPLIED_BY,
    ConfigReader,
    JsonStore,
    Layout,
    NodeAlreadyExists,
    NodeMissing,
    StoreError,
    Transaction,
    VersionConflict,
)
from elasticjob.registry.store import encode
from elasticjob.scheduler.failover import FailoverEntry
from elasticjob.scheduler.queue import Firing, ReadyQueue
from elasticjob.scheduler.snapshot import RunningTask

DEFAULT_BOOTSTRAP_SCRIPT = "bin/start.sh"
# A job's ready queue lives in one znode; manual triggers beyond this many pending firings are refused.
MAX_PENDING_TRIGGERS = 100
# A job and its implied app are written in one ZooKeeper request, which must stay under the server's
# jute.maxbuffer (1 MiB by default): a larger one makes ZooKeeper drop the master's connection.
MAX_CONFIG_BYTES = 256 * 1024


class JobService:
    """Apps, jobs, disable markers, manual triggers and read-only task views."""

    def __init__(self, store: JsonStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout
        self.config = ConfigReader(store, layout)

    # ---- jobs -----------------------------------------------------------------------------------
    def register_job(self, job: Job) -> Job:
        self._check_schedule(job)
        _check_size("job", job.jobName, job.as_json())
        txn = self.store.transaction()
        self._add_app_ops(txn, job, previous=None)
        txn.create(self.layout.job(job.jobName), job.as_json())
        # The cron cursor starts at registration: firings due while no leader runs are still caught up.
        queue = ReadyQueue(cursor=dt.datetime.now(dt.UTC)).to_json()
        stale = self.store.get(self.layout.ready(job.jobName))
        if stale is None:
            txn.create(self.layout.ready(job.jobName), queue)
        else:
            txn.set(self.layout.ready(job.jobName), queue, version=stale.version)
        self._touch(txn)
        try:
            txn.commit()
        except NodeAlreadyExists as exc:
            if exc.path == self.layout.job(job.jobName):
                raise Conflict(
                    f"job '{job.jobName}' already exists; use PUT /job/update to change it"
                ) from None
            raise self._concurrent(exc) from None
        except StoreError as exc:
            raise self._concurrent(exc) from None
        return job

    def update_job(self, job: Job) -> Job:
        stored = self._job(job.jobName)
        self._check_schedule(job)
        _check_size("job", job.jobName, job.as_json())
        txn = self.store.transaction()
        self._add_app_ops(txn, job, previous=stored.model)
        if stored.model.effective_app_name != job.effective_app_name:
            # The job moves to another app: an implied app it leaves without jobs goes with it.
            self._add_orphaned_app_ops(txn, stored.model)
        txn.set(self.layout.job(job.jobName), job.as_json(), version=stored.version)
        self._touch(txn)
        try:
            txn.commit()
        except StoreError as exc:
            raise self._concurrent(exc) from None
        return job

    def deregister_job(self, name: str) -> None:
        def removal() -> Transaction:
            stored = self._job(name)
            txn = self.store.transaction()
            self._add_job_removal_ops(txn, stored.model, stored.version)
            self._add_orphaned_app_ops(txn, stored.model)
            return self._touch(txn)

        self._commit_rereading(removal, f"job '{name}'")

    def job(self, name: str) -> Job:
        return self._job(name).model

    def job_view(self, name: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """The job's configuration plus ``nextFireTime`` and ``lastFireTime`` (ISO 8601 in the job's time
        zone, with its UTC offset; omitted when there is none, as null fields are everywhere) and the misfire
        accounting: ``pendingFirings`` (queued, not started) and ``missedFirings`` (never ran)."""
        job = self._job(name).model
        stored = self.store.get(self.layout.ready(name))
        queue = ReadyQueue.from_json(stored.value) if stored is not None else ReadyQueue()
        zone = cron.load_time_zone(job.timeZone)
        after = max(filter(None, (queue.cursor, now or dt.datetime.now(dt.UTC))))
        upcoming = cron.parse(job.cron, cron.Dialect.QUARTZ, job.timeZone).next_fire(after)
        view = job.as_json()
        if upcoming is not None:
            view["nextFireTime"] = upcoming.astimezone(zone).isoformat()
        view["pendingFirings"] = len(queue.firings)
        view["missedFirings"] = queue.missed
        if queue.last_fire_time is not None:
            view["lastFireTime"] = queue.last_fire_time.astimezone(zone).isoformat(timespec="milliseconds")
        return view

    def jobs(self) -> list[Job]:
        return self.config.jobs()

    def set_job_disabled(self, name: str, disabled: bool) -> None:
        self._job(name)
        self._set_marker(self.layout.disabled_job(name), disabled)

    def job_disabled(self, name: str) -> bool:
        self._job(name)
        return self.config.job_disabled(name)

    def trigger(self, name: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """Queue one firing of a TRANSIENT job now; returns the queued firing."""
        job = self._job(name).model
        if job.jobExecutionType is JobExecutionType.DAEMON:
            raise Conflict(f"job '{name}' is a DAEMON job; it runs on its own cron and cannot be triggered")
        if self.config.job_disabled(name) or self.config.app_disabled(job.effective_app_name):
            raise Conflict(f"job '{name}' is disabled; enable it before triggering it")
        instant = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        firing = Firing.trigger(instant)
        path = self.layout.ready(name)
        for _ in range(10):
            current = self.store.get(path)
            txn = self.store.transaction().check(self.layout.job(name), self._job(name).version)
            if current is None:
                txn.create(path, ReadyQueue(cursor=instant, firings=(firing,)).to_json())
            else:
                queue = ReadyQueue.from_json(current.value)
                if len(queue.firings) >= MAX_PENDING_TRIGGERS:
                    raise Conflict(
                        f"job '{name}' already has {len(queue.firings)} pending firings; wait for "
                        "them to run before triggering it again"
                    )
                txn.set(path, queue.with_trigger(firing).to_json(), version=current.version)
            self._touch(txn)
            try:
                txn.commit()
                return firing.to_json()
            except (VersionConflict, NodeAlreadyExists):
                continue
            except NodeMissing:
                raise NotFound(f"job '{name}' was removed concurrently") from None
        raise Conflict(f"the ready queue of job '{name}' kept changing; try again")

    # ---- task views -----------------------------------------------------------------------------
    def ready_tasks(self) -> list[dict[str, Any]]:
        """Elastic-Job-Cloud's ``tasks/ready`` shape ``[{"jobName": ..., "times": "<count>"}]``, plus
        ``reason`` when the scheduler says why the job waits."""
        result = []
        for job_name, stored in self.store.get_all(self.layout.ready_root).items():
            queue = ReadyQueue.from_json(stored.value)
            if queue.firings:
                row = {"jobName": job_name, "times": str(len(queue.firings))}
                if queue.reason:
                    row["reason"] = queue.reason
                result.append(row)
        return result

    def running_tasks(self) -> list[Any]:
        """Elastic-Job-Cloud's TaskContext shape for every launched, unfinished task."""
        return [
            RunningTask.from_json(v).native_view() for v in self._values_two_levels(self.layout.running_root)
        ]

    def failover_tasks(self) -> list[Any]:
        """Elastic-Job-Cloud's FailoverTaskInfo shape for every shard queued to run again."""
        return [
            FailoverEntry.from_json(v).native_view()
            for v in self._values_two_levels(self.layout.failover_root)
        ]

    # ---- apps -----------------------------------------------------------------------------------
    def register_app(self, app: App) -> App:
        _check_size("app", app.appName, app.model_dump(mode="json"))
        try:
            self.store.transaction().create(
                self.layout.app(app.appName), app.model_dump(mode="json")
            ).commit()
        except NodeAlreadyExists:
            raise Conflict(f"app '{app.appName}' already exists; use PUT /app to change it") from None
        return app

    def update_app(self, app: App) -> App:
        stored = self._app(app.appName)
        _check_size("app", app.appName, app.model_dump(mode="json"))
        try:
            self._touch(
                self.store.transaction().set(
                    self.layout.app(app.appName), app.model_dump(mode="json"), version=stored.version
                )
            ).commit()
        except StoreError as exc:
            raise self._concurrent(exc) from None
        return app

    def app(self, name: str) -> App:
        return self._app(name).model

    def apps(self) -> list[App]:
        return self.config.apps()

    def deregister_app(self, name: str, cascade: bool = False) -> list[str]:
        """Remove an app; with ``cascade`` also every job that uses it. Returns the removed job names."""
        removed: list[str] = []

        def removal() -> Transaction:
            stored = self._app(name)
            jobs = self.config.jobs_of_app(name)
            if jobs and not cascade:
                names = ", ".join(sorted(j.jobName for j in jobs))
                raise Conflict(
                    f"app '{name}' is used by job(s) {names}; remove them first or use ?cascade=true"
                )
            txn = self.store.transaction()
            for job in jobs:
                version = self._job(job.jobName).version
                self._add_job_removal_ops(txn, job, version)
            txn.delete(self.layout.app(name), version=stored.version)
            if self.config.app_disabled(name):
                txn.delete(self.layout.disabled_app(name))
            removed[:] = [j.jobName for j in jobs]
            return self._touch(txn)

        self._commit_rereading(removal, f"app '{name}'")
        return removed

    def set_app_disabled(self, name: str, disabled: bool) -> None:
        self._app(name)
        self._set_marker(self.layout.disabled_app(name), disabled)

    def app_disabled(self, name: str) -> bool:
        self._app(name)
        return self.config.app_disabled(name)

    # ---- helpers --------------------------------------------------------------------------------
    def _job(self, name: str):  # type: ignore[no-untyped-def]
        stored = self.config.job(name)
        if stored is None:
            raise NotFound(f"job '{name}' does not exist")
        return stored

    def _app(self, name: str):  # type: ignore[no-untyped-def]
        stored = self.config.app(name)
        if stored is None:
            raise NotFound(f"app '{name}' does not exist")
        return stored

    @staticmethod
    def _check_schedule(job: Job) -> None:
        try:
            cron.parse(job.cron, cron.Dialect.QUARTZ, job.timeZone)
        except cron.CronError as exc:
            raise ValidationFailed.field("cron", exc.message) from None

    def _add_app_ops(self, txn: Transaction, job: Job, previous: Job | None) -> None:
        """Check the job's app exists (and stays so until commit) or create the single-step form's app."""
        name = job.effective_app_name
        stored = self.config.app(name)
        if job.appURL is None:
            if stored is None:
                raise ValidationFailed.field("appName", f"app '{name}' is not registered (POST /app first)")
            txn.check(self.layout.app(name), stored.version)
            return
        if stored is None:
            implied = App(
                appName=name,
                appURL=job.appURL,
                bootstrapScript=job.bootstrapScript or DEFAULT_BOOTSTRAP_SCRIPT,
                cpuCount=1.0,
                memoryMB=128.0,
            )
            txn.create(self.layout.app(name), {**implied.model_dump(mode="json"), IMPLIED_BY: job.jobName})
            return
        if stored.model.appURL == job.appURL:
            txn.check(self.layout.app(name), stored.version)
            return
        # A single-step job may move its own implied app to a new URL; a shared app is changed via PUT /app.
        owner = previous is not None and previous.appURL is not None and previous.effective_app_name == name
        if owner and stored.implied and all(j.jobName == job.jobName for j in self.config.jobs_of_app(name)):
            moved = stored.model.model_copy(update={"appURL": job.appURL})
            txn.set(
                self.layout.app(name),
                {**moved.model_dump(mode="json"), IMPLIED_BY: job.jobName},
                version=stored.version,
            )
            return
        raise Conflict(
            f"app '{name}' exists with appURL {stored.model.appURL}; change it with PUT /app or omit appURL",
            [],
        )

    def _add_orphaned_app_ops(self, txn: Transaction, job: Job) -> None:
        """Delete the implied app of ``job`` if no other job uses it (``job`` is leaving it)."""
        app = self.config.app(job.effective_app_name)
        if app is None or not app.implied:
            return
        if any(j.jobName != job.jobName for j in self.config.jobs_of_app(app.model.appName)):
            return
        txn.delete(self.layout.app(app.model.appName), version=app.version)
        if self.config.app_disabled(app.model.appName):
            txn.delete(self.layout.disabled_app(app.model.appName))

    def _add_job_removal_ops(self, txn: Transaction, job: Job, version: int) -> None:
        """Delete a job's config and queued state. Running tasks stay until the scheduler kills them."""
        name = job.jobName
        txn.delete(self.layout.job(name), version=version)
        if self.config.job_disabled(name):
            txn.delete(self.layout.disabled_job(name))
        ready = self.store.get(self.layout.ready(name))
        if ready is not None:
            txn.delete(self.layout.ready(name), version=ready.version)
        failover = self.layout.failover(name)
        if self.store.exists(failover):
            for item in self.store.children(failover):
                txn.delete(f"{failover}/{item}")
            txn.delete(failover)

    def _set_marker(self, path: str, present: bool) -> None:
        try:
            if present and not self.store.exists(path):
                self._touch(self.store.transaction().create(path)).commit()
            elif not present and self.store.exists(path):
                self._touch(self.store.transaction().delete(path)).commit()
        except (NodeAlreadyExists, NodeMissing):
            pass  # a concurrent request reached the same state: the marker is as asked

    def _values_two_levels(self, root: str) -> list[Any]:
        values: list[Any] = []
        for parent in self.store.children(root):
            values.extend(v.value for _, v in sorted(self.store.get_all(f"{root}/{parent}").items()))
        return values

    def _touch(self, txn: Transaction) -> Transaction:
        """Wake the leader's scheduler: it watches this znode (unversioned, so writers never conflict)."""
        txn.set(self.layout.changes, {"at": dt.datetime.now(dt.UTC).isoformat()})
        return txn

    def _commit_rereading(self, build: Callable[[], Transaction], what: str) -> None:
        """Commit ``build()``'s transaction; rebuild it from fresh reads while a concurrent writer interferes.

        The leader's scheduler rewrites ready queues at any time, so a removal that read a queue's version
        a moment earlier must re-read rather than fail with 409. ``build`` raises NotFound/Conflict itself.
        """
        for _ in range(10):
            txn = build()
            try:
                txn.commit()
                return
            except (VersionConflict, NodeMissing, NodeAlreadyExists):
                continue
            except StoreError as exc:
                raise self._concurrent(exc) from None
        raise Conflict(f"{what} kept changing while it was being removed; try again")

    @staticmethod
    def _concurrent(exc: StoreError) -> Conflict:
        return Conflict(f"a concurrent change interfered ({exc}); read the current state and try again")


def _check_size(kind: str, name: str, value: Any) -> None:
    """Refuse a configuration too large to store (the job's size also bounds its implied app's)."""
    size = len(encode(value))
    if size > MAX_CONFIG_BYTES:
        raise ValidationFailed(f"{kind} '{name}' is {size} bytes as JSON; the limit is {MAX_CONFIG_BYTES}")
