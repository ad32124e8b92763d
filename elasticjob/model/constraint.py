"""Pattern constraints on agent attributes: Metronome's (and Marathon's) LIKE and UNLIKE operators.

``value`` is a regular expression (Python's ``re`` syntax, which agrees with Java's for the usual
expressions) that must match the whole of the agent's attribute value (LIKE) or must not (UNLIKE). An agent
without the attribute fails LIKE and passes UNLIKE. Plain equality stays in the job's ``constraints`` map.
"""

from __future__ import annotations

import enum
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PATTERN_CONSTRAINTS = 64
MAX_PATTERN_LENGTH = 1024


class PatternOperator(enum.StrEnum):
    LIKE = "LIKE"
    UNLIKE = "UNLIKE"


def check_pattern(value: str) -> str:
    """``value`` if it compiles as a regular expression; ``ValueError`` saying why not."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
    return value


def check_attribute_name(value: str) -> str:
    if not value or "=" in value or "," in value:
        raise ValueError(f"{value!r} is not a valid attribute name")
    return value


class PatternConstraint(BaseModel):
    """``{"attribute": "rack", "operator": "LIKE", "value": "a|b"}``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    attribute: str = Field(max_length=256)
    operator: PatternOperator
    value: str = Field(max_length=MAX_PATTERN_LENGTH)

    @field_validator("attribute")
    @classmethod
    def _attribute(cls, value: str) -> str:
        return check_attribute_name(value)

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        return check_pattern(value)
