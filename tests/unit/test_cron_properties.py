"""Property tests: generated expressions checked against an independent, brute-force reading of them.

The oracle below deliberately re-states the Quartz day rules differently from the implementation
(e.g. nW as "the Monday-Friday of the same month closest to day n"), so agreement is evidence, not
tautology.
"""

from __future__ import annotations

import calendar
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter
from hypothesis import example, given, settings
from hypothesis import strategies as st

from elasticjob.cron import CronError, Dialect, Schedule, fire_times, parse

DayOracle = Callable[[date], bool]


@dataclass(frozen=True)
class Generated:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    day: DayOracle

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.day(wall.date())
        )


def _month_days(day: date) -> list[date]:
    return [day.replace(day=n) for n in range(1, calendar.monthrange(day.year, day.month)[1] + 1)]


def _is_weekday(day: date) -> bool:
    return day.weekday() < 5


def _quartz_dow(day: date) -> int:
    return {6: 1, 0: 2, 1: 3, 2: 4, 3: 5, 4: 6, 5: 7}[day.weekday()]


@st.composite
def numeric_field(draw: st.DrawFn, low: int, high: int, small: bool) -> tuple[str, frozenset[int]]:
    """A field text and the exact set of values it means."""
    kind = draw(st.sampled_from(["list", "range", "step"] if small else ["star", "list", "range", "step"]))
    if kind == "star":
        return "*", frozenset(range(low, high + 1))
    if kind == "list":
        values = draw(st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True))
        return ",".join(map(str, values)), frozenset(values)
    start = draw(st.integers(low, high))
    if kind == "range":
        stop = draw(st.integers(start, min(high, start + 3) if small else high))
        return f"{start}-{stop}", frozenset(range(start, stop + 1))
    step = draw(st.integers(max(1, (high - low) // 4) if small else 1, high - low + 1))
    return f"{start}/{step}", frozenset(range(start, high + 1, step))


@st.composite
def quartz_day(draw: st.DrawFn) -> tuple[str, str, DayOracle]:
    """(day-of-month text, day-of-week text, oracle) with exactly one of them '?'."""
    choice = draw(st.sampled_from(["dom", "L", "L-n", "nW", "LW", "dow", "nL", "n#k"]))
    if choice == "dom":
        text, days = draw(numeric_field(1, 31, small=False))
        return text, "?", lambda d: d.day in days
    if choice == "L":
        return "L", "?", lambda d: d == _month_days(d)[-1]
    if choice == "L-n":
        n = draw(st.integers(0, 5))
        return f"L-{n}", "?", lambda d: d.day == len(_month_days(d)) - n
    if choice == "nW":
        n = draw(st.integers(1, 31))

        def nearest(d: date) -> bool:
            if n > len(_month_days(d)):
                return False
            weekdays = [x for x in _month_days(d) if _is_weekday(x)]
            return d == min(weekdays, key=lambda x: (abs(x.day - n), x.day))

        return f"{n}W", "?", nearest
    if choice == "LW":
        return "LW", "?", lambda d: d == [x for x in _month_days(d) if _is_weekday(x)][-1]
    weekday = draw(st.integers(1, 7))
    if choice == "nL":
        return "?", f"{weekday}L", lambda d: d == [x for x in _month_days(d) if _quartz_dow(x) == weekday][-1]
    if choice == "n#k":
        k = draw(st.integers(1, 5))

        def nth(d: date) -> bool:
            same = [x for x in _month_days(d) if _quartz_dow(x) == weekday]
            return len(same) >= k and d == same[k - 1]

        return "?", f"{weekday}#{k}", nth
    text, weekdays = draw(numeric_field(1, 7, small=False))
    return "?", text, lambda d: _quartz_dow(d) in weekdays


@st.composite
def quartz_expressions(draw: st.DrawFn, small: bool = False) -> Generated:
    seconds_text, seconds = draw(numeric_field(0, 59, small))
    minutes_text, minutes = draw(numeric_field(0, 59, small))
    hours_text, hours = draw(numeric_field(0, 23, small))
    months_text, months = draw(numeric_field(1, 12, small=False))
    dom, dow, day = draw(quartz_day())
    expression = f"{seconds_text} {minutes_text} {hours_text} {dom} {months_text} {dow}"
    return Generated(expression, seconds, minutes, hours, months, day)


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
property_zones = st.sampled_from(["UTC", "Asia/Kolkata", "Europe/Berlin"])


@settings(max_examples=150, deadline=None)
@given(generated=quartz_expressions(), after=instants, zone=property_zones)
def test_quartz_firings_increase_and_match_fields(generated: Generated, after: datetime, zone: str) -> None:
    schedule = parse(generated.expression, Dialect.QUARTZ, zone)
    tz = ZoneInfo(zone)
    previous = after
    for fired in fire_times(schedule, after, 5):
        assert fired > previous
        assert fired.tzinfo is UTC
        previous = fired
        before, later = fired - timedelta(hours=3), fired + timedelta(hours=3)
        if before.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            continue  # near a DST transition: covered by the table and clock-simulation tests instead
        assert generated.matches(fired.astimezone(tz).replace(tzinfo=None))


def _brute_force_next(generated: Generated, after: datetime, horizon_days: int) -> datetime | None:
    """First matching UTC wall time strictly after `after`, trying every day and every time combination."""
    times = sorted(itertools.product(generated.hours, generated.minutes, generated.seconds))
    for offset in range(horizon_days):
        day = after.date() + timedelta(days=offset)
        if day.month not in generated.months or not generated.day(day):
            continue
        for hour, minute, second in times:
            candidate = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
            if candidate > after:
                return candidate
    return None


@settings(max_examples=150, deadline=None)
@given(generated=quartz_expressions(small=True), after=instants)
def test_quartz_skips_nothing(generated: Generated, after: datetime) -> None:
    horizon = 800
    expected = _brute_force_next(generated, after, horizon)
    fired = parse(generated.expression, Dialect.QUARTZ).next_fire(after)
    if expected is None:
        assert fired is None or fired.date() >= after.date() + timedelta(days=horizon)
    else:
        assert fired == expected


def _unix_list(low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(st.integers(low, high), min_size=1, max_size=3, unique=True).map(
        lambda values: ",".join(map(str, values))
    )


@st.composite
def unix_expressions(draw: st.DrawFn) -> str:
    # Shapes croniter reads the Vixie way: it mis-reads degenerate ranges such as `0-0`, and applies
    # the OR rule even to a day field written `*/n`, so neither is generated here.
    minutes = draw(st.one_of(_unix_list(0, 59), st.integers(5, 30).map(lambda step: f"*/{step}")))
    hours = draw(st.one_of(_unix_list(0, 23), st.integers(2, 12).map(lambda step: f"*/{step}")))
    dom = draw(st.one_of(st.just("*"), _unix_list(1, 31)))
    dow = draw(st.one_of(st.just("*"), _unix_list(0, 7)))
    month = draw(st.one_of(st.just("*"), _unix_list(1, 12)))
    return f"{minutes} {hours} {dom} {month} {dow}"


@settings(max_examples=150, deadline=None)
@given(expression=unix_expressions(), after=instants)
def test_unix_agrees_with_croniter_in_utc(expression: str, after: datetime) -> None:
    schedule = parse(expression, Dialect.UNIX)
    ours = fire_times(schedule, after, 3)
    iterator = croniter(expression, after)
    try:
        theirs = [iterator.get_next(datetime).astimezone(UTC) for _ in range(3)]
    except CroniterBadDateError:  # croniter's way of saying "never fires", e.g. 30 February
        theirs = []
    assert ours == theirs


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(1, 20),
    start=instants,
    seconds=st.integers(1, 10 * 86400),
    after=instants,
)
def test_iso8601_clock_periods_are_exact_multiples(
    count: int, start: datetime, seconds: int, after: datetime
) -> None:
    expression = f"R{count}/{start.strftime('%Y-%m-%dT%H:%M:%S')}Z/PT{seconds}S"
    start = start.replace(microsecond=0)
    firings = fire_times(parse(expression, Dialect.ISO8601), after, count + 1)
    assert len(firings) <= count
    for fired in firings:
        index, remainder = divmod((fired - start).total_seconds(), seconds)
        assert remainder == 0 and 0 <= index < count
        assert fired > after
    assert firings == sorted(set(firings))
    if firings:  # nothing was skipped: the first firing is the start or the one after `after`
        first = firings[0]
        assert first == start or first - timedelta(seconds=seconds) <= after


TRANSITIONS = [  # (zone, UTC instant of a 2026 DST change)
    ("America/New_York", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
]


@st.composite
def minute_expressions(draw: st.DrawFn) -> Generated:
    generated = draw(quartz_expressions(small=True))
    _, minutes_text, hours_text, *rest = generated.expression.split()
    hours_text, hours = draw(st.sampled_from([(hours_text, generated.hours), ("0-5", frozenset(range(6)))]))
    return Generated(
        " ".join(["0", minutes_text, hours_text, *rest]),
        frozenset({0}),
        generated.minutes,
        hours,
        frozenset(range(1, 13)),
        lambda d: True,
    )


@settings(max_examples=100, deadline=None)
@given(
    generated=minute_expressions(),
    transition=st.sampled_from(TRANSITIONS),
    lead=st.integers(-90, 6 * 60),  # negative: `after` is past the change, e.g. in a repeated hour
)
def test_dst_policy_is_first_instant_the_wall_clock_reaches_the_time(
    generated: Generated, transition: tuple[str, datetime], lead: int
) -> None:
    """Equivalent statement of the DST policy: a wall time w fires at the first instant whose local
    wall clock reads w or later. Simulate the clock minute by minute and compare."""
    zone_name, change = transition
    zone = ZoneInfo(zone_name)
    expression = generated.expression.split()
    expression[3], expression[4], expression[5] = "*", "*", "?"  # every day: isolate the clock policy
    schedule = parse(" ".join(expression), Dialect.QUARTZ, zone_name)
    after = change - timedelta(minutes=lead)
    window_end = after + timedelta(hours=12)

    expected: list[datetime] = []
    # The highest reading the clock had shown by `after` (in a repeated hour, that is before `after`).
    highest_wall = max(
        (after - timedelta(minutes=back)).astimezone(zone).replace(tzinfo=None) for back in range(180)
    )
    moment = after + timedelta(minutes=1)
    while moment <= window_end:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        reached = highest_wall + timedelta(minutes=1)
        while reached <= wall:  # every wall minute first reached at this instant
            if reached.minute in generated.minutes and reached.hour in generated.hours:
                expected.append(moment)
                break
            reached += timedelta(minutes=1)
        highest_wall = max(highest_wall, wall)
        moment += timedelta(minutes=1)

    actual = [fired for fired in fire_times(schedule, after, len(expected) + 1) if fired <= window_end]
    assert actual == expected


@settings(max_examples=100, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
    months=st.integers(0, 3),
    days=st.integers(0, 40),
    after=instants,
    zone=property_zones,
)
def test_iso8601_calendar_periods_keep_the_wall_clock_time(
    start: datetime, months: int, days: int, after: datetime, zone: str
) -> None:
    if months == 0 and days == 0:
        days = 1
    start = start.replace(microsecond=0)
    expression = f"R/{start:%Y-%m-%dT%H:%M:%S}/P{months}M{days}D"
    tz = ZoneInfo(zone)
    previous = after
    for fired in fire_times(parse(expression, Dialect.ISO8601, zone), after, 4):
        assert fired > previous
        previous = fired
        before, later = fired - timedelta(hours=3), fired + timedelta(hours=3)
        if before.astimezone(tz).utcoffset() == later.astimezone(tz).utcoffset():
            assert fired.astimezone(tz).time() == start.time()


# --- hostile text ----------------------------------------------------------------------------------------
# Arbitrary text reaches the parsers from every API that takes a schedule, so each dialect must answer
# any string with a schedule or a CronError (never another exception), and a parsed schedule's next_fire
# must answer quickly for any instant (never loop), including instants at the ends of datetime's range.

# The characters cron syntax gives meaning to, so generated text gets past the first checks often;
# arbitrary Unicode (other digits, spaces and letters among it) is mixed in as well.
_CRON_ALPHABET = "0123456789 *?,-/#LWlw" + "RPTYMDHS:+.Z" + "JANFEBMONSUNFRIwed"
_CRON_TOKENS = [
    "*", "?", "L", "W", "LW", "L-3", "15W", "6L", "5#3", "#", "-", "/", ",", "MON-FRI", "JAN", "0/5",
    "*/0", "99999999999999999999", "0" * 5000, "R", "R5", "R0", "P1M", "PT1S", "PT0S", "P0D",
    "2026-03-08T02:30:00", "2026-02-30T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "+14:00", "-99:99", "P99999999Y", "PT99999999999999999999S", "\u0663", "\u00b2", "\t", "\n",
]
# Numbers of every length: int() refuses strings of over 4,300 digits and timedelta overflows far sooner.
_numbers = st.one_of(st.integers(0, 10**40).map(str), st.sampled_from([19, 4301, 5000]).map(lambda n: "9" * n))


@st.composite
def shaped_text(draw: st.DrawFn) -> str:
    """Text with the shape of an expression of some dialect (5-7 fields, or R/start/period) whose items
    are drawn from cron's syntax with numbers of any size, so generated text gets past the field count."""
    item = st.one_of(
        st.sampled_from(_CRON_TOKENS),
        _numbers,
        st.tuples(_numbers, st.sampled_from(["-", "/", "#", "W", "L", ",", "L-"]), _numbers).map("".join),
        st.tuples(st.sampled_from(["L-", "*/", "R"]), _numbers).map("".join),
    )
    if draw(st.booleans()):
        return " ".join(draw(st.lists(item, min_size=5, max_size=7)))
    period = st.tuples(st.sampled_from(["P", "PT", "P1MT"]), _numbers, st.sampled_from("YMWDHS")).map("".join)
    repeat = st.one_of(st.just("R"), _numbers.map("R".__add__), item)
    return "/".join([draw(repeat), draw(st.sampled_from(_CRON_TOKENS[22:28])), draw(period)])


hostile_text = st.one_of(
    shaped_text(),
    st.text(alphabet=_CRON_ALPHABET, max_size=60),
    st.lists(st.sampled_from(_CRON_TOKENS), max_size=8).map(" ".join),
    st.lists(st.sampled_from(_CRON_TOKENS), min_size=3, max_size=3).map("/".join),  # ISO 8601's R/start/period
    st.text(max_size=40),
)
hostile_zones = st.one_of(
    st.sampled_from(["UTC", "America/New_York", "Pacific/Kiritimati", "Australia/Lord_Howe",
                     "Asia/Kathmandu", "Europe/Dublin", "", "America", "../etc/passwd", "/etc/localtime"]),
    st.text(max_size=20),
)
extreme_instants = st.one_of(
    st.datetimes(timezones=st.just(UTC)),  # datetime's whole range, years 1-9999
    st.sampled_from([datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]),
)
# A next_fire call walks at most 14 kinds of year (wallclock.py) or a few periods (iso8601.py); a second is
# generous on a loaded 2-core CI machine and still catches a search that does not terminate.
_NEXT_FIRE_BUDGET_SECONDS = 1.0


def _parse_or_none(expression: str, dialect: Dialect, zone: str) -> Schedule | None:
    try:
        return parse(expression, dialect, zone)
    except CronError as error:
        assert error.message, "a CronError must say what is wrong"
        return None


def _assert_next_fire_is_bounded(schedule: Schedule, after: datetime) -> None:
    began = time.perf_counter()
    fired = schedule.next_fire(after)
    elapsed = time.perf_counter() - began
    assert elapsed < _NEXT_FIRE_BUDGET_SECONDS, f"next_fire({after}) of {schedule.expression!r}: {elapsed:.2f}s"
    if fired is not None:
        assert fired > after and fired.tzinfo is UTC


@settings(max_examples=300, deadline=None)
@given(expression=hostile_text, dialect=st.sampled_from(list(Dialect)), zone=hostile_zones,
       after=extreme_instants)
# What this test found: int() refusing 4,301 digits (a plain ValueError), and a period too long for timedelta.
@example(expression="* * * * " + "9" * 4301, dialect=Dialect.UNIX, zone="UTC", after=datetime(2026, 1, 1, tzinfo=UTC))
@example(expression="0 0 0 ? * 1#" + "0" * 4301 + "1", dialect=Dialect.QUARTZ, zone="UTC",
         after=datetime(2026, 1, 1, tzinfo=UTC))
@example(expression="R/2026-01-01T00:00:00Z/PT" + "9" * 30 + "S", dialect=Dialect.ISO8601, zone="UTC",
         after=datetime(2026, 1, 1, tzinfo=UTC))
@example(expression="R" + "9" * 5000 + "/2026-01-01T00:00:00Z/PT1S", dialect=Dialect.ISO8601, zone="UTC",
         after=datetime(2026, 1, 1, tzinfo=UTC))
def test_any_text_is_a_schedule_or_a_cron_error(expression: str, dialect: Dialect, zone: str,
                                                after: datetime) -> None:
    schedule = _parse_or_none(expression, dialect, zone)
    if schedule is not None:
        _assert_next_fire_is_bounded(schedule, after)


@st.composite
def mutated_expressions(draw: st.DrawFn) -> tuple[str, Dialect]:
    """A valid expression of each dialect with a few characters replaced, inserted or deleted: text close
    to valid reaches deeper into the parsers than random text does."""
    dialect, valid = draw(st.sampled_from([
        (Dialect.QUARTZ, "0 15 10 ? * MON-FRI"), (Dialect.QUARTZ, "0 0 12 LW * ? 2030"),
        (Dialect.QUARTZ, "*/7 0-59/3 22-2 15W 1,6,12 ?"), (Dialect.QUARTZ, "0 0 0 ? * 6#5"),
        (Dialect.UNIX, "*/5 * * * *"), (Dialect.UNIX, "0 0 13 * 5"), (Dialect.UNIX, "@daily"),
        (Dialect.METRONOME, "0 0 13 * 5 2027"), (Dialect.METRONOME, "30 2 L * 5L"),
        (Dialect.ISO8601, "R5/2026-03-08T02:30:00Z/PT1H"), (Dialect.ISO8601, "R/2026-01-31T10:00:00/P1M"),
        (Dialect.ISO8601, "R/2026-01-01T00:00:00+05:30/P1Y2M3DT4H5M6S"),
    ]))
    text = list(valid)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        character = draw(st.sampled_from(_CRON_ALPHABET))
        if action == "insert" or not text:
            text.insert(position, character)
        elif action == "replace":
            text[min(position, len(text) - 1)] = character
        else:
            del text[min(position, len(text) - 1)]
    return "".join(text), dialect


@settings(max_examples=300, deadline=None)
@given(mutated=mutated_expressions(), zone=st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe"]),
       after=extreme_instants)
def test_near_valid_text_is_a_schedule_or_a_cron_error(mutated: tuple[str, Dialect], zone: str,
                                                       after: datetime) -> None:
    expression, dialect = mutated
    schedule = _parse_or_none(expression, dialect, zone)
    if schedule is not None:
        _assert_next_fire_is_bounded(schedule, after)
        # Successive firings too: the search resumes from a firing, which is where off-by-one loops hide.
        for fired in fire_times(schedule, after, 3):
            _assert_next_fire_is_bounded(schedule, fired)
