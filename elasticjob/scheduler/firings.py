"""Which cron firings are due: pure, with the clock passed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from elasticjob.cron import Schedule
from elasticjob.model.queue import Firing, FiringCause

DEFAULT_MAX_PENDING_FIRINGS = 10
# Instants examined per call: a cursor days behind a per-second cron is caught up over several cycles
# instead of stalling one cycle for seconds.
MAX_STEPS = 5_000
MAX_RECORDED = 100  # collapsed firings listed individually (for MISSED events); the rest are only counted


@dataclass(frozen=True)
class DueFirings:
    firings: tuple[Firing, ...]  # to append to the queue, oldest first
    cursor: dt.datetime  # the new cursor
    collapsed: int  # due instants merged away (misfire=false) or dropped over the bound
    complete: bool = True  # False: stopped after max_steps; call again to catch up further
    # The newest of the ``collapsed`` firings (at most MAX_RECORDED), for MISSED events; a detail of
    # ``collapsed``, so left out of equality.
    dropped: tuple[Firing, ...] = field(default=(), compare=False)

    @property
    def uncounted(self) -> int:
        """Collapsed firings not in ``dropped`` (a cursor far behind: only the newest are listed)."""
        return self.collapsed - len(self.dropped)


def due_firings(
    schedule: Schedule,
    cursor: dt.datetime,
    now: dt.datetime,
    misfire: bool,
    max_pending: int = DEFAULT_MAX_PENDING_FIRINGS,
    max_steps: int = MAX_STEPS,
) -> DueFirings:
    """Every instant ``t`` with ``cursor < t <= now`` becomes a firing.

    With ``misfire`` the instants are kept (the newest ``max_pending`` of them); without it several due
    instants — which only happens when firings were missed — collapse into the newest one. At most
    ``max_steps`` instants are examined: the returned cursor then lies before ``now`` and the next call
    continues from it (``DueFirings.complete`` is False).
    """
    instants: list[dt.datetime] = []
    dropped: list[dt.datetime] = []
    skipped = 0
    at = cursor
    steps = 0
    complete = True
    while True:
        if steps >= max_steps:
            complete = False
            break
        steps += 1
        nxt = schedule.next_fire(at)
        if nxt is None or nxt > now:
            break
        instants.append(nxt)
        if len(instants) > max_pending:  # keep memory bounded when a cursor is far behind
            dropped.append(instants.pop(0))
            del dropped[:-MAX_RECORDED]
            skipped += 1
        at = nxt
    if not instants:
        return DueFirings((), cursor, 0, complete)
    new_cursor = instants[-1]
    if not misfire and len(instants) > 1:
        skipped += len(instants) - 1
        dropped.extend(instants[:-1])
        del dropped[:-MAX_RECORDED]
        instants = instants[-1:]
    return DueFirings(
        tuple(Firing.cron(t) for t in instants),
        new_cursor,
        skipped,
        complete,
        tuple(Firing.cron(t) for t in dropped),
    )


def coalesce_pending(
    firings: tuple[Firing, ...], misfire: bool, max_pending: int
) -> tuple[tuple[Firing, ...], int]:
    """Bound a queue that cannot start yet: misfire keeps up to ``max_pending`` (the oldest cron firings are
    dropped first); no misfire keeps a single pending cron firing (the newest). Manual triggers are kept."""
    if misfire:
        excess = len(firings) - max_pending
        if excess <= 0:
            return firings, 0
        # Drop the oldest cron firings; a manual trigger is an explicit request and is kept.
        drop = {id(f) for f in [f for f in firings if f.cause is FiringCause.CRON][:excess]}
        kept = tuple(f for f in firings if id(f) not in drop)
        return kept, len(firings) - len(kept)
    crons = [f for f in firings if f.cause is FiringCause.CRON]
    if len(crons) <= 1:
        return firings, 0
    newest = crons[-1]
    kept = tuple(f for f in firings if f.cause is not FiringCause.CRON or f is newest)
    return kept, len(firings) - len(kept)
