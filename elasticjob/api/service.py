"""The service facade: every operation of the native API as a method, with its business rules.

No HTTP here: methods take models and names, return models and plain data, and raise the domain errors
of ``elasticjob.model.errors``. Reads come from the master's in-memory ``ClusterState`` (no ZooKeeper round
trip); every write is one versioned ZooKeeper multi-transaction decided on that state, so several masters
can serve the API at once without a lock. A write that finds the state stale (a version conflict) waits
for the state to catch up and decides again; a write returns once this master's state shows it, so a
client that writes and then reads the same master sees its write.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from elasticjob import cron
from elasticjob.model import App, Conflict, Job, JobExecutionType, NotFound, Unavailable, ValidationFailed
from elasticjob.model.jobmeta import JobMeta
from elasticjob.model.masking import MaskedSecretUnknown, unmasked
from elasticjob.model.names import DEFAULT_NAMESPACE, namespace_of
from elasticjob.model.queue import NO_OVERRIDES, Firing, Overrides, ReadyQueue
from elasticjob.model.run import StopRequest
from elasticjob.model.secrets import keep_secrets
from elasticjob.registry import (
    JsonStore,
    Layout,
    NodeAlreadyExists,
    NodeMissing,
    StoreError,
    Transaction,
    VersionConflict,
)
from elasticjob.registry.state import IMPLIED_BY, STOPS, ClusterState, CorruptConfig, JobRecord, Stored
from elasticjob.registry.store import encode
from elasticjob.security.scopes import EVERYTHING, JobScope
from elasticjob.security.urls import DEFAULT, UrlPolicy, UrlRefused

DEFAULT_BOOTSTRAP_SCRIPT = "bin/start.sh"
# A job's ready queue lives in one znode; manual triggers beyond this many pending firings are refused.
MAX_PENDING_TRIGGERS = 100
# A job and its implied app are written in one ZooKeeper request, which must stay under the server's
# jute.maxbuffer (1 MiB by default): a larger one makes ZooKeeper drop the master's connection.
MAX_CONFIG_BYTES = 256 * 1024
# A write decided on a stale view is decided again (after the view caught up) at most this many times.
ATTEMPTS = 10
SYNC_WAIT = 10.0  # seconds a write waits for the state to be re-read after a reconnect, before 503


class _AlreadyAsked(Exception):
    """A stop request that exists already."""


class JobService:
    """Apps, jobs, disable markers, manual triggers and read-only task views.

    ``url_policy`` is the deployment's choice of app and artifact URLs (``security.urls``): every write
    of an app or job is checked against it (422 naming the field and the flag that would allow it).
    """

    def __init__(self, store: JsonStore, layout: Layout, state: ClusterState,
                 url_policy: UrlPolicy = DEFAULT) -> None:
        self.store = store
        self.layout = layout
        self.state = state
        self.url_policy = url_policy
        self._upcoming: dict[tuple[str | None, str, str], tuple[int, dt.datetime | None]] = {}

    # ---- jobs -----------------------------------------------------------------------------------
    def register_job(
        self,
        job: Job,
        creator: str | None = None,
        run_now: bool = False,
        prepare: Callable[[Transaction, Job], Job] | None = None,
    ) -> Job:
        """Register ``job``; ``creator`` (the authenticated principal's name, None without auth) and the
        time are recorded beside it (``job_meta``) in the same transaction; with ``run_now`` its first
        firing is queued in that transaction too (a job that runs once when it is created, as a Kubernetes
        Job does: never registered without its run).

        ``prepare(txn, job)``, called first each time the registration is decided (again, after a version
        conflict), may add its own operations to the transaction and returns the job to register in it:
        ``job`` renamed, for instance, after a number it takes from a counter it sets in ``txn`` with a
        version check (the ``execs`` dialect's ids: a conflict decides again with a fresh number). Checks
        are made on ``job``; the prepared job may differ from it in its name and ``dialectSpec`` only.
        Returns the job registered."""
        job = keep_secrets(_with_secrets(job, None), None)  # a mask is no value to store (422)
        self._check_schedule(job)
        self._check_job_urls(job)
        _check_size("job", job.jobName, job.as_json())
        template = job

        def registration() -> Transaction:
            nonlocal job
            txn = self.store.transaction()
            if prepare is not None:
                job = prepare(txn, template)
            if self.state.job(job.jobName) is not None:
                raise Conflict(f"job '{job.jobName}' already exists; use PUT /job/update to change it")
            self._add_app_ops(txn, job, previous=None)
            txn.create(self.layout.job(job.jobName), job.as_json())
            now = dt.datetime.now(dt.UTC)
            self._add_meta_ops(txn, job.jobName, JobMeta.created(creator, now))
            # The cron cursor starts at registration: firings due while no leader runs are still caught up.
            first = (Firing.trigger(now),) if run_now else ()
            queue = ReadyQueue(cursor=now, firings=first).to_json()
            stale = self.state.queue(job.jobName)
            if stale is None:
                txn.create(self.layout.ready(job.jobName), queue)
            else:
                txn.set(self.layout.ready(job.jobName), queue, version=stale[1])
            return txn

        self._commit_deciding_again(registration, f"job '{job.jobName}'")
        return job

    def update_job(self, job: Job) -> Job:
        stored_job = self.state.job(job.jobName)
        # A masked secret sent back (a client that read the job and wrote it again) keeps the stored one.
        job = _with_secrets(job, stored_job.model if stored_job is not None else None)
        self._check_schedule(job)
        self._check_job_urls(job)
        _check_size("job", job.jobName, job.as_json())
        if stored_job is not None and _same(keep_secrets(job, stored_job.model), stored_job.model):
            # Nothing changes (a client writing back what it read): no write, and updatedAt stays.
            return stored_job.model

        written = job

        def update() -> Transaction:
            nonlocal written
            stored = self._job(job.jobName)
            # A secret sent back as the mask keeps its stored value (model/secrets.py).
            written = keep_secrets(job, stored.model)
            txn = self.store.transaction()
            self._add_app_ops(txn, written, previous=stored.model)
            if stored.model.effective_app_name != written.effective_app_name:
                # The job moves to another app: an implied app it leaves without jobs goes with it.
                self._add_orphaned_app_ops(txn, stored.model)
            txn.set(self.layout.job(job.jobName), written.as_json(), version=stored.version)
            known = self.state.job_meta(job.jobName)
            meta = known[0] if known is not None else JobMeta()  # registered before metadata was kept
            self._add_meta_ops(txn, job.jobName, meta.updated(dt.datetime.now(dt.UTC)))
            return txn

        self._commit_deciding_again(update, f"job '{job.jobName}'")
        return written

    def deregister_job(self, name: str) -> None:
        def removal() -> Transaction:
            stored = self._job(name)
            txn = self.store.transaction()
            self._add_job_removal_ops(txn, stored.model, stored.version)
            self._add_orphaned_app_ops(txn, stored.model)
            return txn

        self._commit_deciding_again(removal, f"job '{name}'")

    def job(self, name: str) -> Job:
        return self._job(name).model

    def job_meta(self, name: str) -> dict[str, Any]:
        """``{"jobName", "createdBy", "createdAt", "updatedAt"}`` of a job (each left out when unknown:
        no authentication, or a job registered before they were recorded); NotFound for no such job."""
        self._job(name)
        known = self.state.job_meta(name)
        return {"jobName": name, **(known[0].to_json() if known is not None else {})}

    def job_view(self, name: str, now: dt.datetime | None = None) -> bytes:
        """The job's configuration plus ``nextFireTime`` and ``lastFireTime`` (ISO 8601 in the job's time
        zone, with its UTC offset; omitted when there is none, as null fields are everywhere) and the misfire
        accounting: ``pendingFirings`` (queued, not started) and ``missedFirings`` (never ran), as JSON.
        Built from the job's stored JSON, without parsing it into a model: cheap enough for the event loop."""
        record = self.state.job_record(name)
        if record is None:
            raise NotFound(f"job '{name}' does not exist")
        if record.error is not None:
            raise CorruptConfig(record.error)
        stored = self.state.queue(name)
        queue = stored[0] if stored is not None else ReadyQueue()
        zone = cron.load_time_zone(record.time_zone)
        after = max(filter(None, (queue.cursor, now or dt.datetime.now(dt.UTC))))
        upcoming = self._next_fire(record, after)
        extra: dict[str, Any] = {}
        if upcoming is not None:
            extra["nextFireTime"] = upcoming.astimezone(zone).isoformat()
        extra["pendingFirings"] = len(queue.firings)
        extra["missedFirings"] = queue.missed
        if queue.last_fire_time is not None:
            extra["lastFireTime"] = queue.last_fire_time.astimezone(zone).isoformat(timespec="milliseconds")
        # The stored JSON is a non-empty object: the computed fields are appended to it.
        return record.json[:-1] + b"," + encode(extra)[1:]

    def next_fire(self, name: str, now: dt.datetime | None = None) -> dt.datetime | None:
        """The job's next scheduled instant (after its cron cursor and now), or None (no schedule, or none
        left, or no such job)."""
        record = self.state.job_record(name)
        if record is None or record.error is not None:
            return None
        stored = self.state.queue(name)
        cursor = stored[0].cursor if stored is not None else None
        return self._next_fire(record, max(filter(None, (cursor, now or dt.datetime.now(dt.UTC)))))

    def jobs_json(self, start: int, stop: int, jobs: JobScope = EVERYTHING,
                  namespace: str | None = None) -> tuple[list[bytes], int]:
        """The JSON of the jobs (of those ``jobs`` covers, and directly in ``namespace`` when given: see
        ``in_namespace``) at positions ``[start:stop]`` in name order, and the number of them."""
        if not jobs.confined and namespace is None:
            return self.state.jobs_json(start, stop)
        names = jobs.within(self.state.job_names())
        if namespace is not None:
            names = in_namespace(names, namespace)
        return self.state.jobs_json_named(names[start:stop]), len(names)

    def jobs(self, jobs: JobScope = EVERYTHING) -> list[Job]:
        """The valid jobs (of those ``jobs`` covers) in name order."""
        models = []
        for name in jobs.within(self.state.job_names()):
            with contextlib.suppress(CorruptConfig):
                stored = self.state.job(name)
                if stored is not None:
                    models.append(stored.model)
        return models

    def set_job_disabled(self, name: str, disabled: bool) -> None:
        self._job(name)
        self._set_marker(self.layout.disabled_job(name), disabled)

    def job_disabled(self, name: str) -> bool:
        self._job(name)
        return self.state.job_disabled(name)

    def trigger(
        self, name: str, now: dt.datetime | None = None, overrides: Overrides = NO_OVERRIDES
    ) -> dict[str, Any]:
        """Queue one firing of a TRANSIENT job now (with ``overrides`` for that run only); returns the queued
        firing."""
        instant = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        firing = Firing.trigger(instant, overrides=overrides)
        path = self.layout.ready(name)

        def trigger() -> Transaction:
            stored = self._job(name)
            job = stored.model
            if job.jobExecutionType is JobExecutionType.DAEMON:
                raise Conflict(
                    f"job '{name}' is a DAEMON job; it runs on its own cron and cannot be triggered"
                )
            if self.state.job_disabled(name) or self.state.app_disabled(job.effective_app_name):
                raise Conflict(f"job '{name}' is disabled; enable it before triggering it")
            current = self.state.queue(name)
            txn = self.store.transaction().check(self.layout.job(name), stored.version)
            if current is None:
                return txn.create(path, ReadyQueue(cursor=instant, firings=(firing,)).to_json())
            queue, version = current
            if len(queue.firings) >= MAX_PENDING_TRIGGERS:
                raise Conflict(
                    f"job '{name}' already has {len(queue.firings)} pending firings; wait for "
                    "them to run before triggering it again"
                )
            return txn.set(path, queue.with_trigger(firing).to_json(), version=version)

        self._commit_deciding_again(trigger, f"the ready queue of job '{name}'")
        return firing.to_json()

    def request_stop(self, name: str, firing_id: str, reason: str) -> None:
        """Ask the leader to stop the run of ``firing_id`` (``/state/stop/{job}/{firingId}``); asking again
        while it is being stopped changes nothing."""
        path = self.layout.stop(name, firing_id)
        request = StopRequest(reason, dt.datetime.now(dt.UTC)).to_json()

        def stop() -> Transaction:
            if self.state.mirror.contains(STOPS, (name, firing_id)):
                raise _AlreadyAsked()
            txn = self.store.transaction()
            if not self.state.has_stops(name):
                txn = txn.create(self.layout.stops(name))
            return txn.create(path, request)

        try:
            self._commit_deciding_again(stop, f"the stop requests of job '{name}'")
        except _AlreadyAsked:
            return

    # ---- task views -----------------------------------------------------------------------------
    def ready_tasks(self, jobs: JobScope = EVERYTHING) -> list[dict[str, Any]]:
        """Elastic-Job-Cloud's ``tasks/ready`` shape ``[{"jobName": ..., "times": "<count>"}]``, plus
        ``reason`` when the scheduler says why the job waits (of the jobs ``jobs`` covers)."""
        result = []
        for job_name, queue in self.state.waiting():
            if queue.firings and jobs.covers(job_name):
                row = {"jobName": job_name, "times": str(len(queue.firings))}
                if queue.reason:
                    row["reason"] = queue.reason
                result.append(row)
        return result

    def running_tasks(self, jobs: JobScope = EVERYTHING) -> list[Any]:
        """Elastic-Job-Cloud's TaskContext shape for every launched, unfinished task (of ``jobs``)."""
        return [task.native_view() for task in self.state.running() if jobs.covers(task.job_name)]

    def failover_tasks(self, jobs: JobScope = EVERYTHING) -> list[Any]:
        """Elastic-Job-Cloud's FailoverTaskInfo shape for every shard queued to run again (of ``jobs``)."""
        return [entry.native_view() for entry in self.state.failover() if jobs.covers(entry.job_name)]

    # ---- apps -----------------------------------------------------------------------------------
    def register_app(self, app: App) -> App:
        self._check_url("appURL", app.appURL)
        _check_size("app", app.appName, app.model_dump(mode="json"))
        self._require_sync()
        path = self.layout.app(app.appName)
        try:
            self._commit_stamped(self.store.transaction().create(path, app.model_dump(mode="json")))
        except NodeAlreadyExists:
            self.state.written([path])
            raise Conflict(f"app '{app.appName}' already exists; use PUT /app to change it") from None
        return app

    def update_app(self, app: App) -> App:
        self._check_url("appURL", app.appURL)
        _check_size("app", app.appName, app.model_dump(mode="json"))

        def update() -> Transaction:
            stored = self._app(app.appName)
            return self.store.transaction().set(
                self.layout.app(app.appName), app.model_dump(mode="json"), version=stored.version
            )

        self._commit_deciding_again(update, f"app '{app.appName}'")
        return app

    def app(self, name: str) -> App:
        return self._app(name).model

    def apps(self) -> list[App]:
        return [stored.model for stored in self.state.apps()]

    def apps_json(self, start: int, stop: int, jobs: JobScope = EVERYTHING) -> tuple[list[bytes], int]:
        """The JSON of the apps (of those ``jobs`` covers) at positions ``[start:stop]`` in name order, and
        the number of them."""
        apps = [a for a in self.state.apps() if jobs.covers(a.model.appName)]
        return [encode(a.model.model_dump(mode="json")) for a in apps[start:stop]], len(apps)

    def deregister_app(self, name: str, cascade: bool = False) -> list[str]:
        """Remove an app; with ``cascade`` also every job that uses it. Returns the removed job names."""
        removed: list[str] = []

        def removal() -> Transaction:
            stored = self._app(name)
            names = self.state.jobs_of_app(name)
            if names and not cascade:
                raise Conflict(
                    f"app '{name}' is used by job(s) {', '.join(names)}; remove them first or use "
                    "?cascade=true"
                )
            txn = self.store.transaction()
            for job_name in names:
                job = self._job(job_name)
                self._add_job_removal_ops(txn, job.model, job.version)
            txn.delete(self.layout.app(name), version=stored.version)
            if self.state.app_disabled(name):
                txn.delete(self.layout.disabled_app(name))
            removed[:] = names
            return txn

        self._commit_deciding_again(removal, f"app '{name}'")
        return removed

    def set_app_disabled(self, name: str, disabled: bool) -> None:
        self._app(name)
        self._set_marker(self.layout.disabled_app(name), disabled)

    def app_disabled(self, name: str) -> bool:
        self._app(name)
        return self.state.app_disabled(name)

    # ---- helpers --------------------------------------------------------------------------------
    def _job(self, name: str) -> Stored[Job]:
        stored = self.state.job(name)
        if stored is None:
            raise NotFound(f"job '{name}' does not exist")
        return stored

    def _app(self, name: str) -> Stored[App]:
        stored = self.state.app(name)
        if stored is None:
            raise NotFound(f"app '{name}' does not exist")
        return stored

    def _next_fire(self, record: JobRecord, after: dt.datetime) -> dt.datetime | None:
        """The job's first instant after ``after``. Cron fires on whole seconds, so the answer is the
        same for every ``after`` within one second: each schedule's last answer is kept for its second.
        None while the job's schedule is switched off (``scheduleActive: false``)."""
        if not record.schedule_active:
            return None
        key = (record.cron, record.cron_dialect, record.time_zone)
        second = int(after.timestamp() // 1)
        known = self._upcoming.get(key)
        # (An ISO 8601 start may fall within a second: an answer that has passed is computed again.)
        if known is not None and known[0] == second and (known[1] is None or known[1] > after):
            return known[1]
        upcoming = cron.parse_cached(*key).next_fire(after)
        if len(self._upcoming) > 10_000:
            self._upcoming.clear()
        self._upcoming[key] = (second, upcoming)
        return upcoming

    def _check_schedule(self, job: Job) -> None:
        try:
            schedule = cron.parse_cached(job.cron, job.cron_dialect, job.timeZone)
        except cron.CronError as exc:
            raise ValidationFailed.field("cron", exc.message) from None
        if job.cron is not None and schedule.next_fire(dt.datetime.now(dt.UTC)) is None:
            raise ValidationFailed.field("cron", f"{job.cron!r} never fires (no such date from now on)")

    def _check_job_urls(self, job: Job) -> None:
        if job.appURL is not None:
            self._check_url("appURL", job.appURL)
        for index, artifact in enumerate(job.artifacts or ()):
            self._check_url(f"artifacts.{index}.uri", artifact.uri)
        for index, hook in enumerate(job.webhooks or ()):
            self._check_url(f"webhooks.{index}.url", hook.url)

    def _check_url(self, path: str, url: str) -> None:
        try:
            self.url_policy.check(url)
        except UrlRefused as exc:
            raise ValidationFailed.field(path, str(exc)) from None

    def _add_app_ops(self, txn: Transaction, job: Job, previous: Job | None) -> None:
        """Check the job's app exists (and stays so until commit) or create the single-step form's app."""
        name = job.effective_app_name
        stored = self.state.app(name)
        if job.appURL is None:
            if stored is None:
                raise ValidationFailed.field("appName", f"app '{name}' is not registered (POST /app first)")
            txn.check(self.layout.app(name), stored.version)
            return
        if stored is None:
            # A job of another API (Metronome's) names the resources of its whole task: its app's executor
            # adds as little as the model allows.
            foreign = job.dialect is not None
            implied = App(
                appName=name,
                appURL=job.appURL,
                bootstrapScript=job.bootstrapScript or DEFAULT_BOOTSTRAP_SCRIPT,
                cpuCount=0.001 if foreign else 1.0,
                memoryMB=1.0 if foreign else 128.0,
            )
            txn.create(self.layout.app(name), {**implied.model_dump(mode="json"), IMPLIED_BY: job.jobName})
            return
        if stored.model.appURL == job.appURL:
            txn.check(self.layout.app(name), stored.version)
            return
        # A single-step job may move its own implied app to a new URL; a shared app is changed via PUT /app.
        owner = previous is not None and previous.appURL is not None and previous.effective_app_name == name
        if owner and stored.implied and all(j == job.jobName for j in self.state.jobs_of_app(name)):
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
        app = self.state.app(job.effective_app_name)
        if app is None or not app.implied:
            return
        if any(j != job.jobName for j in self.state.jobs_of_app(app.model.appName)):
            return
        txn.delete(self.layout.app(app.model.appName), version=app.version)
        if self.state.app_disabled(app.model.appName):
            txn.delete(self.layout.disabled_app(app.model.appName))

    def _add_meta_ops(self, txn: Transaction, name: str, meta: JobMeta) -> None:
        """Write the job's metadata (over a stale record of an earlier job of that name, if one is left)."""
        known = self.state.job_meta(name)
        if known is None:
            txn.create(self.layout.job_meta(name), meta.to_json())
        else:
            txn.set(self.layout.job_meta(name), meta.to_json(), version=known[1])

    def _add_job_removal_ops(self, txn: Transaction, job: Job, version: int) -> None:
        """Delete a job's config, metadata and queued state. Running tasks stay until the scheduler kills
        them."""
        name = job.jobName
        txn.delete(self.layout.job(name), version=version)
        meta = self.state.job_meta(name)
        if meta is not None:
            txn.delete(self.layout.job_meta(name), version=meta[1])
        if self.state.job_disabled(name):
            txn.delete(self.layout.disabled_job(name))
        ready = self.state.queue(name)
        if ready is not None:
            txn.delete(self.layout.ready(name), version=ready[1])
        entries = self.state.failover_of(name)
        if entries:
            for entry, entry_version in entries:
                txn.delete(self.layout.failover_item(name, entry.key), version=entry_version)
            txn.delete(self.layout.failover(name))

    def _set_marker(self, path: str, present: bool) -> None:
        # Not decided on the in-memory state: a stale view must not turn "enable" into a no-op.
        self._require_sync()
        txn = self.store.transaction()
        txn = txn.create(path) if present else txn.delete(path)
        try:
            self._commit_stamped(txn)
        except (NodeAlreadyExists, NodeMissing):
            self.state.written([path])  # already as asked (or a concurrent request made it so)

    def _commit_deciding_again(self, build: Callable[[], Transaction], what: str) -> None:
        """Commit ``build()``'s transaction, then wait until this master's state shows it.

        ``build`` decides on the in-memory state, which may lag ZooKeeper by a moment (another master's
        write, the leader's queue updates): a transaction that fails on a version, a missing or an
        existing znode waits for the state to catch up and is decided again — ``build`` then raises
        NotFound/Conflict itself if the failure was real. Gives up with 409 after ``ATTEMPTS``.
        """
        self._require_sync()
        for _ in range(ATTEMPTS):
            txn = build()
            try:
                self._commit_stamped(txn)
            except (VersionConflict, NodeMissing, NodeAlreadyExists):
                self.state.written(txn.paths)  # what it was decided on is read again
                continue
            except StoreError as exc:
                raise self._concurrent(exc) from None
            return
        raise Conflict(f"{what} kept changing; read the current state and try again")

    def _commit_stamped(self, txn: Transaction) -> None:
        """Commit ``txn`` with the stamp that gives its id, then apply it to this master's state at once (a
        client that wrote reads its write here). A stamp znode removed by hand is put back."""
        txn.stamp(self.layout.stamp)
        try:
            results = txn.commit(self.state.expect)
        except NodeMissing as exc:
            if exc.path != self.layout.stamp:
                raise
            self.store.client.ensure_path(self.layout.stamp)
            retry = self.store.transaction()
            for write in txn.writes:
                retry.add(write)
            results, txn = retry.commit(self.state.expect), retry
        self.state.committed(txn.writes, results)

    def _require_sync(self) -> None:
        """Writes are decided on the in-memory state: not while it is being re-read after a reconnect."""
        if not self.state.wait_synced(SYNC_WAIT):
            raise Unavailable("this master is re-reading its state from ZooKeeper; try again shortly")

    @staticmethod
    def _concurrent(exc: StoreError) -> Conflict:
        return Conflict(f"a concurrent change interfered ({exc}); read the current state and try again")


def in_namespace(ordered: list[str], namespace: str) -> list[str]:
    """Those of the sorted names ``ordered`` directly in ``namespace`` (``namespace_of``): ``a`` holds
    ``a.x`` but not ``a.b.x`` (which is in ``a.b``). Found by bisection, except for the default namespace,
    whose names (those without dots) are spread over the whole list."""
    if namespace == DEFAULT_NAMESPACE:
        return [name for name in ordered if namespace_of(name) == namespace]
    prefix = namespace + "."
    start = bisect.bisect_left(ordered, prefix)
    stop = bisect.bisect_left(ordered, namespace + "/")  # "/" follows "." in code point order
    return [name for name in ordered[start:stop] if "." not in name[len(prefix):]]


def _with_secrets(job: Job, stored: Job | None) -> Job:
    """``job`` with the masked secrets it sent back replaced by ``stored``'s (422 naming the field when
    there is no such stored secret: a new webhook, or one whose URL changed)."""
    if not job.webhooks:
        return job
    value = job.as_json()
    try:
        complete = unmasked(value, stored.as_json() if stored is not None else None)
    except MaskedSecretUnknown as exc:
        raise ValidationFailed.field(exc.path, "give the secret itself: no stored secret matches this "
                                     "webhook (a new one, or its url changed)") from None
    return job if complete is value else Job.model_validate(complete, strict=False)


def _check_size(kind: str, name: str, value: Any) -> None:
    """Refuse a configuration too large to store (the job's size also bounds its implied app's)."""
    size = len(encode(value))
    if size > MAX_CONFIG_BYTES:
        raise ValidationFailed(f"{kind} '{name}' is {size} bytes as JSON; the limit is {MAX_CONFIG_BYTES}")


def _same(job: Job, stored: Job) -> bool:
    """Whether writing ``job`` over ``stored`` would change nothing."""
    return job.as_json() == stored.as_json()
