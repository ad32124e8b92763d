"""ReadyQueue and Firing: JSON round trips, tolerant reading, deterministic cron firing ids (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import replace
from typing import Any

import pytest

from elasticjob.model.queue import (
    Firing,
    FiringCause,
    ReadyQueue,
    cron_firing_id,
    cron_instant,
    cron_lateness,
    iso,
    parse_iso,
)

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def _through_json(value: dict[str, Any] | list[Any]) -> Any:
    """What ZooKeeper hands back: the value serialised to bytes and parsed again."""
    return json.loads(json.dumps(value).encode())


# ---- cron_firing_id ------------------------------------------------------------------------------


def test_cron_firing_id_format() -> None:
    assert cron_firing_id(T0) == "cron-20240301T120000.000Z"
    assert cron_firing_id(T0.replace(microsecond=250_000)) == "cron-20240301T120000.250Z"


def test_cron_firing_id_is_deterministic() -> None:
    assert cron_firing_id(T0) == cron_firing_id(dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC))
    assert cron_firing_id(T0) != cron_firing_id(T0 + dt.timedelta(seconds=1))


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, TOKYO, dt.timezone(dt.timedelta(hours=5, minutes=30))])
def test_cron_firing_id_is_the_same_for_one_instant_in_any_zone(zone: dt.tzinfo) -> None:
    local = T0.astimezone(zone)
    assert local == T0 and local.utcoffset() != dt.timedelta(0)
    assert cron_firing_id(local) == cron_firing_id(T0)
    assert Firing.cron(local) == Firing.cron(T0)


def test_cron_firing_id_across_a_dst_fall_back_overlap() -> None:
    # 02:30 happens twice in Berlin on 2024-10-27; the two instants are an hour apart and get distinct ids.
    first = dt.datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=0)
    second = dt.datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=1)
    assert cron_firing_id(first) == "cron-20241027T003000.000Z"
    assert cron_firing_id(second) == "cron-20241027T013000.000Z"


def test_firing_cron_normalises_to_utc() -> None:
    firing = Firing.cron(T0.astimezone(TOKYO))
    assert firing.cause is FiringCause.CRON
    assert firing.firing_id == "cron-20240301T120000.000Z"
    assert firing.scheduled_at.tzinfo is UTC
    assert firing.scheduled_at == T0


# ---- Firing JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "firing",
    [
        Firing.cron(T0),
        Firing("manual-1", T0 + dt.timedelta(milliseconds=123), FiringCause.TRIGGER),
        Firing.cron(T0.astimezone(NEW_YORK)),
    ],
)
def test_firing_json_round_trip(firing: Firing) -> None:
    assert Firing.from_json(_through_json(firing.to_json())) == firing


def test_firing_json_shape() -> None:
    assert Firing("t-1", T0, FiringCause.TRIGGER).to_json() == {
        "firingId": "t-1",
        "scheduledAt": "2024-03-01T12:00:00.000+00:00",
        "cause": "TRIGGER",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"firingId": "f", "scheduledAt": "2024-03-01T12:00:00Z"}, Firing("f", T0, FiringCause.CRON)),
        # a time without an offset is read as UTC
        ({"firingId": "f", "scheduledAt": "2024-03-01T12:00:00"}, Firing("f", T0, FiringCause.CRON)),
        (
            {"firingId": "f", "scheduledAt": "2024-03-01T13:00:00+01:00", "cause": "TRIGGER"},
            Firing("f", T0, FiringCause.TRIGGER),
        ),
    ],
)
def test_firing_from_json_defaults(raw: dict[str, Any], expected: Firing) -> None:
    assert Firing.from_json(raw) == expected


def test_firing_from_json_rejects_an_unknown_cause() -> None:
    with pytest.raises(ValueError):
        Firing.from_json({"firingId": "f", "scheduledAt": "2024-03-01T12:00:00Z", "cause": "BOGUS"})


# ---- ReadyQueue JSON ----------------------------------------------------------------------------

FULL_QUEUE = ReadyQueue(
    cursor=T0,
    firings=(
        Firing.cron(T0 - dt.timedelta(seconds=4)),
        Firing.cron(T0 - dt.timedelta(seconds=2)),
        Firing("manual-7", T0 - dt.timedelta(milliseconds=1500), FiringCause.TRIGGER),
    ),
    reason="no agent with 4 CPUs free",
    last_fire_time=T0 - dt.timedelta(seconds=6, milliseconds=42),
)


@pytest.mark.parametrize(
    "queue",
    [
        ReadyQueue(),
        ReadyQueue(cursor=T0),
        FULL_QUEUE,
        ReadyQueue(cursor=T0.astimezone(BERLIN), last_fire_time=T0.astimezone(TOKYO)),
    ],
)
def test_ready_queue_json_round_trip(queue: ReadyQueue) -> None:
    back = ReadyQueue.from_json(_through_json(queue.to_json()))
    assert back == queue
    assert back.extra == {}
    assert back.to_json() == queue.to_json()


def test_ready_queue_json_shape() -> None:
    assert ReadyQueue(cursor=T0, firings=(Firing.cron(T0),)).to_json() == {
        "cursor": "2024-03-01T12:00:00.000+00:00",
        "firings": [{"firingId": "cron-20240301T120000.000Z", "scheduledAt": "2024-03-01T12:00:00.000+00:00",
                     "cause": "CRON"}],
        "reason": "",
        "lastFireTime": None,
        "missed": 0,
    }


def test_ready_queue_keeps_unknown_keys_through_a_round_trip() -> None:
    raw = {**FULL_QUEUE.to_json(), "owner": "team-a", "nested": {"x": [1, 2]}, "count": 3}
    queue = ReadyQueue.from_json(_through_json(raw))
    assert queue == FULL_QUEUE
    assert queue.extra == {"owner": "team-a", "nested": {"x": [1, 2]}, "count": 3}
    assert queue.to_json() == raw
    # ...and they survive an edit made by the scheduler.
    edited = replace(queue, reason="", firings=queue.firings[1:])
    assert edited.to_json()["owner"] == "team-a"
    assert ReadyQueue.from_json(_through_json(edited.to_json())).extra == queue.extra


def test_ready_queue_known_keys_win_over_extra() -> None:
    # extra never holds a known key when read from JSON; a hand-built one must not shadow the real fields.
    queue = ReadyQueue(cursor=T0, extra={"cursor": "bogus", "reason": "bogus", "other": 1})
    value = queue.to_json()
    assert value["cursor"] == iso(T0) and value["reason"] == "" and value["other"] == 1


def test_ready_queue_accepts_a_bare_list_of_firings() -> None:
    firings = [f.to_json() for f in FULL_QUEUE.firings]
    queue = ReadyQueue.from_json(_through_json(firings))
    assert queue == ReadyQueue(firings=FULL_QUEUE.firings)
    assert queue.cursor is None and queue.last_fire_time is None and queue.reason == ""
    assert ReadyQueue.from_json([]) == ReadyQueue()


@pytest.mark.parametrize("raw", [None, "text", 42, {}])
def test_ready_queue_reads_anything_else_as_empty(raw: Any) -> None:
    assert ReadyQueue.from_json(raw) == ReadyQueue()


@pytest.mark.parametrize(
    "raw",
    [
        {"cursor": None, "firings": None, "reason": None, "lastFireTime": None},
        {"cursor": "", "firings": [], "reason": "", "lastFireTime": ""},
    ],
)
def test_ready_queue_null_and_empty_fields(raw: dict[str, Any]) -> None:
    assert ReadyQueue.from_json(raw) == ReadyQueue()


def test_ready_queue_stores_milliseconds() -> None:
    # The JSON form keeps milliseconds: a cursor with microseconds comes back truncated to the millisecond.
    queue = ReadyQueue(cursor=T0.replace(microsecond=123_456))
    assert ReadyQueue.from_json(queue.to_json()).cursor == T0.replace(microsecond=123_000)


def test_with_trigger_appends_and_keeps_everything_else() -> None:
    trigger = Firing("manual-8", T0, FiringCause.TRIGGER)
    queue = FULL_QUEUE.with_trigger(trigger)
    assert queue.firings == (*FULL_QUEUE.firings, trigger)
    assert (queue.cursor, queue.reason, queue.last_fire_time) == (
        FULL_QUEUE.cursor, FULL_QUEUE.reason, FULL_QUEUE.last_fire_time,
    )
    assert FULL_QUEUE.firings[-1].firing_id == "manual-7"  # the original is unchanged


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T12:00:00.000+00:00", T0),
        ("2024-03-01T12:00:00Z", T0),
        ("2024-03-01T12:00:00", T0),
        ("2024-03-01T21:00:00+09:00", T0),
    ],
)
def test_parse_iso(text: str, expected: dt.datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_a_cron_firing_id_gives_back_its_instant_and_lateness() -> None:
    instant = dt.datetime(2026, 12, 8, 1, 2, 3, 456_000, tzinfo=dt.UTC)
    firing = cron_firing_id(instant)
    assert cron_instant(firing) == instant
    assert cron_lateness(firing, instant + dt.timedelta(seconds=1.5)) == 1.5
    assert cron_lateness(firing, instant - dt.timedelta(seconds=2)) == 0.0  # launched ahead
    for other in ("trigger-20261208T010203.456Z-ab12", "daemon", "cron-garbage", ""):
        assert cron_instant(other) is None and cron_lateness(other, instant) is None
