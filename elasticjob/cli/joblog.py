"""``elasticjob job log``: the output of a run's tasks, read (and followed) through the master.

Every read goes through ``ElasticJobClient.task_log``, so that a line-oriented log API can replace the
byte ranges there without touching this module.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from elasticjob.cli.output import LocalError
from elasticjob.client import ApiError, ElasticJobClient, Run, RunTask

POLL_SECONDS = 0.5


def header(task: RunTask) -> str:
    """The line that introduces a task's output when a run has several: ``==> TASK_ID (shard N) <==``."""
    return f"==> {task.task_id} (shard {task.sharding_item}) <=="


class LogPrinter:
    """Prints tasks' logs to ``out``, each from where it was left; a header when it changes task."""

    def __init__(self, client: ElasticJobClient, stream: str, lines: int | None, out: TextIO) -> None:
        self.client = client
        self.stream = stream
        self.lines = lines
        self.out = out
        self.offsets: dict[str, int] = {}
        self.current: str | None = None  # the task whose output was printed last
        self.ended_line = True
        self.failed = False

    def write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.ended_line = text.endswith("\n")

    def _header(self, task: RunTask) -> None:
        if self.current == task.task_id:
            return
        if not self.ended_line:
            self.write("\n")
        self.write(header(task) + "\n")
        self.current = task.task_id

    def read(self, task: RunTask, headers: bool, always_header: bool = False) -> None:
        """Print what ``task`` wrote since the last read (first read: the last ``lines`` lines, or all).
        A task whose log cannot be read is reported on stderr and tried again at the next read."""
        try:
            chunks = self.unread(task)
        except ApiError as exc:
            print(f"error: {task.task_id}: {exc}", file=sys.stderr)
            self.failed = True
            return
        if headers and (always_header or any(chunks)):
            self._header(task)
        for text in chunks:
            self.write(text)

    def unread(self, task: RunTask) -> list[str]:
        """What ``task`` wrote since the last read, as chunks (advances its offset)."""
        chunks = []
        if task.task_id not in self.offsets and self.lines is not None:
            tail = self.client.task_log(task.task_id, self.stream, lines=self.lines)
            self.offsets[task.task_id] = tail.next_offset
            chunks.append(tail.data)
        offset = self.offsets.get(task.task_id, 0)
        while True:
            chunk = self.client.task_log(task.task_id, self.stream, offset=offset)
            chunks.append(chunk.data)
            moved = chunk.next_offset != offset
            offset = self.offsets[task.task_id] = chunk.next_offset
            if chunk.eof or not moved:
                return chunks


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


def show_log(
    args: argparse.Namespace, client: ElasticJobClient, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Print (``--follow``: and keep printing, until the run or task ends) the selected tasks' output."""
    printer = LogPrinter(client, "stderr" if args.stderr else "stdout", args.lines, sys.stdout)
    if args.task is not None and args.run_id is None:
        return _single_task(args, client, printer, sleep)
    run = _run_of(client, args.job_id, args.run_id)
    if args.task is not None and not _shards(run, args.task):
        raise LocalError(f"run {run.run_id} of job {args.job_id} has no task {args.task}")
    if not args.follow:
        tasks = _shards(run, args.task)
        if not tasks:
            print(f"run {run.run_id} of job {args.job_id} has no tasks yet ({run.status})", file=sys.stderr)
        for task in tasks:
            printer.read(task, headers=len(tasks) > 1, always_header=True)
        return 1 if printer.failed else 0
    while True:
        # The run's state is read before the logs: once it was seen finished, these reads get everything.
        finished = run.finished and not any(t.going for t in run.tasks)
        tasks = _shards(run, args.task)
        for task in tasks:
            printer.read(task, headers=len(tasks) > 1 or printer.current is not None)
        if finished:
            return 1 if printer.failed else 0
        sleep(POLL_SECONDS)
        run = client.get_run(args.job_id, run.run_id)


def _single_task(
    args: argparse.Namespace, client: ElasticJobClient, printer: LogPrinter, sleep: Callable[[float], None]
) -> int:
    """``--task`` without a run: its log (followed while the master lists it as running)."""
    task = RunTask(args.task, None, "RUNNING")
    while True:
        going = args.follow and any(t.get("id") == args.task for t in client.tasks("running"))
        for text in printer.unread(task):  # an unreadable log is this command's error: exit 1
            printer.write(text)
        if not going:
            return 0
        sleep(POLL_SECONDS)
