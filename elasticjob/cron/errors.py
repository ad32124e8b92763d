"""The one error type of the cron package."""

from __future__ import annotations


class CronError(ValueError):
    """A schedule expression, time zone or repetition spec that cannot be accepted.

    ``message`` is meant for the person who wrote the expression: it names the field (or part) that is
    wrong, the offending text and, where it helps, what would have been valid. It subclasses
    ``ValueError`` so callers that only care about "bad input" can catch that.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
