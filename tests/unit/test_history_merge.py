"""Events and the pure merge rule that folds them into one execution per task."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from elasticjob.history import MISSED, TASK_STATES, TERMINAL_STATES, Execution, ExecutionEvent, missed_task_id
from elasticjob.history.merge import apply_event, execution_time

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _event(state: str, at: float, **changes: object) -> ExecutionEvent:
    fields: dict[str, object] = {"agent_id": "agent-1", "hostname": "host-a"}
    fields.update(changes)
    return ExecutionEvent("task-1", "daily", 0, "fire-1", state, at=_at(at), **fields)  # type: ignore[arg-type]


def _fold(events: Iterable[ExecutionEvent]) -> Execution:
    current: Execution | None = None
    for event in events:
        current = apply_event(current, event)
    assert current is not None
    return current


def test_states() -> None:
    assert TASK_STATES == ("STAGING", "RUNNING", "FINISHED", "FAILED", "KILLED", "LOST", "MISSED")
    assert frozenset({"FINISHED", "FAILED", "KILLED", "LOST", "MISSED"}) == TERMINAL_STATES


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state": "DONE"},
        {"at": datetime(2026, 3, 1)},
        {"started_at": datetime(2026, 3, 1)},
        {"finished_at": datetime(2026, 3, 1)},
        {"task_id": ""},
        {"job_name": ""},
    ],
)
def test_event_validation(kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {"task_id": "t", "job_name": "j", "sharding_item": 0, "firing_id": "f",
                                 "state": "RUNNING", "at": T0}
    values.update(kwargs)
    with pytest.raises(ValueError):
        ExecutionEvent(**values)  # type: ignore[arg-type]


def test_str_enum_state_becomes_plain_str() -> None:
    from enum import StrEnum

    class State(StrEnum):
        RUNNING = "RUNNING"

    event = ExecutionEvent("t", "j", 0, "f", State.RUNNING, at=T0)
    assert type(event.state) is str
    assert event.state == "RUNNING"


def test_missed_event() -> None:
    event = ExecutionEvent.missed("daily", "fire-7", at=T0, message="previous run still running")
    assert event.task_id == missed_task_id("daily", "fire-7") == "missed@-@daily@-@fire-7"
    assert (event.sharding_item, event.state, event.agent_id, event.terminal) == (None, MISSED, "", True)
    execution = apply_event(None, event)
    assert (execution.started_at, execution.finished_at) == (None, None)  # it never ran
    assert execution_time(execution) == T0


def test_lifecycle_latest_state_wins() -> None:
    execution = _fold([
        _event("STAGING", 0, message="launched"),
        _event("RUNNING", 1),
        _event("FINISHED", 5, exit_code=0, message="ok"),
    ])
    assert execution.state == "FINISHED"
    assert (execution.exit_code, execution.message) == (0, "ok")
    assert (execution.created_at, execution.updated_at) == (_at(0), _at(5))
    assert (execution.started_at, execution.finished_at) == (_at(1), _at(5))  # defaults from event times
    assert execution_time(execution) == _at(1)


def test_explicit_times_win_over_defaults() -> None:
    execution = _fold([
        _event("RUNNING", 2, started_at=_at(1)),
        _event("FAILED", 9, finished_at=_at(8), exit_code=1, message="boom"),
    ])
    assert (execution.started_at, execution.finished_at) == (_at(1), _at(8))


def test_terminal_never_regresses() -> None:
    execution = _fold([
        _event("STAGING", 0),
        _event("FINISHED", 5, exit_code=0, started_at=None),
        _event("RUNNING", 1, started_at=_at(1)),  # late: reconnect replayed it
        _event("STAGING", 0.5),
    ])
    assert execution.state == "FINISHED"
    assert execution.exit_code == 0
    assert execution.updated_at == _at(5)
    assert execution.started_at == _at(1)  # the stale RUNNING still fills the gap


def test_running_does_not_go_back_to_staging() -> None:
    assert _fold([_event("RUNNING", 2), _event("STAGING", 1)]).state == "RUNNING"
    assert _fold([_event("RUNNING", 2), _event("STAGING", 3)]).state == "RUNNING"


def test_among_terminal_states_the_newest_event_wins() -> None:
    assert _fold([_event("LOST", 5), _event("FINISHED", 6, exit_code=0)]).state == "FINISHED"
    assert _fold([_event("FINISHED", 6, exit_code=0), _event("LOST", 5)]).state == "FINISHED"


def test_stale_event_fills_only_blanks() -> None:
    first = ExecutionEvent("task-1", "daily", None, "", "FAILED", message="lost agent", at=_at(5))
    execution = _fold([first, _event("RUNNING", 1, agent_id="agent-9", hostname="host-z")])
    assert execution.state == "FAILED"
    assert (execution.agent_id, execution.hostname, execution.sharding_item) == ("agent-9", "host-z", 0)
    assert execution.firing_id == "fire-1"
    assert execution.message == "lost agent"
    assert execution.created_at == _at(1)  # the earliest event seen, whatever its arrival order


def test_state_fields_do_not_leak_into_the_next_state() -> None:
    execution = _fold([_event("RUNNING", 1, message="started"), _event("FAILED", 2)])
    assert execution.message == ""
    assert execution.exit_code is None


def test_identity_fields_are_kept_when_a_later_event_omits_them() -> None:
    execution = _fold([_event("RUNNING", 1), _event("FINISHED", 2, agent_id="", hostname="")])
    assert (execution.agent_id, execution.hostname) == ("agent-1", "host-a")


def test_times_are_normalised_to_utc() -> None:
    eight = timezone(timedelta(hours=8))
    execution = apply_event(None, ExecutionEvent("t", "j", 0, "f", "RUNNING",
                                                 at=datetime(2026, 3, 1, 16, tzinfo=eight)))
    assert execution.created_at == T0
    assert execution.created_at.tzinfo is UTC
    assert execution.started_at is not None and execution.started_at.tzinfo is UTC
