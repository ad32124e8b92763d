"""The log query's parameters (pure): defaults, conversions and the errors named by field."""

from __future__ import annotations

import pytest

from elasticjob.api.logs import DEFAULT_LINES, LineQuery, line_query
from elasticjob.model import ValidationFailed


def test_defaults() -> None:
    assert line_query({}) == LineQuery("stdout", None, DEFAULT_LINES, None, None, False)


def test_times_are_unix_seconds_turned_into_milliseconds() -> None:
    query = line_query({"start_time": "1451350944", "end_time": "1451350945.5", "from": "-20",
                        "size": "7", "stream": "stderr", "follow": "true"})
    assert query == LineQuery("stderr", -20, 7, 1451350944000, 1451350945500, True)


@pytest.mark.parametrize(("params", "path"), [
    ({"stream": "journal"}, "stream"),
    ({"from": "1.5"}, "from"),
    ({"from": "nan"}, "from"),
    ({"size": "0"}, "size"),
    ({"size": "10001"}, "size"),
    ({"start_time": "-1"}, "start_time"),
    ({"start_time": "yesterday"}, "start_time"),
    ({"start_time": "20", "end_time": "10"}, "end_time"),
    ({"follow": "maybe"}, "follow"),
])
def test_bad_parameters_are_named(params: dict[str, str], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        line_query(params)
    assert [detail.path for detail in caught.value.details] == [path]
