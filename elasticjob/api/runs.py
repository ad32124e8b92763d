"""Runs of a job: its firings, each with all its shards' tasks (``model/run.py``), for the API.

A run is put together from two sources and nothing else: the leader's in-memory state for what is still
queued, running or waiting to run again (``ClusterState``: no ZooKeeper read), and the history store for
every task ever launched (one query for a page of runs, one for a run by id). The leader answers (its
state is the newest and, with the default SQLite store, the history is its own); followers forward.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from elasticjob.history import Execution, HistoryStore
from elasticjob.history.store import MAX_PER_PAGE
from elasticjob.model import Conflict, NotFound
from elasticjob.model.queue import NO_OVERRIDES, Overrides
from elasticjob.model.run import RUN_ID_RE, Run, RunStatus, RunTask, assemble
from elasticjob.model.running import RunningTask
from elasticjob.registry.state import ClusterState

DEFAULT_PER_PAGE = 20
RECENT = dt.timedelta(hours=1)


def running_task(task: RunningTask) -> RunTask:
    return RunTask(
        task_id=task.task_id,
        sharding_item=task.sharding_item,
        state=task.state.value,
        agent_id=task.agent_id,
        hostname=task.hostname,
        attempt=task.attempt,
        created_at=task.launched_at,
        started_at=task.started_at,
    )


class _Active:
    """What the leader's state holds of a job's unfinished firings."""

    def __init__(self, state: ClusterState, job_name: str) -> None:
        self.running: dict[str, list[RunTask]] = defaultdict(list)
        self.overrides: dict[str, Overrides] = {}  # of the firings that have some
        for task, _version in state.running_of(job_name):
            self.running[task.firing_id].append(running_task(task))
            if task.overrides:
                self.overrides[task.firing_id] = task.overrides
        self.pending: dict[str, int] = defaultdict(int)
        for entry, _version in state.failover_of(job_name):
            self.pending[entry.firing_id] += 1
            if entry.overrides:
                self.overrides[entry.firing_id] = entry.overrides
        found = state.queue(job_name)
        firings = found[0].firings if found is not None else ()
        self.queued: dict[str, dt.datetime] = {f.firing_id: f.scheduled_at for f in firings}
        self.overrides.update((f.firing_id, f.overrides) for f in firings if f.overrides)
        self.waits_because = found[0].reason if found is not None else ""

    def run(
        self, job_name: str, firing_id: str, recorded: list[Execution], overrides: Overrides | None = None
    ) -> Run:
        """The run of ``firing_id``; ``overrides``: those the history recorded for it."""
        overrides = self.overrides.get(firing_id) or overrides or NO_OVERRIDES
        run = assemble(
            job_name,
            firing_id,
            [e.run_task() for e in recorded],
            running=self.running.get(firing_id, ()),
            pending_shards=self.pending.get(firing_id, 0),
            queued_at=self.queued.get(firing_id),
        )
        if run.status is RunStatus.INITIAL and self.waits_because:
            run = dataclasses.replace(run, reason=self.waits_because)
        if overrides:
            run = dataclasses.replace(run, environment=overrides.env, job_parameter=overrides.job_parameter)
        return run

    def unfinished(self) -> list[str]:
        """Firings queued, running or waiting to run again, newest first."""
        firings = set(self.queued) | set(self.running) | set(self.pending)
        latest = dt.datetime.max.replace(tzinfo=dt.UTC)  # launched: newer than anything queued
        return sorted(firings, key=lambda f: (self.queued.get(f) or latest, f), reverse=True)


class RunsView:
    """``request_stop(job, firing_id, reason)`` records a request to stop a run (``JobService``)."""

    def __init__(
        self,
        state: ClusterState,
        history: HistoryStore,
        request_stop: Callable[[str, str, str], None],
        settle: Callable[[str], bool] = lambda _job: True,
    ) -> None:
        self.state = state
        self.history = history
        self.request_stop = request_stop
        # ``settle(job)``: wait until the events recorded for the job are in the history (the leader's
        # recorder writes behind the scheduler): a run that just left the state is found there after it.
        self.settle = settle

    def page(self, job_name: str, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> dict[str, Any]:
        """``{"total", "runs"}``: a page of the job's runs, newest first — those still queued first
        (``page`` and ``per_page`` within the bounds the route declares: ``MAX_PAGE``, ``MAX_PER_PAGE``)."""
        total, runs = self.runs(job_name, (page - 1) * per_page, per_page)
        return {"total": total, "runs": [run.to_json() for run in runs]}

    def runs(self, job_name: str, offset: int, limit: int) -> tuple[int, list[Run]]:
        """The number of the job's runs, and ``limit`` of them from ``offset``, newest first."""
        active = _Active(self.state, job_name)
        # Firings queued, or launched a moment ago, are not in the history yet (it is written behind the
        # scheduler): the store lists those first (they are the newest).
        found = self.history.firings(job_name, offset, limit, active.unfinished())
        if not found.total and self.state.job(job_name) is None:
            raise NotFound(f"job '{job_name}' does not exist")
        overrides = self._overrides(job_name, [firing for firing, rows in found.rows if rows])
        runs = [active.run(job_name, firing, rows, overrides.get(firing)) for firing, rows in found.rows]
        return found.total, runs

    def has_active(self, job_name: str) -> bool:
        """Whether the job has a run queued, running, waiting to run a shard again or being stopped (state
        only)."""
        return bool(self.state.unfinished_firings(job_name))

    def active(self, job_name: str) -> list[Run]:
        """The job's unfinished runs, newest first (from the state; their tasks from the history)."""
        unfinished = _Active(self.state, job_name).unfinished()
        if not unfinished:
            return []
        _, recent = self.runs(job_name, 0, min(MAX_PER_PAGE, 2 * len(unfinished) + 10))
        found = {run.firing_id: run for run in recent if not run.status.finished}
        return [found[f] for f in unfinished if f in found]

    def get(self, job_name: str, run_id: str) -> dict[str, Any]:
        """One run by its id (404 when the job has no such run)."""
        return self.find(job_name, run_id).to_json()

    def stop(self, job_name: str, run_id: str, reason: str = "") -> dict[str, Any]:
        """Stop an unfinished run: the leader kills its running tasks and drops what it has queued (its
        shards then end KILLED, and are not run again). 409 for a run that already ended. Returns the run
        as it is when asked."""
        run = self.find(job_name, run_id)
        if run.status.finished:
            raise Conflict(f"run '{run_id}' of job '{job_name}' has already finished ({run.status.value})")
        self.request_stop(job_name, run.firing_id, reason or "stopped through the API")
        return run.to_json()

    def delete(self, job_name: str, run_id: str) -> None:
        """Delete a finished run's record from the history (its executions, status traces and overrides).
        404 for an unknown job or run; 409 for a run not finished (stop it first) or whose history still
        shows a task going."""
        try:
            run = self.find(job_name, run_id)
        except NotFound:
            if self.state.job(job_name) is None:
                raise NotFound(f"job '{job_name}' does not exist") from None
            raise
        if not run.status.finished:
            raise Conflict(
                f"run '{run_id}' of job '{job_name}' has not finished ({run.status.value}); stop it first"
            )
        if not self.history.delete_runs(job_name, [run.firing_id]):
            raise Conflict(f"run '{run_id}' of job '{job_name}' still has a task the history shows as going")

    def find(self, job_name: str, run_id: str) -> Run:
        """One run by its id; ``NotFound`` when the job has no such run.

        A run whose last part just left the state (a stopped run's dropped firing, a shard's end) is in
        the history only once the recorder wrote it: before answering 404, wait for the job's recorded
        events, and look once more a moment later (the scheduler records what it committed right after
        applying it to the state)."""
        try:
            if not RUN_ID_RE.fullmatch(run_id):
                raise ValueError(run_id)
            instant = dt.datetime.strptime(run_id[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
        except ValueError:  # not an id, or one whose digits are no date (month 13): no run has it
            raise NotFound(f"run '{run_id}' of job '{job_name}' does not exist") from None
        # The moment's pause only for a run of the last hour: an old id that is not found is simply gone.
        recent = dt.datetime.now(dt.UTC) - instant < RECENT
        for pause in (0.0, 0.0, 0.2) if recent else (0.0, 0.0):
            time.sleep(pause)
            found = self._find(job_name, run_id, instant)
            if found is not None:
                return found
            self.settle(job_name)
        raise NotFound(f"run '{run_id}' of job '{job_name}' does not exist")

    def _find(self, job_name: str, run_id: str, instant: dt.datetime) -> Run | None:
        active = _Active(self.state, job_name)
        candidates: dict[str, list[Execution]] = {f: [] for f in active.unfinished()}
        candidates.update(self.history.firings_at(job_name, instant))
        for firing, rows in candidates.items():
            if active.run(job_name, firing, rows).run_id == run_id:
                if firing in active.overrides:
                    return active.run(job_name, firing, rows)
                return active.run(job_name, firing, rows, self._overrides(job_name, [firing]).get(firing))
        return None

    def _overrides(self, job_name: str, firings: list[str]) -> dict[str, Overrides]:
        found = self.history.run_overrides(job_name, firings)
        return {firing: Overrides.from_json(value) for firing, value in found.items()}
