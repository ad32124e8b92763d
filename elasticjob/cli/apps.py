"""``elasticjob app ...``: apps through the native API."""

from __future__ import annotations

import argparse

from elasticjob.cli.jobs import RAW, Parsers, _action
from elasticjob.cli.output import EXIT_CODES, print_json, print_table, read_document
from elasticjob.client import ElasticJobClient


def add_app_commands(sub: Parsers) -> None:
    app = sub.add_parser(
        "app",
        help="manage apps through the REST API",
        description="Manage apps.",
        epilog=EXIT_CODES,
        formatter_class=RAW,
    )
    cmds = app.add_subparsers(dest="action", required=True, metavar="ACTION")
    _action(cmds, "list", _list, "list registered apps", reading=True)
    _action(cmds, "show", _show, "show one app as JSON", reading=True).add_argument("name")
    _action(cmds, "add", _add, "register an app from a JSON file ('-' for stdin)").add_argument("file")
    _action(cmds, "update", _update, "replace an app's configuration from a JSON file").add_argument("file")
    remove = _action(cmds, "remove", _remove, "remove an app")
    remove.add_argument("name")
    remove.add_argument("--cascade", action="store_true", help="also remove every job of the app")
    for verb in ("enable", "disable"):
        _action(cmds, verb, _toggle, f"{verb} an app").add_argument("name")


def _list(args: argparse.Namespace, client: ElasticJobClient) -> int:
    apps = client.list_apps()
    if args.json:
        print_json(apps)
        return 0
    print_table(
        [[a["appName"], a["appURL"], a["cpuCount"], a["memoryMB"]] for a in apps],
        ["NAME", "URL", "CPUS", "MEM(MB)"],
    )
    return 0


def _show(args: argparse.Namespace, client: ElasticJobClient) -> int:
    print_json(client.get_app(args.name))
    return 0


def _add(args: argparse.Namespace, client: ElasticJobClient) -> int:
    client.register_app(read_document(args.file))
    print("app registered")
    return 0


def _update(args: argparse.Namespace, client: ElasticJobClient) -> int:
    client.update_app(read_document(args.file))
    print("app updated")
    return 0


def _remove(args: argparse.Namespace, client: ElasticJobClient) -> int:
    client.remove_app(args.name, cascade=args.cascade)
    print(f"app {args.name} removed")
    return 0


def _toggle(args: argparse.Namespace, client: ElasticJobClient) -> int:
    (client.enable_app if args.action == "enable" else client.disable_app)(args.name)
    print(f"app {args.name} {args.action}d")
    return 0
