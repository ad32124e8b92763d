"""Domain models and their validation. Imports nothing else of ElasticJob."""

from elasticjob.model.app import App
from elasticjob.model.errors import Conflict, DomainError, FieldError, NotFound, Unavailable, ValidationFailed
from elasticjob.model.job import (
    ConcurrencyPolicy,
    CronDialect,
    Job,
    JobExecutionType,
    JobType,
    ManualRun,
    parse_sharding_item_parameters,
)
from elasticjob.model.names import check_name
from elasticjob.model.task import (
    NOT_STARTED,
    TERMINAL_STATES,
    TaskId,
    TaskKind,
    TaskState,
    check_agent_id,
    missed_task_id,
)
from elasticjob.model.validation import parse_json_model

__all__ = [
    "App",
    "ConcurrencyPolicy",
    "Conflict",
    "CronDialect",
    "DomainError",
    "FieldError",
    "Job",
    "ManualRun",
    "JobExecutionType",
    "JobType",
    "NOT_STARTED",
    "NotFound",
    "TERMINAL_STATES",
    "TaskId",
    "TaskKind",
    "TaskState",
    "Unavailable",
    "ValidationFailed",
    "check_agent_id",
    "missed_task_id",
    "check_name",
    "parse_json_model",
    "parse_sharding_item_parameters",
]
