"""The hosted dialects' paginated envelope ``{"count", "next", "previous", "results"}`` (pure)."""

from __future__ import annotations

import pytest

from elasticjob.api.paging import envelope

URL = "http://master:8899/v1/jobs"


def test_one_page_holding_everything_links_nowhere() -> None:
    assert envelope([1, 2], 2, 1, 20, URL) == {"count": 2, "next": None, "previous": None, "results": [1, 2]}
    assert envelope([], 0, 1, 20, URL) == {"count": 0, "next": None, "previous": None, "results": []}


def test_a_middle_page_links_both_ways_keeping_the_other_parameters() -> None:
    query = [("namespace", "chennanfei"), ("page", "2"), ("page_size", "2")]
    page = envelope(["c", "d"], 5, 2, 2, URL, query)
    assert page["next"] == f"{URL}?namespace=chennanfei&page_size=2&page=3"
    # The first page is the list's URL without a page number, as Django REST framework answers.
    assert page["previous"] == f"{URL}?namespace=chennanfei&page_size=2"
    assert page["count"] == 5 and page["results"] == ["c", "d"]


def test_the_last_page_has_no_next_and_beyond_it_previous_names_the_last() -> None:
    last = envelope(["e"], 5, 3, 2, URL, [("page", "3")])
    assert last["next"] is None and last["previous"] == f"{URL}?page=2"
    beyond = envelope([], 5, 9, 2, URL, [("page", "9")])
    assert beyond["next"] is None and beyond["previous"] == f"{URL}?page=3"


def test_parameter_values_are_encoded_and_the_page_parameter_may_be_named() -> None:
    page = envelope([], 30, 1, 10, URL, [("q", "a b&c")], page_param="p")
    assert page["next"] == f"{URL}?q=a+b%26c&p=2" and page["previous"] is None


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0)])
def test_pages_and_sizes_start_at_one(page: int, size: int) -> None:
    with pytest.raises(ValueError):
        envelope([], 1, page, size, URL)
