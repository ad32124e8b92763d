"""``StatisticsSampler.sample``: only the leader samples; old samples are pruned; a failing store costs
that sample only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from elasticjob.history.sampler import StatisticsSampler
from elasticjob.history.store import HistoryError

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Recording:
    def __init__(self, fail: bool = False) -> None:
        self.samples: list[tuple[datetime, int, int, int]] = []
        self.pruned: list[datetime] = []
        self.fail = fail

    def record_sample(self, at: datetime, running_tasks: int, running_jobs: int, registered: int) -> None:
        if self.fail:
            raise HistoryError("database is down")
        self.samples.append((at, running_tasks, running_jobs, registered))

    def prune_samples(self, before: datetime) -> int:
        self.pruned.append(before)
        return 0


def _sampler(store: Recording, leading: list[bool]) -> StatisticsSampler:
    return StatisticsSampler(store, lambda: (5, 2, 9), lambda: leading[0],  # type: ignore[arg-type]
                             keep=timedelta(days=10), now=lambda: NOW)


def test_the_leader_writes_what_it_counts_and_prunes_once_an_hour() -> None:
    store = Recording()
    sampler = _sampler(store, [True])
    assert sampler.sample() and sampler.sample()
    assert store.samples == [(NOW, 5, 2, 9), (NOW, 5, 2, 9)]
    assert store.pruned == [NOW - timedelta(days=10)]


def test_a_follower_writes_nothing() -> None:
    store = Recording()
    assert not _sampler(store, [False]).sample()
    assert store.samples == [] and store.pruned == []


def test_a_failing_store_loses_that_sample_only() -> None:
    store = Recording(fail=True)
    sampler = _sampler(store, [True])
    assert not sampler.sample()
    store.fail = False
    assert sampler.sample() and store.samples == [(NOW, 5, 2, 9)]
