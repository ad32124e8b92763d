"""The history tables: executions, status traces, runs, statistics samples, webhook deliveries.

The schema of 0.1.0, the first release with migrations.

A database without ``alembic_version`` is either empty or made by an earlier release, which created its
tables with ``metadata.create_all`` and added to them at every start. So this revision creates only the
tables that are missing, and adds to the tables that exist what those releases added later (the ``ip``
columns, the index on end times): rows are never touched. The tables are spelled out here rather than
taken from ``schema.py``: a revision describes the schema of its time, and ``schema.py`` moves on.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = 512
_NAME = 255
_IP = 64


def _id_column() -> sa.BigInteger:
    # BIGINT on servers; SQLite only auto-increments an INTEGER PRIMARY KEY.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _event_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("job_name", sa.String(_NAME), nullable=False),
        sa.Column("sharding_item", sa.Integer(), nullable=True),
        sa.Column("firing_id", sa.String(_ID), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(_ID), nullable=False),
        sa.Column("hostname", sa.String(_NAME), nullable=False),
        sa.Column("ip", sa.String(_IP), nullable=False, server_default=""),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=False), nullable=True),
    ]


def _tables() -> list[tuple[str, list[Any], list[tuple[str, list[str]]]]]:
    """``(name, columns and constraints, indexes)`` of every table."""
    return [
        ("job_execution_log", [
            sa.Column("task_id", sa.String(_ID), primary_key=True),
            *_event_columns(),
            sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
            sa.Column("execution_time", sa.DateTime(timezone=False), nullable=False),
        ], [
            ("ix_job_execution_log_job_time", ["job_name", "execution_time"]),
            ("ix_job_execution_log_time", ["execution_time"]),
            ("ix_job_execution_log_state", ["state"]),
            ("ix_job_execution_log_firing", ["firing_id"]),
            ("ix_job_execution_log_job_firing", ["job_name", "firing_id"]),
            ("ix_job_execution_log_finished", ["finished_at"]),
        ]),
        ("job_status_trace_log", [
            sa.Column("id", _id_column(), primary_key=True, autoincrement=True),
            sa.Column("task_id", sa.String(_ID), nullable=False),
            *_event_columns(),
            sa.Column("at", sa.DateTime(timezone=False), nullable=False),
        ], [
            ("ix_job_status_trace_log_task", ["task_id", "at"]),
            ("ix_job_status_trace_log_job_at", ["job_name", "at"]),
            ("ix_job_status_trace_log_at", ["at"]),
            ("ix_job_status_trace_log_state", ["state"]),
        ]),
        ("job_run", [
            sa.Column("job_name", sa.String(_NAME), primary_key=True),
            sa.Column("firing_id", sa.String(_ID), primary_key=True),
            sa.Column("overrides", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        ], []),
        ("job_statistics_sample", [
            sa.Column("id", _id_column(), primary_key=True, autoincrement=True),
            sa.Column("statistics_time", sa.DateTime(timezone=False), nullable=False),
            sa.Column("running_task_count", sa.Integer(), nullable=False),
            sa.Column("running_job_count", sa.Integer(), nullable=False),
            sa.Column("registered_job_count", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        ], [
            ("ix_job_statistics_sample_time", ["statistics_time"]),
        ]),
        ("job_webhook_delivery", [
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("job_name", sa.String(_NAME), nullable=False),
            sa.Column("firing_id", sa.String(_ID), nullable=False),
            sa.Column("run_id", sa.String(32), nullable=False),
            sa.Column("event", sa.String(16), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("payload", sa.Text(), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("last_status", sa.Integer(), nullable=True),
            sa.Column("last_error", sa.Text(), nullable=False),
            sa.Column("next_attempt_at", sa.DateTime(timezone=False), nullable=True),
            sa.Column("delivered_at", sa.DateTime(timezone=False), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
        ], [
            ("ix_job_webhook_delivery_due", ["status", "next_attempt_at"]),
            ("ix_job_webhook_delivery_job", ["job_name", "created_at"]),
            ("ix_job_webhook_delivery_firing", ["job_name", "firing_id"]),
        ]),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns, indexes in _tables():
        if name not in existing:
            op.create_table(name, *columns)
            for index, on in indexes:
                op.create_index(index, name, on)
            continue
        # A table of an earlier release: add the columns and indexes it lacks (each with a default, so
        # the rows it holds stay valid and an earlier master can still write them).
        present = {c["name"] for c in inspector.get_columns(name)}
        for column in columns:
            if isinstance(column, sa.Column) and column.name not in present:
                op.add_column(name, column)
        indexed = {i["name"] for i in inspector.get_indexes(name)}
        for index, on in indexes:
            if index not in indexed:
                op.create_index(index, name, on)


def downgrade() -> None:
    for name, _columns, _indexes in reversed(_tables()):
        op.drop_table(name)
