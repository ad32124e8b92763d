"""The scheduler's heap of next instants: one live entry per job, earliest first, stale entries skipped."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from elasticjob.scheduler.timers import FireHeap

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_due_jobs_come_out_earliest_first_and_leave() -> None:
    heap = FireHeap()
    heap.set("c", at(3))
    heap.set("a", at(1))
    heap.set("b", at(2))
    assert heap.peek() == at(1)
    assert heap.pop_due(at(2)) == ["a", "b"]
    assert "a" not in heap and "c" in heap and len(heap) == 1
    assert heap.pop_due(at(2.5)) == []
    assert heap.pop_due(at(10)) == ["c"]
    assert heap.peek() is None


def test_setting_again_supersedes_and_none_removes() -> None:
    heap = FireHeap()
    heap.set("a", at(1))
    heap.set("a", at(5))  # rescheduled later: the old entry must not fire
    heap.set("b", at(2))
    heap.set("b", None)
    assert heap.when("a") == at(5) and heap.when("b") is None
    assert heap.pop_due(at(4)) == []
    assert heap.peek() == at(5)
    heap.set("a", at(0))  # earlier again
    assert heap.pop_due(at(0)) == ["a"]


def test_the_heap_stays_proportional_to_the_jobs() -> None:
    heap = FireHeap()
    for round_ in range(50):
        for job in range(100):
            heap.set(f"j{job}", at(round_ * 1000 + job))
    assert len(heap) == 100
    assert len(heap._heap) <= 2 * 100 + 1024 + 1
    assert heap.pop_due(at(49 * 1000 + 99)) == [f"j{job}" for job in range(100)]


@given(st.lists(st.tuples(st.integers(0, 20), st.one_of(st.none(), st.integers(0, 50))), max_size=200))
def test_matches_a_dictionary_of_latest_instants(operations: list[tuple[int, int | None]]) -> None:
    heap = FireHeap()
    latest: dict[str, dt.datetime] = {}
    for job_number, seconds in operations:
        job = f"j{job_number}"
        heap.set(job, None if seconds is None else at(seconds))
        if seconds is None:
            latest.pop(job, None)
        else:
            latest[job] = at(seconds)
    now = at(random.Random(len(operations)).randint(0, 50))
    due = heap.pop_due(now)
    assert set(due) == {j for j, t in latest.items() if t <= now} and len(due) == len(set(due))
    assert [latest[j] for j in due] == sorted(latest[j] for j in due)  # earliest first
    assert all(heap.when(j) == t for j, t in latest.items() if t > now)
    assert heap.peek() == min((t for t in latest.values() if t > now), default=None)
