"""``elasticjob job ...`` and ``elasticjob app ...``: a ``dcos job``-style client of the REST API."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import quote

from elasticjob.cli.client import ApiCallFailed, ApiClient


def add_job_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    job = sub.add_parser("job", help="manage jobs through the REST API", description="Manage jobs.")
    cmds = job.add_subparsers(dest="action", required=True, metavar="ACTION")
    cmds.add_parser("list", help="list registered jobs").add_argument("--json", action="store_true")
    cmds.add_parser("show", help="show one job as JSON").add_argument("name")
    for action, text in (
        ("add", "register a job from a JSON file ('-' for stdin)"),
        ("update", "replace a job's configuration from a JSON file"),
    ):
        cmds.add_parser(action, help=text).add_argument("file")
    cmds.add_parser("remove", help="remove a job").add_argument("name")
    cmds.add_parser("run", help="trigger one firing now").add_argument("name")
    cmds.add_parser("enable", help="enable a job").add_argument("name")
    cmds.add_parser("disable", help="disable a job").add_argument("name")
    logs = cmds.add_parser("log", help="print a task's stdout or stderr (from its agent, through the master)")
    logs.add_argument("task_id")
    logs.add_argument("--stream", choices=["stdout", "stderr"], default="stdout")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new output until the task ends"
    )
    logs.add_argument(
        "--tail", type=int, default=None, metavar="BYTES", help="start this many bytes from the end"
    )
    executions = cmds.add_parser("history", help="list recorded executions (newest first)")
    executions.add_argument("name", nargs="?", help="only this job")
    executions.add_argument("--state", help="only these states, comma-separated (e.g. FAILED,LOST)")
    executions.add_argument("--limit", type=int, default=20)
    executions.add_argument("--json", action="store_true")
    tasks = cmds.add_parser("tasks", help="list ready, running or failover tasks")
    tasks.add_argument("kind", choices=["ready", "running", "failover"], nargs="?", default="running")
    job.set_defaults(handler=_job)


def add_app_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    app = sub.add_parser("app", help="manage apps through the REST API", description="Manage apps.")
    cmds = app.add_subparsers(dest="action", required=True, metavar="ACTION")
    cmds.add_parser("list", help="list registered apps").add_argument("--json", action="store_true")
    cmds.add_parser("show", help="show one app as JSON").add_argument("name")
    cmds.add_parser("add", help="register an app from a JSON file ('-' for stdin)").add_argument("file")
    cmds.add_parser("update", help="replace an app's configuration from a JSON file").add_argument("file")
    remove = cmds.add_parser("remove", help="remove an app")
    remove.add_argument("name")
    remove.add_argument("--cascade", action="store_true", help="also remove every job of the app")
    cmds.add_parser("enable", help="enable an app").add_argument("name")
    cmds.add_parser("disable", help="disable an app").add_argument("name")
    app.set_defaults(handler=_app)


def _segment(name: str) -> str:
    """``name`` as exactly one URL path segment, so that ``../app/x`` cannot address another resource."""
    if name in {".", ".."}:
        return name.replace(".", "%2E")  # clients would otherwise resolve them as dot-segments
    return quote(name, safe="")


def _read_document(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise ApiCallFailed(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiCallFailed(f"{path} is not valid JSON: {exc}") from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _job(args: argparse.Namespace, client: ApiClient) -> None:
    action = args.action
    if action == "list":
        jobs = client.call("GET", "/job/jobs")
        if args.json:
            _print_json(jobs)
            return
        _table(
            [
                [
                    j["jobName"],
                    j.get("appName", j["jobName"]),
                    j["cron"],
                    str(j["shardingTotalCount"]),
                    j.get("jobExecutionType", ""),
                ]
                for j in jobs
            ],
            ["NAME", "APP", "CRON", "SHARDS", "TYPE"],
        )
    elif action == "show":
        _print_json(client.call("GET", f"/job/jobs/{_segment(args.name)}"))
    elif action == "add":
        client.call("POST", "/job/register", json=_read_document(args.file))
        print("job registered")
    elif action == "update":
        client.call("PUT", "/job/update", json=_read_document(args.file))
        print("job updated")
    elif action == "remove":
        client.call("DELETE", "/job/deregister", text=args.name)
        print(f"job {args.name} removed")
    elif action == "run":
        client.call("POST", "/job/trigger", text=args.name)
        print(f"job {args.name} triggered")
    elif action in ("enable", "disable"):
        client.call("POST", f"/job/{_segment(args.name)}/{action}")
        print(f"job {args.name} {action}d")
    elif action == "tasks":
        _print_json(client.call("GET", f"/job/tasks/{args.kind}"))
    elif action == "log":
        _follow_log(args, client)
    elif action == "history":
        params = {"per_page": str(args.limit)}
        if args.name:
            params["jobName"] = args.name
        if args.state:
            params["state"] = args.state
        page = client.call("GET", "/job/events/executions", params=params)
        if args.json:
            _print_json(page)
            return
        _table(
            [
                [
                    r["jobName"],
                    str(r["shardingItem"]),
                    r["state"],
                    r.get("agentId", ""),
                    r.get("startTime") or "",
                    r.get("failureCause", ""),
                    r["taskId"],
                ]
                for r in page["rows"]
            ],
            ["JOB", "SHARD", "STATE", "AGENT", "STARTED", "CAUSE", "TASK"],
        )


def _follow_log(args: argparse.Namespace, client: ApiClient) -> None:
    import time

    offset = -args.tail if args.tail else 0
    while True:
        chunk = client.call(
            "GET",
            f"/job/tasks/{args.task_id}/logs",
            params={"stream": args.stream, "offset": str(offset), "length": "65536"},
        )
        sys.stdout.write(chunk["data"])
        sys.stdout.flush()
        offset = chunk["nextOffset"]
        if not chunk["eof"]:
            continue
        if not args.follow:
            return
        running = {t["id"] for t in client.call("GET", "/job/tasks/running")}
        if args.task_id not in running:
            final = client.call(
                "GET",
                f"/job/tasks/{args.task_id}/logs",
                params={"stream": args.stream, "offset": str(offset), "length": "65536"},
            )
            sys.stdout.write(final["data"])
            return
        time.sleep(1.0)


def _app(args: argparse.Namespace, client: ApiClient) -> None:
    action = args.action
    if action == "list":
        apps = client.call("GET", "/app/list")
        if args.json:
            _print_json(apps)
            return
        _table(
            [[a["appName"], a["appURL"], str(a["cpuCount"]), str(a["memoryMB"])] for a in apps],
            ["NAME", "URL", "CPUS", "MEM(MB)"],
        )
    elif action == "show":
        _print_json(client.call("GET", f"/app/{_segment(args.name)}"))
    elif action == "add":
        client.call("POST", "/app", json=_read_document(args.file))
        print("app registered")
    elif action == "update":
        client.call("PUT", "/app", json=_read_document(args.file))
        print("app updated")
    elif action == "remove":
        params = {"cascade": "true"} if args.cascade else None
        client.call("DELETE", f"/app/{_segment(args.name)}", params=params)
        print(f"app {args.name} removed")
    elif action in ("enable", "disable"):
        client.call("POST", f"/app/{_segment(args.name)}/{action}")
        print(f"app {args.name} {action}d")
