"""A master's warning about a private (SQLite) history while other masters run."""

from __future__ import annotations

import logging

import pytest

from elasticjob.master.history_split import HistorySplit, is_private, split_warning

SQLITE = "sqlite:////var/lib/elasticjob/history.db"
POSTGRES = "postgresql+psycopg://elasticjob@db.example.com/elasticjob"


def test_every_sqlite_url_or_path_is_private_and_a_server_is_not() -> None:
    assert is_private(SQLITE) and is_private("/srv/shared/history.db") and is_private(":memory:")
    assert not is_private(POSTGRES)


def test_the_warning_says_why_and_names_the_flag() -> None:
    assert split_warning(SQLITE, "prod", 0) is None
    assert split_warning(POSTGRES, "prod", 2) is None
    warning = split_warning(SQLITE, "prod", 2)
    assert warning is not None
    assert "2 other masters run in namespace prod" in warning and SQLITE in warning
    assert "--history-url postgresql+psycopg://" in warning


def test_it_is_logged_when_it_appears_and_changes_and_kept_for_leader(caplog: pytest.LogCaptureFixture) -> None:
    split = HistorySplit(SQLITE, "prod")
    with caplog.at_level(logging.INFO, logger="elasticjob.master.history_split"):
        split.masters_changed(frozenset())
        assert split.warnings() == [] and caplog.records == []
        split.masters_changed(frozenset({"n_0000000002"}))
        split.masters_changed(frozenset({"n_0000000003"}))  # another one, as many: said once
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        assert split.warnings() == [split_warning(SQLITE, "prod", 1)]
        split.masters_changed(frozenset({"n_0000000003", "n_0000000004"}))
        assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
        split.masters_changed(frozenset())
        assert split.warnings() == [] and caplog.records[-1].levelname == "INFO"


def test_a_shared_database_never_warns() -> None:
    split = HistorySplit(POSTGRES, "prod")
    split.masters_changed(frozenset({"n_0000000002"}))
    assert split.warnings() == []
