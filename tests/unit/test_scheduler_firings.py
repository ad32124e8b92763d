"""due_firings and coalesce_pending: which cron instants become firings, with the clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.cron import Dialect, Schedule, fire_times, parse
from elasticjob.model.queue import Firing, FiringCause
from elasticjob.scheduler.firings import (
    DEFAULT_MAX_PENDING_FIRINGS,
    DueFirings,
    coalesce_pending,
    due_firings,
)

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)  # an instant of EVERY_2S
EVERY_2S = parse("0/2 * * * * ?", Dialect.QUARTZ, "UTC")


def s(seconds: float) -> dt.datetime:
    """T0 plus ``seconds``."""
    return T0 + dt.timedelta(seconds=seconds)


def cron(*seconds: float) -> tuple[Firing, ...]:
    return tuple(Firing.cron(s(x)) for x in seconds)


def trigger(name: str, seconds: float = 0) -> Firing:
    return Firing(name, s(seconds), FiringCause.TRIGGER)


# ---- due_firings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "now", "misfire", "expected"),
    [
        # nothing due before the next instant
        (s(0), s(0), True, DueFirings((), s(0), 0)),
        (s(0), s(1), True, DueFirings((), s(0), 0)),
        (s(0), s(1.999), False, DueFirings((), s(0), 0)),
        # exactly one due at it, and the cursor moves onto it
        (s(0), s(2), True, DueFirings(cron(2), s(2), 0)),
        (s(0), s(2), False, DueFirings(cron(2), s(2), 0)),
        (s(0), s(3.5), True, DueFirings(cron(2), s(2), 0)),
        # the instant equal to the cursor is never due again
        (s(2), s(2), True, DueFirings((), s(2), 0)),
        (s(2), s(3.9), False, DueFirings((), s(2), 0)),
        # a cursor between instants (a job registered at an odd time)
        (s(0.5), s(2), True, DueFirings(cron(2), s(2), 0)),
        (s(0.5), s(1.5), True, DueFirings((), s(0.5), 0)),
        # a few missed instants, below the bound
        (s(0), s(6), True, DueFirings(cron(2, 4, 6), s(6), 0)),
        (s(0), s(7), False, DueFirings(cron(6), s(6), 2)),
        # exactly max_pending (10) due: all kept
        (s(0), s(20), True, DueFirings(cron(*range(2, 21, 2)), s(20), 0)),
        # one over the bound: the oldest goes
        (s(0), s(22), True, DueFirings(cron(*range(4, 23, 2)), s(22), 1)),
        # a long gap: 30 due, the 10 newest kept (misfire) or the newest only (no misfire)
        (s(0), s(60), True, DueFirings(cron(*range(42, 61, 2)), s(60), 20)),
        (s(0), s(61), False, DueFirings(cron(60), s(60), 29)),
    ],
)
def test_due_firings_every_two_seconds(
    cursor: dt.datetime, now: dt.datetime, misfire: bool, expected: DueFirings
) -> None:
    assert due_firings(EVERY_2S, cursor, now, misfire) == expected


def test_due_firings_default_bound() -> None:
    assert DEFAULT_MAX_PENDING_FIRINGS == 10
    due = due_firings(EVERY_2S, s(0), s(3600), misfire=True)
    assert len(due.firings) == DEFAULT_MAX_PENDING_FIRINGS
    assert due.collapsed == 1800 - DEFAULT_MAX_PENDING_FIRINGS
    assert due.cursor == s(3600)


@pytest.mark.parametrize(
    ("max_pending", "kept"), [(1, (60,)), (3, (56, 58, 60)), (30, tuple(range(2, 61, 2)))]
)
def test_due_firings_custom_bound(max_pending: int, kept: tuple[int, ...]) -> None:
    due = due_firings(EVERY_2S, s(0), s(60), misfire=True, max_pending=max_pending)
    assert due == DueFirings(cron(*kept), s(60), 30 - len(kept))


def test_due_firings_never_fires_an_instant_twice_over_successive_cycles() -> None:
    """A cycle every 0.7 s for a minute: every instant fires once, in order, whatever the cycle phase."""
    cursor, seen = s(0), list[str]()
    for tick in range(1, 90):
        due = due_firings(EVERY_2S, cursor, s(tick * 0.7), misfire=True)
        assert due.collapsed == 0
        seen.extend(f.firing_id for f in due.firings)
        cursor = due.cursor
    assert seen == [f.firing_id for f in cron(*range(2, 63, 2))]


@pytest.mark.parametrize(
    ("expression", "cursor", "now"),
    [
        # the year field allows only 2099, and 2099 is over
        ("* * * * * ? 2099", dt.datetime(2100, 1, 1, tzinfo=UTC), dt.datetime(2100, 6, 1, tzinfo=UTC)),
        # a year range that is over
        ("0 0 0 1 1 ? 2000-2010", T0, T0 + dt.timedelta(days=400)),
        ("0 0 0 1 1 ? 2020", T0, T0 + dt.timedelta(days=400)),
    ],
)
@pytest.mark.parametrize("misfire", [True, False])
def test_due_firings_of_a_schedule_with_no_future(
    expression: str, cursor: dt.datetime, now: dt.datetime, misfire: bool
) -> None:
    schedule = parse(expression, Dialect.QUARTZ, "UTC")
    assert schedule.next_fire(cursor) is None
    assert due_firings(schedule, cursor, now, misfire) == DueFirings((), cursor, 0)


@pytest.mark.parametrize(
    ("misfire", "firings", "collapsed"),
    [
        (True, (2020, 2021, 2022), 0),
        (False, (2022,), 2),
    ],
)
def test_due_firings_of_a_schedule_that_ends_inside_the_gap(
    misfire: bool, firings: tuple[int, ...], collapsed: int
) -> None:
    schedule = parse("0 0 0 1 1 ? 2020-2022", Dialect.QUARTZ, "UTC")
    cursor = dt.datetime(2019, 6, 1, tzinfo=UTC)
    due = due_firings(schedule, cursor, T0, misfire)
    assert due == DueFirings(
        tuple(Firing.cron(dt.datetime(year, 1, 1, tzinfo=UTC)) for year in firings),
        dt.datetime(2022, 1, 1, tzinfo=UTC),
        collapsed,
    )


def test_due_firings_in_a_local_time_zone_and_a_non_utc_clock() -> None:
    schedule = parse("0 0 9 * * ?", Dialect.QUARTZ, "Europe/Berlin")  # 08:00 UTC in winter
    berlin_now = dt.datetime(2024, 3, 1, 9, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    due = due_firings(schedule, dt.datetime(2024, 3, 1, 7, 0, tzinfo=UTC), berlin_now, misfire=True)
    assert [f.firing_id for f in due.firings] == ["cron-20240301T080000.000Z"]
    assert due.cursor == dt.datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def _instants(schedule: Schedule, cursor: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    times = fire_times(schedule, cursor, 1000)
    return [t for t in times if t <= now]


@settings(max_examples=150, deadline=None)
@given(
    cursor_ms=st.integers(0, 30_000),
    gap_ms=st.integers(0, 60_000),
    split_ms=st.integers(0, 60_000),
    misfire=st.booleans(),
    max_pending=st.integers(1, 12),
)
def test_due_firings_invariants(
    cursor_ms: int, gap_ms: int, split_ms: int, misfire: bool, max_pending: int
) -> None:
    cursor = T0 + dt.timedelta(milliseconds=cursor_ms)
    now = cursor + dt.timedelta(milliseconds=gap_ms)
    due = due_firings(EVERY_2S, cursor, now, misfire, max_pending)
    expected = _instants(EVERY_2S, cursor, now)
    scheduled = [f.scheduled_at for f in due.firings]
    # only due instants, oldest first, the newest ones, bounded, and the rest counted
    assert scheduled == expected[len(expected) - len(scheduled):]
    assert len(scheduled) <= (max_pending if misfire else 1)
    assert len(scheduled) + due.collapsed == len(expected)
    assert bool(scheduled) == bool(expected)
    assert due.cursor == (expected[-1] if expected else cursor)
    assert all(f.cause is FiringCause.CRON and f.firing_id.startswith("cron-") for f in due.firings)
    # two cycles (split anywhere in the gap) never produce one instant twice
    middle = cursor + dt.timedelta(milliseconds=min(split_ms, gap_ms))
    first = due_firings(EVERY_2S, cursor, middle, True, 1000)
    second = due_firings(EVERY_2S, first.cursor, now, True, 1000)
    ids = [f.firing_id for f in (*first.firings, *second.firings)]
    assert len(ids) == len(set(ids))
    assert ids == [Firing.cron(t).firing_id for t in expected]


# ---- coalesce_pending ---------------------------------------------------------------------------

T1, T2 = trigger("manual-1", 1), trigger("manual-2", 3)


@pytest.mark.parametrize(
    ("firings", "misfire", "max_pending", "kept", "dropped"),
    [
        ((), True, 3, (), 0),
        ((), False, 3, (), 0),
        # misfire: everything up to the bound, triggers included
        (cron(2, 4), True, 3, cron(2, 4), 0),
        ((*cron(2), T1, *cron(4)), True, 3, (*cron(2), T1, *cron(4)), 0),
        (cron(2, 4, 6, 8, 10), True, 3, cron(6, 8, 10), 2),
        ((*cron(2, 4, 6), T2, *cron(8)), True, 3, (*cron(6), T2, *cron(8)), 2),
        # no misfire: a single cron firing, the newest, plus every trigger in its place
        (cron(2), False, 3, cron(2), 0),
        ((T1, *cron(2)), False, 3, (T1, *cron(2)), 0),
        ((T1, T2), False, 1, (T1, T2), 0),
        (cron(2, 4, 6), False, 3, cron(6), 2),
        ((*cron(2), T1, *cron(4), T2, *cron(6)), False, 3, (T1, T2, *cron(6)), 2),
        ((*cron(2, 4), T1), False, 3, (*cron(4), T1), 1),
    ],
)
def test_coalesce_pending(
    firings: tuple[Firing, ...], misfire: bool, max_pending: int, kept: tuple[Firing, ...], dropped: int
) -> None:
    assert coalesce_pending(firings, misfire, max_pending) == (kept, dropped)


def test_coalesce_pending_with_misfire_drops_the_oldest_cron_firings_and_keeps_triggers() -> None:
    # A manual trigger is an explicit request: over the bound, the oldest cron firing goes instead.
    firings = (T1, *cron(2, 4, 6))
    assert coalesce_pending(firings, True, 3) == ((T1, *cron(4, 6)), 1)


@settings(max_examples=150, deadline=None)
@given(
    causes=st.lists(st.sampled_from([FiringCause.CRON, FiringCause.TRIGGER]), max_size=15),
    misfire=st.booleans(),
    max_pending=st.integers(1, 12),
)
def test_coalesce_pending_invariants(causes: list[FiringCause], misfire: bool, max_pending: int) -> None:
    firings = tuple(
        Firing.cron(s(2 * i)) if cause is FiringCause.CRON else trigger(f"manual-{i}", 2 * i)
        for i, cause in enumerate(causes)
    )
    kept, dropped = coalesce_pending(firings, misfire, max_pending)
    assert len(kept) + dropped == len(firings)
    # a subsequence of the input, in order
    positions = [firings.index(f) for f in kept]
    assert positions == sorted(positions)
    crons = [f for f in firings if f.cause is FiringCause.CRON]
    triggers = [f for f in firings if f.cause is FiringCause.TRIGGER]
    if misfire:
        assert [f for f in kept if f.cause is FiringCause.TRIGGER] == triggers
        kept_crons = [f for f in kept if f.cause is FiringCause.CRON]
        assert kept_crons == crons[len(crons) - len(kept_crons):]  # the newest cron firings survive
        assert len(kept) == max(max_pending, len(triggers)) if len(firings) > max_pending else kept == firings
    else:
        assert [f for f in kept if f.cause is FiringCause.TRIGGER] == [
            f for f in firings if f.cause is FiringCause.TRIGGER
        ]
        assert [f for f in kept if f.cause is FiringCause.CRON] == crons[-1:]


def test_collapsed_firings_are_listed_for_missed_events() -> None:
    due = due_firings(EVERY_2S, s(0), s(10), misfire=False)
    assert [f.scheduled_at for f in due.dropped] == [s(2), s(4), s(6), s(8)]
    assert due.uncounted == 0
    far = due_firings(EVERY_2S, s(0), s(3600), misfire=False)
    assert len(far.dropped) == 100 and far.dropped[-1].scheduled_at == s(3598)
    assert far.uncounted == far.collapsed - 100
