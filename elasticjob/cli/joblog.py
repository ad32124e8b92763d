"""``elasticjob job log``: the output of a run's tasks, read (and followed) through the master's line API.

Without ``--follow`` each task's lines are paged through (``ElasticJobClient.task_lines``); with it, the
master streams them as they come until the run (or the task) has ended (``follow_run_log``,
``follow_task_log``). ``--lines N`` starts N lines before the end of each task's log.
"""

from __future__ import annotations

import argparse
import sys

from elasticjob.cli.output import LocalError
from elasticjob.client import ApiError, ElasticJobClient, LogLine, Run, RunTask, TaskLogError

PAGE = 10_000  # lines a read asks for (the master's maximum)


def header(task: RunTask) -> str:
    """The line that introduces a task's output when a run has several: ``==> TASK_ID (shard N) <==``."""
    return f"==> {task.task_id} (shard {task.sharding_item}) <=="


def _print(line: LogLine) -> None:
    sys.stdout.write(line.message + "\n")


def _print_task(client: ElasticJobClient, task_id: str, stream: str, start: int | None) -> None:
    """Every line of the task's log from ``start`` (None: the oldest kept) that is there now."""
    page = client.task_lines(task_id, stream, start=start if start is not None else 0, size=PAGE)
    while True:
        for line in page.lines:
            _print(line)
        if page.eof:
            break
        page = client.task_lines(task_id, stream, start=page.next_line, size=PAGE)
    sys.stdout.flush()


def _shards(run: Run, task_id: str | None) -> list[RunTask]:
    """The run's tasks to print (every attempt of every shard, or just ``task_id``)."""
    tasks = [t for t in run.tasks if t.sharding_item is not None]
    if task_id is None:
        return tasks
    return [t for t in tasks if t.task_id == task_id]


def _run_of(client: ElasticJobClient, job: str, run_id: str | None) -> Run:
    if run_id is not None:
        return client.get_run(job, run_id)
    page = client.list_runs(job, per_page=1)
    if not page.runs:
        raise LocalError(f"job {job} has no runs yet")
    return page.runs[0]


def show_log(args: argparse.Namespace, client: ElasticJobClient) -> int:
    """Print (``--follow``: and keep printing, until the run or task ends) the selected tasks' output.
    Exit 1 if a task's log could not be read (its error on stderr), else 0."""
    stream = "stderr" if args.stderr else "stdout"
    start = -args.lines if args.lines is not None else None
    if args.task is not None and args.run_id is None:
        if args.follow:
            for line in client.follow_task_log(args.task, stream, start):
                _print(line)
                sys.stdout.flush()
        else:
            _print_task(client, args.task, stream, start)
        return 0
    run = _run_of(client, args.job_id, args.run_id)
    tasks = _shards(run, args.task)
    if args.task is not None and not tasks:
        raise LocalError(f"run {run.run_id} of job {args.job_id} has no task {args.task}")
    if args.follow:
        return _follow_run(client, args, run, stream, start)
    if not tasks:
        print(f"run {run.run_id} of job {args.job_id} has no tasks yet ({run.status})", file=sys.stderr)
    failed = False
    for task in tasks:
        if len(tasks) > 1:
            print(header(task), flush=True)
        try:
            _print_task(client, task.task_id, stream, start)
        except ApiError as exc:
            print(f"error: {task.task_id}: {exc}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def _follow_run(client: ElasticJobClient, args: argparse.Namespace, run: Run, stream: str,
                start: int | None) -> int:
    if args.task is not None:
        for line in client.follow_task_log(args.task, stream, start):
            _print(line)
            sys.stdout.flush()
        return 0
    several = len(run.tasks) > 1 or len({t.sharding_item for t in run.tasks}) > 1
    current: str | None = None
    failed = False
    for item in client.follow_run_log(args.job_id, run.run_id, stream, start):
        if isinstance(item, TaskLogError):
            print(f"error: {item.task_id}: {item.message}", file=sys.stderr)
            failed = True
            continue
        if item.task_id != current and (several or current is not None):
            print(header(RunTask(item.task_id or "", item.sharding_item, "")))
        current = item.task_id
        _print(item)
        sys.stdout.flush()
    return 1 if failed else 0
