"""A typed, synchronous Python client of ElasticJob's REST API (native routes and Metronome's ``/v1``).

from elasticjob.client import ElasticJobClient

with ElasticJobClient("http://127.0.0.1:8899") as client:
    client.create_v1_job({"id": "hello", "run": {"cmd": "echo hi", "cpus": 0.1, "mem": 32}})
    run = client.start_run("hello", env={"GREETING": "hi"})
    done = client.wait_for_run("hello", run.run_id, timeout=120)
    for task in done.tasks:
        for line in client.task_lines(task.task_id, start=-10).lines:  # its last 10 lines
            print(task.sharding_item, task.state, line.time, line.message)
"""

from elasticjob.client.api import ElasticJobClient, last_lines
from elasticjob.client.errors import ApiError, ClientError, MasterUnreachable, RunTimeout
from elasticjob.client.http import DEFAULT_URL, default_url
from elasticjob.client.records import (
    JobRun,
    JobRunTask,
    LogChunk,
    LogLine,
    LogLines,
    Run,
    RunPage,
    RunTask,
    TaskLogError,
)

__all__ = [
    "DEFAULT_URL",
    "ApiError",
    "ClientError",
    "ElasticJobClient",
    "JobRun",
    "JobRunTask",
    "LogChunk",
    "LogLine",
    "LogLines",
    "MasterUnreachable",
    "Run",
    "RunPage",
    "RunTask",
    "RunTimeout",
    "TaskLogError",
    "default_url",
    "last_lines",
]
