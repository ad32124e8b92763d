"""Generic cron field syntax shared by the Quartz and Unix dialects.

One field is a comma-separated list of items; each item is one of

* ``*``            every value of the field
* ``a``            a single value (number or, where the field has them, a case-insensitive name)
* ``a-b``          an inclusive range (names allowed: ``MON-FRI``)
* ``*/n`` ``a/n``  every n-th value starting at the minimum / at ``a``, up to the field maximum
* ``a-b/n``        every n-th value of the range

Dialect-specific tokens (``?``, ``L``, ``W``, ``#``) are handled by the dialect modules before they
fall back to this parser. Everything here is pure and raises :class:`CronError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from elasticjob.cron.errors import CronError

MONTH_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}


# More digits than any field, offset, week number or ISO 8601 count needs. Reading longer runs would cost
# quadratic time, and int() refuses outright beyond 4,300 digits with a plain ValueError.
MAX_DIGITS = 18


def whole_number(digits: str, what: str) -> int:
    """``int(digits)`` for an ASCII digit run; raises :class:`CronError` naming ``what`` for a run
    longer than ``MAX_DIGITS`` (leading zeros included)."""
    if len(digits) > MAX_DIGITS:
        raise CronError(f"{what}: {digits[:MAX_DIGITS]}... has more than {MAX_DIGITS} digits")
    return int(digits)


@dataclass(frozen=True)
class FieldSpec:
    """The value domain of one field.

    ``wrap_ranges``: Quartz reads a backwards range such as ``22-2`` (hours) as wrapping past the
    maximum (22, 23, 0, 1, 2); Unix cron rejects it. ``range_note`` is appended to out-of-range errors
    to explain a numbering that surprises people (Quartz days of week start at 1=SUN).
    """

    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict, compare=False)
    wrap_ranges: bool = False
    range_note: str = ""

    @property
    def span(self) -> int:
        return self.high - self.low + 1

    def check(self, value: int) -> int:
        """Return ``value`` if it lies in the field's range, else raise :class:`CronError`."""
        if not self.low <= value <= self.high:
            raise CronError(f"{self.name}: {value} is out of range {self.low}-{self.high}{self.range_note}")
        return value

    def value_of(self, token: str, item: str) -> int:
        """Parse one number or name (``item`` is the enclosing list item, quoted in errors)."""
        if token.isascii() and token.isdigit():
            return self.check(whole_number(token, self.name))
        named = self.names.get(token.upper())
        if named is not None:
            return named
        if self.names:
            accepted = f"a number {self.low}-{self.high} or a name such as {next(iter(self.names))}"
        else:
            accepted = f"a number {self.low}-{self.high}"
        where = repr(token) if token == item else f"{token!r} in {item!r}"
        raise CronError(f"{self.name}: {where} is not valid (expected {accepted})")


def parse_field(text: str, spec: FieldSpec) -> frozenset[int]:
    """Parse a whole field into the set of values it matches (never empty)."""
    if not text:
        raise CronError(f"{spec.name}: the field is empty")
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{spec.name}: {text!r} has an empty list element")
        values |= parse_item(item, spec)
    return frozenset(values)


def parse_item(item: str, spec: FieldSpec) -> frozenset[int]:
    """Parse one list item (``*``, ``a``, ``a-b``, with an optional ``/n`` step)."""
    base, slash, step_text = item.partition("/")
    step = _parse_step(step_text, item, spec) if slash else 1
    if base == "*":
        start, stop = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        if not first or not last:
            raise CronError(f"{spec.name}: {item!r} is not a valid range (expected a-b)")
        start, stop = spec.value_of(first, item), spec.value_of(last, item)
        if stop < start:
            if not spec.wrap_ranges:
                raise CronError(
                    f"{spec.name}: range {item!r} runs backwards (the start must not exceed the end)"
                )
            # Quartz semantics: continue past the maximum and wrap around to the minimum.
            stop += spec.span
    elif base:
        start = spec.value_of(base, item)
        # `a/n` means "from a, every n" up to the maximum; a bare `a` is just that value.
        stop = spec.high if slash else start
    else:
        raise CronError(f"{spec.name}: {item!r} is missing a value before '/'")
    return frozenset((value - spec.low) % spec.span + spec.low for value in range(start, stop + 1, step))


def _parse_step(step_text: str, item: str, spec: FieldSpec) -> int:
    wrong = CronError(f"{spec.name}: the step in {item!r} must be a whole number between 1 and {spec.span}")
    if not (step_text.isascii() and step_text.isdigit()) or len(step_text) > MAX_DIGITS:
        raise wrong
    step = int(step_text)
    if not 1 <= step <= spec.span:
        raise wrong
    return step
