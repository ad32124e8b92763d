"""The history tables, in portable SQLAlchemy Core (SQLite, PostgreSQL, MySQL, ...).

This is the schema the code reads and writes; databases are made and changed by the Alembic migrations of
``migrations/versions`` (run by ``upgrade.py``), never from this module. A change here comes with a new
revision there, and ``tests/integration/test_history_upgrade.py`` checks that head matches this module.

Datetimes are stored as naive UTC (``TIMESTAMP WITHOUT TIME ZONE``): every backend compares them the
same way, and the store re-attaches UTC when reading. ``execution_time`` is denormalised (start time,
else first event time) so that time filters and ordering use a plain index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

_ID = 512  # task ids embed job name (<= 128), agent id and a UUID
_NAME = 255
_IP = 64


def _event_columns() -> list[Column[Any]]:
    """The columns both tables share (new objects each call: a Column belongs to one table)."""
    return [
        Column("job_name", String(_NAME), nullable=False),
        Column("sharding_item", Integer, nullable=True),
        Column("firing_id", String(_ID), nullable=False, default=""),
        Column("state", String(16), nullable=False),
        Column("agent_id", String(_ID), nullable=False, default=""),
        Column("hostname", String(_NAME), nullable=False, default=""),
        # Added after the first release (migration 0001 adds it to databases made before).
        Column("ip", String(_IP), nullable=False, default="", server_default=""),
        Column("exit_code", Integer, nullable=True),
        Column("message", Text, nullable=False, default=""),
        Column("started_at", DateTime(timezone=False), nullable=True),
        Column("finished_at", DateTime(timezone=False), nullable=True),
    ]


job_execution_log = Table(
    "job_execution_log",
    metadata,
    Column("task_id", String(_ID), primary_key=True),
    *_event_columns(),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Column("execution_time", DateTime(timezone=False), nullable=False),
    Index("ix_job_execution_log_job_time", "job_name", "execution_time"),
    Index("ix_job_execution_log_time", "execution_time"),
    Index("ix_job_execution_log_state", "state"),
    Index("ix_job_execution_log_firing", "firing_id"),
    Index("ix_job_execution_log_job_firing", "job_name", "firing_id"),
    Index("ix_job_execution_log_finished", "finished_at"),  # task results by end time (/job/statistics)
)
"""One row per task, holding its latest state (see ``merge.py`` for how events update it)."""

job_status_trace_log = Table(
    "job_status_trace_log",
    metadata,
    # BIGINT on servers; SQLite only auto-increments an INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("task_id", String(_ID), nullable=False),
    *_event_columns(),
    Column("at", DateTime(timezone=False), nullable=False),
    Index("ix_job_status_trace_log_task", "task_id", "at"),
    Index("ix_job_status_trace_log_job_at", "job_name", "at"),
    Index("ix_job_status_trace_log_at", "at"),
    Index("ix_job_status_trace_log_state", "state"),
)
"""Append-only: every event ever recorded, in arrival order (``id``)."""


job_run = Table(
    "job_run",
    metadata,
    Column("job_name", String(_NAME), primary_key=True),
    Column("firing_id", String(_ID), primary_key=True),
    Column("overrides", Text, nullable=False),  # JSON: {"environment": {...}, "jobParameter": "..."}
    Column("created_at", DateTime(timezone=False), nullable=False),
)
"""A run's own environment and job parameter (a manual run's overrides), written at its first launch.
Only runs that have some are here; every other fact of a run comes from its executions."""


job_statistics_sample = Table(
    "job_statistics_sample",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("statistics_time", DateTime(timezone=False), nullable=False),
    Column("running_task_count", Integer, nullable=False),
    Column("running_job_count", Integer, nullable=False),
    Column("registered_job_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Index("ix_job_statistics_sample_time", "statistics_time"),
)
"""What the leader counted at one instant (``statistics.Sampler``): launched unfinished tasks, jobs with
such tasks, registered jobs. Elastic-Job-Cloud's TASK_RUNNING_STATISTICS, JOB_RUNNING_STATISTICS and
JOB_REGISTER_STATISTICS, taken together."""

job_webhook_delivery = Table(
    "job_webhook_delivery",
    metadata,
    Column("id", String(64), primary_key=True),  # model.webhook.delivery_id: run, event and URL
    Column("job_name", String(_NAME), nullable=False),
    Column("firing_id", String(_ID), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("event", String(16), nullable=False),  # start | end
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),  # the JSON body, built when the delivery was made
    Column("status", String(16), nullable=False),  # PENDING | DELIVERED | FAILED
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status", Integer, nullable=True),  # the last answer's HTTP status
    Column("last_error", Text, nullable=False, default=""),
    Column("next_attempt_at", DateTime(timezone=False), nullable=True),  # PENDING only
    Column("delivered_at", DateTime(timezone=False), nullable=True),
    Column("created_at", DateTime(timezone=False), nullable=False),
    Column("updated_at", DateTime(timezone=False), nullable=False),
    Index("ix_job_webhook_delivery_due", "status", "next_attempt_at"),
    Index("ix_job_webhook_delivery_job", "job_name", "created_at"),
    Index("ix_job_webhook_delivery_firing", "job_name", "firing_id"),
)
"""One row per webhook delivery (a run's start or end to one URL), written in the transaction that
records the run's events or the next one; the leader's worker (``webhooks/worker.py``) sends the due ones.
No secret is kept here: the worker signs with the job's current secret."""
