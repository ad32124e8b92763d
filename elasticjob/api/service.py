"""The service facade: every operation of the native API as a method, with its business rules.

No HTTP here: methods take models and names, return models and plain data, and raise the domain errors
of ``elasticjob.model.errors``. Every read-modify-write is one versioned ZooKeeper multi-transaction, so
several masters can serve the API at once without a lock (followers write through, see README).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from elasticjob import cron
from elasticjob.model import App, Conflict, Job, JobExecutionType, NotFound, ValidationFailed
from elasticjob.registry import (
    ConfigReader,
    JsonStore,
    Layout,
    NodeAlreadyExists,
    NodeMissing,
    StoreError,
    Transaction,
    VersionConflict,
)

DEFAULT_BOOTSTRAP_SCRIPT = "bin/start.sh"


class JobService:
    """Apps, jobs, disable markers, manual triggers and read-only task views."""

    def __init__(self, store: JsonStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout
        self.config = ConfigReader(store, layout)

    # ---- jobs -----------------------------------------------------------------------------------
    def register_job(self, job: Job) -> Job:
        self._check_schedule(job)
        txn = self.store.transaction()
        self._add_app_ops(txn, job, previous=None)
        txn.create(self.layout.job(job.jobName), job.as_json())
        try:
            txn.commit()
        except NodeAlreadyExists as exc:
            if exc.path == self.layout.job(job.jobName):
                raise Conflict(f"job '{job.jobName}' already exists; use PUT /job/update to change it") from None
            raise self._concurrent(exc) from None
        except StoreError as exc:
            raise self._concurrent(exc) from None
        return job

    def update_job(self, job: Job) -> Job:
        stored = self._job(job.jobName)
        self._check_schedule(job)
        txn = self.store.transaction()
        self._add_app_ops(txn, job, previous=stored.model)
        txn.set(self.layout.job(job.jobName), job.as_json(), version=stored.version)
        try:
            txn.commit()
        except StoreError as exc:
            raise self._concurrent(exc) from None
        return job

    def deregister_job(self, name: str) -> None:
        stored = self._job(name)
        txn = self.store.transaction()
        self._add_job_removal_ops(txn, stored.model, stored.version)
        app = self.config.app(stored.model.effective_app_name)
        if app is not None and self._is_implied_app(stored.model, app.model):
            others = [j for j in self.config.jobs_of_app(app.model.appName) if j.jobName != name]
            if not others:
                txn.delete(self.layout.app(app.model.appName), version=app.version)
                if self.config.app_disabled(app.model.appName):
                    txn.delete(self.layout.disabled_app(app.model.appName))
        try:
            txn.commit()
        except StoreError as exc:
            raise self._concurrent(exc) from None

    def job(self, name: str) -> Job:
        return self._job(name).model

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
        firing = {
            "firingId": f"trigger-{uuid.uuid4().hex}",
            "scheduledAt": instant.isoformat(timespec="milliseconds"),
            "cause": "TRIGGER",
        }
        path = self.layout.ready(name)
        for _ in range(10):
            current = self.store.get(path)
            txn = self.store.transaction().check(self.layout.job(name), self._job(name).version)
            if current is None:
                txn.create(path, [firing])
            else:
                txn.set(path, [*(current.value or []), firing], version=current.version)
            try:
                txn.commit()
                return firing
            except (VersionConflict, NodeAlreadyExists):
                continue
            except NodeMissing:
                raise NotFound(f"job '{name}' was removed concurrently") from None
        raise Conflict(f"the ready queue of job '{name}' kept changing; try again")

    # ---- task views -----------------------------------------------------------------------------
    def ready_tasks(self) -> list[dict[str, Any]]:
        """Elastic-Job-Cloud's ``tasks/ready`` shape: ``[{"jobName": ..., "times": "<count>"}]``."""
        result = []
        for job_name, firings in self.store.get_all(self.layout.ready_root).items():
            pending = firings.value or []
            if pending:
                result.append({"jobName": job_name, "times": str(len(pending))})
        return result

    def running_tasks(self) -> list[Any]:
        return self._values_two_levels(self.layout.running_root)

    def failover_tasks(self) -> list[Any]:
        return self._values_two_levels(self.layout.failover_root)

    # ---- apps -----------------------------------------------------------------------------------
    def register_app(self, app: App) -> App:
        try:
            self.store.transaction().create(self.layout.app(app.appName), app.model_dump(mode="json")).commit()
        except NodeAlreadyExists:
            raise Conflict(f"app '{app.appName}' already exists; use PUT /app to change it") from None
        return app

    def update_app(self, app: App) -> App:
        stored = self._app(app.appName)
        try:
            self.store.transaction().set(
                self.layout.app(app.appName), app.model_dump(mode="json"), version=stored.version
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
        try:
            txn.commit()
        except StoreError as exc:
            raise self._concurrent(exc) from None
        return [j.jobName for j in jobs]

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

    @staticmethod
    def _is_implied_app(job: Job, app: App) -> bool:
        return job.appURL is not None and app.appName == job.effective_app_name and app.appURL == job.appURL

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
            txn.create(self.layout.app(name), implied.model_dump(mode="json"))
            return
        if stored.model.appURL == job.appURL:
            txn.check(self.layout.app(name), stored.version)
            return
        # A single-step job may move its own implied app to a new URL; a shared app is changed via PUT /app.
        owner = previous is not None and previous.appURL is not None and previous.effective_app_name == name
        if owner and all(j.jobName == job.jobName for j in self.config.jobs_of_app(name)):
            moved = stored.model.model_copy(update={"appURL": job.appURL})
            txn.set(self.layout.app(name), moved.model_dump(mode="json"), version=stored.version)
            return
        raise Conflict(
            f"app '{name}' exists with appURL {stored.model.appURL}; change it with PUT /app or omit appURL",
            [],
        )

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
                self.store.transaction().create(path).commit()
            elif not present and self.store.exists(path):
                self.store.transaction().delete(path).commit()
        except (NodeAlreadyExists, NodeMissing):
            pass  # a concurrent request reached the same state: the marker is as asked

    def _values_two_levels(self, root: str) -> list[Any]:
        values: list[Any] = []
        for parent in self.store.children(root):
            values.extend(v.value for _, v in sorted(self.store.get_all(f"{root}/{parent}").items()))
        return values

    @staticmethod
    def _concurrent(exc: StoreError) -> Conflict:
        return Conflict(f"a concurrent change interfered ({exc}); read the current state and try again")
