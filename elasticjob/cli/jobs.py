"""``elasticjob job ...``: ``dcos job``'s commands on the ``/v1`` API, and the native extras.

Each action's parser sets ``action_handler(args, client) -> exit code``; ``main`` builds the client and
turns the client's errors into exit codes (``output.EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from elasticjob.cli.joblog import show_log
from elasticjob.cli.output import (
    EXIT_CODES,
    LocalError,
    env_of,
    env_pair,
    field,
    print_json,
    print_table,
    read_document,
    short_time,
    task_summary,
)
from elasticjob.client import ElasticJobClient, Run

Parsers = argparse._SubParsersAction  # type: ignore[type-arg]
RAW = argparse.RawDescriptionHelpFormatter


def _action(
    cmds: Parsers, name: str, handler: Any, help: str, reading: bool = False
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = cmds.add_parser(
        name, help=help, description=help, epilog=EXIT_CODES, formatter_class=RAW
    )
    parser.set_defaults(action_handler=handler, parser_of_action=parser)
    if reading:
        parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    return parser


def add_job_commands(sub: Parsers) -> None:
    job = sub.add_parser(
        "job",
        help="manage jobs, runs, schedules and logs through the REST API",
        description="Manage jobs (the dcos job commands, on the /v1 API).",
        epilog=EXIT_CODES,
        formatter_class=RAW,
    )
    cmds = job.add_subparsers(dest="action", required=True, metavar="ACTION")
    _action(cmds, "list", _list, "list jobs: status, last run, schedule", reading=True)
    show = _action(
        cmds,
        "show",
        _show,
        "show a job as JSON (/v1 shape with its schedules); `show runs ID`: its runs",
        reading=True,
    )
    show.add_argument("job_id", metavar="ID | runs", help="the job, or `runs` followed by the job")
    show.add_argument("runs_of", nargs="?", metavar="ID", help=argparse.SUPPRESS)
    show.add_argument("--native", action="store_true", help="the job in the native shape (GET /job/jobs/ID)")
    show.add_argument("--run-id", help="`show runs`: this run, with its tasks")
    show.add_argument("--all", action="store_true", help="`show runs`: finished runs too (newest first)")
    show.add_argument(
        "--limit", type=int, default=20, help="`show runs --all`: at most this many (default 20)"
    )
    add = _action(
        cmds,
        "add",
        _add,
        "add a job from a JSON file ('-': stdin): a Metronome job (with `run`) "
        "through POST /v1/jobs, a native one (with `jobName`) through POST /job/register",
    )
    add.add_argument("file")
    _action(
        cmds, "update", _update, "replace a job's spec from a JSON file (Metronome or native)"
    ).add_argument("file")
    remove = _action(cmds, "remove", _remove, "remove a job")
    remove.add_argument("job_id", metavar="ID")
    remove.add_argument(
        "--stop-current-job-runs",
        action="store_true",
        help="kill its active runs first (else a job with active runs is not removed)",
    )
    run = _action(cmds, "run", _run, "start a run now and print its id")
    run.add_argument("job_id", metavar="ID")
    run.add_argument(
        "--env",
        action="append",
        type=env_pair,
        metavar="K=V",
        help="an environment variable for this run only (repeatable)",
    )
    run.add_argument("--job-parameter", help="the job parameter for this run only")
    run.add_argument(
        "--wait",
        action="store_true",
        help="follow the run to its end (status changes on stderr); exit 0 on SUCCESS, 1 on FAILED",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="--wait: give up after this long (exit 1; default: no limit)",
    )
    kill = _action(cmds, "kill", _kill, "stop a run (its tasks are killed), or every active run with --all")
    kill.add_argument("job_id", metavar="ID")
    kill.add_argument("run_id", nargs="?", metavar="RUN_ID")
    kill.add_argument("--all", action="store_true", help="stop every active run of the job")
    history = _action(cmds, "history", _history, "the job's finished runs, newest first", reading=True)
    history.add_argument("job_id", metavar="ID")
    history.add_argument("--failures", action="store_true", help="only failed runs")
    history.add_argument("--last", action="store_true", help="only the newest")
    _schedule_commands(_action(cmds, "schedule", None, "manage a job's schedule"))
    log = _action(cmds, "log", show_log, "print the output of a run's tasks (default: the newest run's)")
    log.add_argument("job_id", metavar="JOB_ID")
    log.add_argument("run_id", nargs="?", metavar="RUN_ID")
    log.add_argument(
        "--task", metavar="TASK_ID", help="only this task (of the run, or any task without RUN_ID)"
    )
    log.add_argument("--stderr", action="store_true", help="stderr instead of stdout")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing until the run (task) ends")
    log.add_argument("--lines", type=int, default=None, metavar="N", help="start with the last N lines")
    for verb in ("enable", "disable"):
        _action(cmds, verb, _toggle, f"{verb} a job's scheduling (native)").add_argument(
            "job_id", metavar="ID"
        )
    tasks = _action(
        cmds, "tasks", _tasks, "list ready, running or failover tasks (native; JSON)", reading=True
    )
    tasks.add_argument("kind", choices=["ready", "running", "failover"], nargs="?", default="running")
    executions = _action(
        cmds, "executions", _executions, "recorded executions of shards, newest first (native)", reading=True
    )
    executions.add_argument("name", nargs="?", help="only this job")
    executions.add_argument("--state", help="only these states, comma-separated (e.g. FAILED,LOST)")
    executions.add_argument("--limit", type=int, default=20)


def _schedule_commands(schedule: argparse.ArgumentParser) -> None:
    cmds = schedule.add_subparsers(dest="schedule_action", required=True, metavar="ACTION")
    add = _action(cmds, "add", _schedule_add, "add the job's schedule from a JSON file ('-': stdin)")
    add.add_argument("job_id", metavar="ID")
    add.add_argument("file")
    show = _action(cmds, "show", _schedule_show, "show the job's schedules", reading=True)
    show.add_argument("job_id", metavar="ID")
    update = _action(
        cmds, "update", _schedule_update, "replace a schedule (the file's `id`) from a JSON file"
    )
    update.add_argument("job_id", metavar="ID")
    update.add_argument("file")
    remove = _action(cmds, "remove", _schedule_remove, "remove a schedule: the job then runs only when asked")
    remove.add_argument("job_id", metavar="ID")
    remove.add_argument("schedule_id", metavar="SCHEDULE_ID")


# ---- jobs ---------------------------------------------------------------------------------------------


def job_status(job: dict[str, Any]) -> str:
    """dcos's STATUS of a ``/v1`` job with ``activeRuns`` and ``schedules`` embedded."""
    if job.get("activeRuns"):
        return "Running"
    if any(s.get("enabled", True) for s in job.get("schedules") or ()):
        return "Scheduled"
    return "Unscheduled"


def last_run(summary: dict[str, Any] | None) -> str:
    """``Success``, ``Failed`` or ``N/A``: how the newest finished run ended (``historySummary``)."""
    success, failure = field(summary or {}, "lastSuccessAt"), field(summary or {}, "lastFailureAt")
    if not success and not failure:
        return "N/A"
    return "Success" if (success or "") > (failure or "") else "Failed"


def _list(args: argparse.Namespace, client: ElasticJobClient) -> int:
    jobs = client.list_v1_jobs(["activeRuns", "schedules", "historySummary"])
    if args.json:
        print_json(jobs)
        return 0
    rows = []
    for job in jobs:
        schedule = (job.get("schedules") or [{}])[0]
        rows.append(
            [
                job["id"],
                job_status(job),
                last_run(job.get("historySummary")),
                schedule.get("cron"),
                short_time(schedule.get("nextRunAt")),
                job.get("description"),
            ]
        )
    print_table(rows, ["ID", "STATUS", "LAST RUN", "SCHEDULE", "NEXT RUN", "DESCRIPTION"])
    return 0


def _show(args: argparse.Namespace, client: ElasticJobClient) -> int:
    if args.job_id == "runs" and args.runs_of is not None:
        return _show_runs(args, client, args.runs_of)
    if args.runs_of is not None:
        raise LocalError(f"unexpected argument {args.runs_of!r} (show ID, or show runs ID)")
    print_json(client.get_job(args.job_id) if args.native else client.get_v1_job(args.job_id, ["schedules"]))
    return 0


def _show_runs(args: argparse.Namespace, client: ElasticJobClient, job_id: str) -> int:
    if args.run_id is not None:
        run = client.get_run(job_id, args.run_id)
        if args.json:
            print_json(run.raw)
            return 0
        print(
            f"run {run.run_id} of job {run.job_name}: {run.status} ({run.cause})"
            + (f": {run.reason}" if run.reason else "")
        )
        print_table(
            [
                [
                    t.task_id,
                    t.sharding_item,
                    t.state,
                    t.agent_id,
                    t.exit_code,
                    short_time(t.raw.get("startedAt")),
                    short_time(t.raw.get("finishedAt")),
                    t.message,
                ]
                for t in run.tasks
            ],
            ["TASK", "SHARD", "STATE", "AGENT", "EXIT", "STARTED", "FINISHED", "MESSAGE"],
        )
        return 0
    page = client.list_runs(job_id, per_page=args.limit if args.all else 100)
    runs = list(page.runs) if args.all else [r for r in page.runs if not r.finished]
    if args.json:
        print_json([r.raw for r in runs])
        return 0
    print_table(_run_rows(runs), ["RUN", "STATUS", "CAUSE", "CREATED", "FINISHED", "TASKS"])
    return 0


def _run_rows(runs: list[Run]) -> list[list[Any]]:
    return [
        [
            r.run_id,
            r.status,
            r.cause,
            short_time(r.raw.get("createdAt")),
            short_time(r.raw.get("finishedAt")),
            task_summary(t.state for t in r.tasks),
        ]
        for r in runs
    ]


def _document(path: str) -> dict[str, Any]:
    document = read_document(path)
    if isinstance(document, dict) and ("run" in document or "jobName" in document):
        return document
    raise LocalError(f"{path} is neither a Metronome job (with `run`) nor a native job (with `jobName`)")


def _add(args: argparse.Namespace, client: ElasticJobClient) -> int:
    document = _document(args.file)
    if "run" in document:
        print(f"job {client.create_v1_job(document)['id']} added")
    else:
        client.register_job(document)
        print(f"job {document['jobName']} added")
    return 0


def _update(args: argparse.Namespace, client: ElasticJobClient) -> int:
    document = _document(args.file)
    if "run" in document:
        if not isinstance(document.get("id"), str):
            raise LocalError(f"{args.file} has no `id`: which job to update?")
        client.update_v1_job(document["id"], document)
        print(f"job {document['id']} updated")
    else:
        client.update_job(document)
        print(f"job {document['jobName']} updated")
    return 0


def _remove(args: argparse.Namespace, client: ElasticJobClient) -> int:
    client.delete_v1_job(args.job_id, stop_current_job_runs=args.stop_current_job_runs)
    print(f"job {args.job_id} removed")
    return 0


def progress_line(run: Run) -> str:
    """One line of ``job run --wait``: ``RUN_ID STATUS (2 RUNNING, 1 FINISHED)[: reason]``."""
    tasks = task_summary(t.state for t in run.tasks)
    return (
        f"{run.run_id} {run.status}"
        + (f" ({tasks})" if tasks else "")
        + (f": {run.reason}" if run.reason else "")
    )


def _run(args: argparse.Namespace, client: ElasticJobClient) -> int:
    run = client.start_run(args.job_id, env_of(args.env) or None, args.job_parameter)
    print(run.run_id, flush=True)
    if not args.wait:
        return 0
    done = client.wait_for_run(
        args.job_id,
        run.run_id,
        timeout=args.timeout,
        on_progress=lambda seen: print(progress_line(seen), file=sys.stderr, flush=True),
    )
    if done.status == "SUCCESS":
        return 0
    print(f"error: run {done.run_id} of job {done.job_name} ended {done.status}", file=sys.stderr)
    return 1


def _kill(args: argparse.Namespace, client: ElasticJobClient) -> int:
    if args.all == (args.run_id is not None):
        args.parser_of_action.error("give either RUN_ID or --all")
    run_ids = [r.id for r in client.list_v1_runs(args.job_id)] if args.all else [args.run_id]
    if not run_ids:
        print(f"job {args.job_id} has no active runs")
    for run_id in run_ids:
        client.stop_v1_run(args.job_id, run_id)
        print(f"run {run_id} of job {args.job_id} stopped")
    return 0


def _history(args: argparse.Namespace, client: ElasticJobClient) -> int:
    job = client.get_v1_job(args.job_id, ["history"])
    history = job["history"]
    runs = [] if args.failures else [(r, "SUCCESS") for r in history["successfulFinishedRuns"]]
    runs += [(r, "FAILED") for r in history["failedFinishedRuns"]]
    runs.sort(key=lambda found: (found[0].get("createdAt") or "", found[0]["id"]), reverse=True)
    if args.last:
        runs = runs[:1]
    if args.json:
        print_json(job if not (args.failures or args.last) else [{**r, "status": s} for r, s in runs])
        return 0
    print(
        f"{args.job_id}: {history['successCount']} successful, {history['failureCount']} failed; "
        f"last success {short_time(history['lastSuccessAt']) or 'N/A'}, "
        f"last failure {short_time(history['lastFailureAt']) or 'N/A'}"
    )
    print_table(
        [[r["id"], s, short_time(r.get("createdAt")), short_time(r.get("finishedAt"))] for r, s in runs],
        ["ID", "STATUS", "STARTED", "FINISHED"],
    )
    return 0


# ---- schedules ----------------------------------------------------------------------------------------


def _schedule_add(args: argparse.Namespace, client: ElasticJobClient) -> int:
    schedule = client.create_schedule(args.job_id, read_document(args.file))
    print(f"schedule {schedule['id']} of job {args.job_id} added")
    return 0


def _schedule_show(args: argparse.Namespace, client: ElasticJobClient) -> int:
    schedules = client.list_schedules(args.job_id)
    if args.json:
        print_json(schedules)
        return 0
    print_table(
        [
            [
                s["id"],
                s.get("cron"),
                s.get("timezone"),
                str(s.get("enabled")).lower(),
                s.get("concurrencyPolicy"),
                short_time(s.get("nextRunAt")),
            ]
            for s in schedules
        ],
        ["ID", "CRON", "TIMEZONE", "ENABLED", "CONCURRENCY", "NEXT RUN"],
    )
    return 0


def _schedule_update(args: argparse.Namespace, client: ElasticJobClient) -> int:
    document = read_document(args.file)
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise LocalError(f"{args.file} has no `id`: which schedule to update?")
    client.update_schedule(args.job_id, document["id"], document)
    print(f"schedule {document['id']} of job {args.job_id} updated")
    return 0


def _schedule_remove(args: argparse.Namespace, client: ElasticJobClient) -> int:
    client.delete_schedule(args.job_id, args.schedule_id)
    print(f"schedule {args.schedule_id} of job {args.job_id} removed")
    return 0


# ---- native extras ------------------------------------------------------------------------------------


def _toggle(args: argparse.Namespace, client: ElasticJobClient) -> int:
    (client.enable_job if args.action == "enable" else client.disable_job)(args.job_id)
    print(f"job {args.job_id} {args.action}d")
    return 0


def _tasks(args: argparse.Namespace, client: ElasticJobClient) -> int:
    print_json(client.tasks(args.kind))  # the shapes of Elastic-Job-Cloud's task lists: JSON either way
    return 0


def _executions(args: argparse.Namespace, client: ElasticJobClient) -> int:
    page = client.executions(args.name, args.state, per_page=args.limit)
    if args.json:
        print_json(page)
        return 0
    print_table(
        [
            [
                r["jobName"],
                r["shardingItem"],
                r["state"],
                r.get("agentId", ""),
                short_time(r.get("startTime")),
                r.get("failureCause", ""),
                r["taskId"],
            ]
            for r in page["rows"]
        ],
        ["JOB", "SHARD", "STATE", "AGENT", "STARTED", "CAUSE", "TASK"],
    )
    return 0
