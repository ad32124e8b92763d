"""Bring a history database to the schema of this release: Alembic's revisions in ``migrations/``.

``upgrade(engine)`` runs at every start of a store (the master's, ``elasticjob history upgrade``): on an
up-to-date database it costs a look at ``alembic_version``. An empty database gets every table; a
database made by a release before migrations (tables, no ``alembic_version``) is adopted by revision
0001, which adds what it lacks and keeps its rows, and is then stamped with it.

Several masters may start at once on one PostgreSQL database: the whole upgrade runs in one transaction
that first takes a transaction-level advisory lock (``pg_advisory_xact_lock``), so the others wait, then
find the database at head and do nothing. PostgreSQL's DDL is transactional: an upgrade that fails leaves
the database as it was. SQLite's transaction starts with ``BEGIN IMMEDIATE`` (its write lock) for the same
effect among processes sharing a file.

Revisions only add (tables, columns with defaults, indexes), so a master of the previous release can
still use a database upgraded by this one; a database at a revision this release does not know (made by
a newer release) is therefore used as it is, with a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# Execution option: this transaction writes (SQLite: BEGIN IMMEDIATE, see sql.py).
WRITE_OPTION = "elasticjob_history_write"
# pg_advisory_xact_lock's key ("ejhistu" in ASCII): a constant no other user of the database takes.
ADVISORY_LOCK_KEY = 0x656A6869737475


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision of this release."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    if found is None:  # only a broken installation (no versions/) gets here
        raise RuntimeError(f"no history migrations in {MIGRATIONS}")
    return found


def known() -> set[str]:
    """Every revision of this release."""
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def current(conn: Connection) -> str | None:
    """The revision ``alembic_version`` names (None: no such table, or empty)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str | None:
    """Upgrade the database to :func:`head`; returns the revision it was at before (None: none).
    Raises ``SQLAlchemyError`` when a step fails (nothing of the upgrade is kept then, except on
    SQLite, whose ALTER TABLE is not fully transactional)."""
    newest = head()
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            before = current(conn)
            if before == newest:
                return before
            if before is not None and before not in known():
                log.warning(
                    "history: the database is at revision %s, which this release (head %s) does not know: "
                    "a newer release upgraded it; using it as it is", before, newest,
                )
                return before
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    log.info("history: database upgraded from revision %s to %s", before or "(none)", newest)
    return before
