"""The history recorder on a real SQLite store: batched writes off the caller's thread, callbacks after."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from elasticjob.cli.main import main
from elasticjob.history import ExecutionQuery, open_history
from elasticjob.history.recorder import HistoryRecorder
from elasticjob.history.retention import DEFAULT_RUN_RETENTION, RunRetention
from elasticjob.master.config import MasterConfig
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


def test_the_recorder_prunes_old_runs_while_idle_and_writes_new_events_before_the_next_batch(
    tmp_path: Path,
) -> None:
    store = open_history(str(tmp_path / "history.db"))
    for i in range(20):
        store.record([ExecutionEvent(f"t{i}", "job", 0, f"cron-{i:02d}", "FINISHED", at=T0 + dt.timedelta(seconds=i))])
    retention = RunRetention(store, 3, lambda _job: set(), batch=2, settle=0)
    recorder = HistoryRecorder(store, retention=retention)
    written_between: list[bool] = []
    step = retention.step

    def step_while_the_scheduler_records() -> int:
        if not written_between:
            recorder.record([event("new", "RUNNING", 100)])  # arrives while a batch is being pruned
        written_between.append(bool(store.executions(ExecutionQuery(task_id="new")).total))
        return step()

    retention.step = step_while_the_scheduler_records  # type: ignore[method-assign]
    try:
        recorder.start()
        deadline = time.monotonic() + 15
        while store.firings("job", 0, 100).total > 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The 3 newest finished runs are kept, and the active one (cron-1, RUNNING) was never counted.
        assert [f for f, _ in store.firings("job", 0, 100).rows] == ["cron-1", "cron-19", "cron-18", "cron-17"]
        assert written_between[:2] == [False, True]  # the new event went in before the second batch
        assert len(written_between) >= 9  # 17 runs, 2 a batch: pruned a batch at a time
    finally:
        recorder.stop()
        store.close()


def test_the_master_keeps_1000_runs_per_job_by_default_and_refuses_a_negative_retention(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert MasterConfig.__dataclass_fields__["run_retention"].default == DEFAULT_RUN_RETENTION == 1000
    with pytest.raises(SystemExit) as refused:
        main(["master", "--zk", "127.0.0.1:1", "--run-retention", "-1"])
    assert refused.value.code == 2
    assert "--run-retention must not be negative" in capsys.readouterr().err


def test_settle_waits_for_one_jobs_unwritten_events_only(tmp_path: Path) -> None:
    store = open_history(str(tmp_path / "history.db"))
    release = threading.Event()
    real_record = store.record

    def slow_record(events: list[ExecutionEvent]) -> None:
        release.wait(10)  # the database is slow: the batch is being written
        real_record(events)

    store.record = slow_record  # type: ignore[method-assign]
    recorder = HistoryRecorder(store).start()
    try:
        recorder.record([event("t1", "MISSED", 0)])
        assert recorder.settle("other-job", timeout=0.01)  # nothing of it waits: at once
        assert not recorder.settle("job", timeout=0.2)  # its event is not written yet
        release.set()
        assert recorder.settle("job", timeout=10)
        assert store.executions(ExecutionQuery(task_id="t1")).total == 1  # written when settle returns
    finally:
        release.set()
        recorder.stop()
        store.close()
