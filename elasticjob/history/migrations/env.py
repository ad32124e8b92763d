"""Alembic's environment for the history: runs the revisions on the connection ``upgrade.py`` hands over
(``config.attributes["connection"]``), inside the transaction it opened (and, on PostgreSQL, locked)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from elasticjob.history.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("the history's migrations run through elasticjob.history.upgrade, with a connection")
_run(connection)
