"""Bring a history database made by an earlier release up to the current schema, in place.

``metadata.create_all`` creates missing tables (and their indexes) but never changes a table that exists.
What later releases added to existing tables is added here, idempotently: each step first looks whether
it is needed, so running it on every start costs a look at the catalogue. Only additive changes are
made (a column with a default, an index), so an older master can still use the upgraded database.

Several masters may start at once on a shared database: a step that fails because another process did
it meanwhile is looked at again, and passes.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from elasticjob.history.schema import ADDED_COLUMNS, ADDED_INDEXES

log = logging.getLogger(__name__)


def missing_columns(engine: Engine) -> list[tuple[str, str, str]]:
    """``(table, column, DDL type and default)`` of every added column the database lacks."""
    inspector = inspect(engine)
    missing = []
    for table, column, ddl in ADDED_COLUMNS:
        present = {c["name"] for c in inspector.get_columns(table)}
        if column not in present:
            missing.append((table, column, ddl))
    return missing


def upgrade(engine: Engine) -> None:
    """Add what ``ADDED_COLUMNS`` and ``ADDED_INDEXES`` name and the database lacks. Raises
    ``SQLAlchemyError`` when a step fails and is still needed afterwards."""
    for table, column, ddl in missing_columns(engine):
        try:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
            log.info("history: added column %s.%s", table, column)
        except SQLAlchemyError:
            if (table, column, ddl) in missing_columns(engine):
                raise
    for index, table_name in ADDED_INDEXES:
        try:
            index.create(engine, checkfirst=True)
        except SQLAlchemyError:
            if index.name not in {i["name"] for i in inspect(engine).get_indexes(table_name)}:
                raise
