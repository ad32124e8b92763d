"""The history recorder on a real SQLite store: batched writes off the caller's thread, callbacks after."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from elasticjob.history import ExecutionQuery, open_history
from elasticjob.history.recorder import HistoryRecorder
from elasticjob.model.execution import ExecutionEvent

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def event(task: str, state: str, seconds: int) -> ExecutionEvent:
    return ExecutionEvent(task, "job", 0, "cron-1", state, agent_id="a1", at=T0 + dt.timedelta(seconds=seconds))


def test_events_are_written_in_order_and_callbacks_run_after_they_are_stored(tmp_path: Path) -> None:
    store = open_history(str(tmp_path / "history.db"))
    recorder = HistoryRecorder(store).start()
    seen_at_callback: list[int] = []
    done = threading.Event()

    def after() -> None:
        seen_at_callback.append(store.executions(ExecutionQuery(per_page=1000)).total)
        done.set()

    try:
        for i in range(300):
            recorder.record([event(f"t{i}", "STAGING", 0), event(f"t{i}", "RUNNING", 1)])
        recorder.record([event("t0", "FINISHED", 2)], then=after)
        assert done.wait(10)
        assert seen_at_callback == [300]  # everything before the callback was stored before it ran
        assert recorder.flush(10)
        page = store.executions(ExecutionQuery(task_id="t0"))
        assert [row.state for row in page.rows] == ["FINISHED"]
        assert store.executions(ExecutionQuery(states=frozenset({"RUNNING"}), per_page=1000)).total == 299
    finally:
        recorder.stop()
        store.close()


def test_a_store_that_keeps_failing_is_given_up_on_and_the_callback_still_runs(tmp_path: Path) -> None:
    store = open_history(str(tmp_path / "history.db"))
    store.close()  # every write now fails with HistoryError
    dropped: list[int] = []
    recorder = HistoryRecorder(store, give_up_after=0.5, on_dropped=dropped.append).start()
    done = threading.Event()
    try:
        recorder.record([event("t1", "FINISHED", 0)], then=done.set)
        assert done.wait(10)
        assert dropped == [1]
    finally:
        recorder.stop()


def test_beyond_the_bound_the_oldest_events_are_dropped_but_acknowledgements_kept(tmp_path: Path) -> None:
    store = open_history(str(tmp_path / "history.db"))
    dropped: list[int] = []
    recorder = HistoryRecorder(store, max_pending=10, on_dropped=dropped.append)
    acknowledged = threading.Event()
    try:
        recorder.record([event("first", "STAGING", 0)], then=acknowledged.set)
        for i in range(5):
            recorder.record([event(f"x{i}", "STAGING", 0), event(f"x{i}", "RUNNING", 1), event(f"x{i}", "FINISHED", 2)])
        assert sum(dropped) > 0  # not started yet: the queue overflowed
        recorder.start()
        assert acknowledged.wait(10)  # the dropped batch's acknowledgement still went out
        assert recorder.flush(10)
        assert store.executions(ExecutionQuery(per_page=1000)).total <= 10
    finally:
        recorder.stop()
        store.close()
