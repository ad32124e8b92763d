"""Which runs of jobs with webhooks started or ended, told by the leader's own commits.

A run ends when the last of its firing leaves the state: its queued firing, running tasks, failover
entries and stop request — only the leader's commits remove those. So around each commit (``Applier``)
the unfinished firings of the jobs it touches are compared before and after: those gone ended. A run
starts with its firing's first launch (attempt 0 of a READY task; a firing's shards are launched
together). Only jobs whose webhooks ask for the event cost anything: the others are skipped at once.

Notices are collected during a scheduling cycle and handed to the history's recorder (``flush``) at its
end, behind every event the cycle recorded — the ends of the tasks included — so the history builds the
payload from the run as recorded, in the transaction that records those events when they share a batch.

Used by the scheduler's thread alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from elasticjob.model.running import RunningTask
from elasticjob.model.task import TaskKind
from elasticjob.model.webhook import RunNotice, WebhookEvent
from elasticjob.registry.state import FAILOVER, READY, RUNNING, STOPS, ClusterState, CorruptConfig
from elasticjob.registry.store import Write
from elasticjob.scheduler.ports import NoticeSink

_RUN_COLLECTIONS = (RUNNING, READY, FAILOVER, STOPS)


class RunNotices:
    def __init__(self, state: ClusterState, sink: NoticeSink | None) -> None:
        self.state = state
        self.sink = sink
        self._pending: list[RunNotice] = []

    def _hooked(self, job_name: str, event: WebhookEvent) -> tuple[tuple[str, ...], int] | None:
        """The URLs of the job's webhooks on ``event`` and its shard count, or None when it has none."""
        record = self.state.job_record(job_name)
        if record is None or record.full is None:  # no secret: no webhook (checked without parsing)
            return None
        try:
            stored = self.state.job(job_name)
        except CorruptConfig:
            return None
        if stored is None or not stored.model.webhooks:
            return None
        urls = tuple(h.url for h in stored.model.webhooks if event in h.events)
        return (urls, stored.model.shardingTotalCount) if urls else None

    def before(self, writes: Iterable[Write]) -> dict[str, set[str]]:
        """The unfinished firings, before a commit of ``writes``, of the jobs they touch that have webhooks
        on run ends."""
        if self.sink is None:
            return {}
        jobs = {
            w.key[0] if isinstance(w.key, tuple) else w.key
            for w in writes
            if w.collection in _RUN_COLLECTIONS and w.key is not None
        }
        hooked = [job for job in jobs if self._hooked(job, WebhookEvent.END)]
        return {job: self.state.unfinished_firings(job) for job in hooked}

    def after(self, before: dict[str, set[str]]) -> None:
        """After the commit (applied to the state): the firings gone from ``before`` ended."""
        for job, firings in before.items():
            ended = firings - self.state.unfinished_firings(job)
            hooked = self._hooked(job, WebhookEvent.END) if ended else None
            if hooked is not None:
                urls, total = hooked
                self._pending.extend(RunNotice(job, f, WebhookEvent.END, urls, total) for f in sorted(ended))

    def ended(self, job: str, firing_ids: Sequence[str]) -> None:
        """Firings that ended without having been in the state (dropped MISSED as they were due)."""
        hooked = self._hooked(job, WebhookEvent.END) if self.sink is not None and firing_ids else None
        if hooked is not None:
            urls, total = hooked
            self._pending.extend(RunNotice(job, f, WebhookEvent.END, urls, total) for f in firing_ids)

    def launched(self, tasks: Iterable[RunningTask]) -> None:
        """Tasks just launched: a firing's first attempt starts its run."""
        if self.sink is None:
            return
        firsts: dict[tuple[str, str], None] = {}
        for task in tasks:
            if task.attempt == 0 and task.kind is TaskKind.READY:
                firsts[(task.job_name, task.firing_id)] = None
        for job, firing in firsts:
            hooked = self._hooked(job, WebhookEvent.START)
            if hooked is not None:
                urls, total = hooked
                self._pending.append(RunNotice(job, firing, WebhookEvent.START, urls, total))

    def flush(self) -> None:
        """Hand what was collected to the sink."""
        if self._pending and self.sink is not None:
            pending, self._pending = self._pending, []
            self.sink.notify(pending)
