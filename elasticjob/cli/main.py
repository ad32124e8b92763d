"""The ``elasticjob`` command: ``master``, ``dev``, ``job``, ``app``, ``auth``, ``certs``, ``history``,
``version``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from elasticjob import __version__
from elasticjob.cli.apps import add_app_commands
from elasticjob.cli.auth import add_auth_commands
from elasticjob.cli.certs import add_certs_command
from elasticjob.cli.configcheck import add_config_commands
from elasticjob.cli.configfile import (
    CONFIG_FLAG,
    ConfigFileError,
    apply_config_file,
    drop_file_items,
    mentions_config,
)
from elasticjob.cli.history import add_history_commands
from elasticjob.cli.jobs import add_job_commands
from elasticjob.cli.output import EXIT_CODES, LocalError
from elasticjob.client import DEFAULT_URL, ApiError, ClientError, ElasticJobClient, MasterUnreachable

log = logging.getLogger("elasticjob")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def _add_zk_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    zk_default = _env("ELASTICJOB_ZK")
    parser.add_argument(
        "--zk",
        default=zk_default,
        required=required and zk_default is None,
        help="ZooKeeper hosts HOST:PORT[,HOST:PORT...] (env ELASTICJOB_ZK)",
    )
    parser.add_argument(
        "--namespace",
        default=_env("ELASTICJOB_NAMESPACE", "elasticjob"),
        help="ZooKeeper root of this installation (env ELASTICJOB_NAMESPACE; default elasticjob)",
    )
    parser.add_argument(
        "--zk-auth",
        default=_env("ELASTICJOB_ZK_AUTH"),
        metavar="USER:PASSWORD",
        help="ZooKeeper digest credentials; znodes created get an ACL for this identity only",
    )
    parser.add_argument(
        "--zk-session-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="ZooKeeper session timeout: how soon a dead process is noticed (default 10)",
    )
    parser.add_argument(
        "--zk-connect-timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="give up starting if ZooKeeper cannot be reached this long (default 15)",
    )


def _add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        CONFIG_FLAG,
        type=Path,
        default=None,
        metavar="FILE",
        help="read flags from this TOML file: each key is a long flag without its dashes (zk = "
        "\"HOST:PORT\", data-dir = \"/var/lib/...\", insecure = true), relative paths are relative to the "
        "file's directory, and flags given on the command line override it (check one with "
        "`elasticjob config check FILE`)",
    )


def _add_url_flags(parser: argparse.ArgumentParser, verb: str) -> None:
    """The URL allow-list (``security.urls``), the same on master (checked on every write) and agent
    (checked before every fetch)."""
    parser.add_argument(
        "--allow-file-urls",
        action=argparse.BooleanOptionalAction,
        default=False,
        help=f"{verb} file:// app and artifact URLs besides http and https (files of the agent's host: for "
        "one machine, or agents whose local files are meant to be served)",
    )
    parser.add_argument(
        "--url-hosts",
        default=_env("ELASTICJOB_URL_HOSTS"),
        metavar="HOST[,HOST...]",
        help=f"{verb} http(s) app and artifact URLs of these hosts only (*.example.com: any subdomain); "
        "default: any host",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elasticjob",
        description="ElasticJob: a distributed, sharded job platform coordinated through ZooKeeper.",
        epilog="`job` and `app` " + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default=_env("ELASTICJOB_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    master = sub.add_parser(
        "master",
        help="run a master (REST API, console, scheduler)",
        description="Run a master. Start two or more on one ZooKeeper for HA. Every flag can also be given "
        "in a --config file.",
    )
    _add_config_flag(master)
    _add_zk_flags(master)
    master.add_argument(
        "--http",
        default="127.0.0.1:8899",
        help="HTTP listen address (default 127.0.0.1:8899; port 0: any free port, written to "
        "DATA_DIR/master.json)",
    )
    master.add_argument(
        "--grpc",
        default="127.0.0.1:8898",
        help="gRPC listen address for agents (default 127.0.0.1:8898; port 0: any free port)",
    )
    master.add_argument(
        "--advertise-host",
        default=None,
        help="host name or address other processes use to reach this master, published in ZooKeeper for "
        "agents (gRPC) and followers (HTTP) (default: the host of --http and --grpc, or this host's name "
        "for 0.0.0.0); with --grpc-tls-cert the certificate must cover it",
    )
    master.add_argument(
        "--data-dir",
        default=_env("ELASTICJOB_DATA_DIR", "./var/master"),
        type=Path,
        help="directory for local state such as the execution history (default ./var/master)",
    )
    master.add_argument(
        "--max-body-bytes",
        type=int,
        default=1024 * 1024,
        help="largest accepted request body (default 1 MiB); larger ones get 413",
    )
    master.add_argument(
        "--max-header-bytes",
        type=int,
        default=64 * 1024,
        help="largest accepted request line and headers (default 64 KiB); larger ones get 431",
    )
    master.add_argument(
        "--max-connections",
        type=int,
        default=1024,
        help="concurrent HTTP connections served (default 1024); requests beyond them get 503",
    )
    master.add_argument(
        "--history-url",
        default=_env("ELASTICJOB_HISTORY_URL"),
        help="execution history database: a SQLAlchemy URL (e.g. postgresql+psycopg://...) or a "
        "file path (default: history.db in --data-dir; use a shared database with 2+ masters)",
    )
    master.add_argument(
        "--agent-grace",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long an agent may be disconnected before its tasks count as LOST (default 15)",
    )
    master.add_argument(
        "--launch-ahead",
        type=float,
        default=2.5,
        metavar="SECONDS",
        help="launch a cron firing this long before its instant; its agents prepare the shards and start "
        "them at the instant (default 2.5: the next firings are prepared half-way between whole seconds, "
        "not while the current ones start; 0: launch at the instant)",
    )
    master.add_argument(
        "--run-retention",
        type=int,
        default=1000,
        metavar="N",
        help="finished runs kept in the history per job: older ones (their executions and status traces) "
        "are deleted in the background; active runs are always kept (default 1000; 0: keep all)",
    )
    master.add_argument(
        "--webhook-retry-for",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long a webhook delivery is tried again (exponential backoff with jitter, 1 s doubling up "
        "to 5 min) before it is marked FAILED (default 3600)",
    )
    master.add_argument(
        "--webhook-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time allowed to each webhook delivery attempt to connect, send and read the answer "
        "(default 10)",
    )
    master.add_argument(
        "--statistics-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often the leader samples running tasks, running jobs and registered jobs into the "
        "history for /job/statistics (default 60, as Elastic-Job-Cloud; 1 to 3600)",
    )
    master.add_argument(
        "--auth-file",
        type=Path,
        default=_env("ELASTICJOB_AUTH_FILE"),
        metavar="FILE",
        help="API users (TOML: name, role admin|operator|viewer, password_hash and/or token_hash from "
        "`elasticjob auth hash`, optional groups); without it every request is allowed, and the master "
        "listens on loopback only unless --insecure",
    )
    master.add_argument(
        "--insecure",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="listen beyond loopback without --auth-file (anyone who can reach the API may use it), and "
        "--grpc beyond loopback without TLS or without --agent-token-file (any process that can reach it "
        "may join as an agent and receive tasks)",
    )
    master.add_argument(
        "--grpc-tls-cert",
        type=Path,
        default=None,
        metavar="FILE",
        help="serve gRPC to agents over TLS with this PEM certificate (chain); it must cover the host "
        "agents are told to reach (--advertise-host, else the host of --grpc); see `elasticjob certs`",
    )
    master.add_argument(
        "--grpc-tls-key", type=Path, default=None, metavar="FILE",
        help="the PEM private key of --grpc-tls-cert (unencrypted; keep it mode 0600)",
    )
    master.add_argument(
        "--grpc-client-ca",
        type=Path,
        default=None,
        metavar="FILE",
        help="mutual TLS: agents must present a client certificate signed by this PEM CA (--tls-cert)",
    )
    master.add_argument(
        "--agent-token-file",
        type=Path,
        default=_env("ELASTICJOB_AGENT_TOKEN_FILE"),
        metavar="FILE",
        help="a file holding the agent join token (16+ characters): agents must present it "
        "(--join-token-file) or their streams are refused (env ELASTICJOB_AGENT_TOKEN_FILE)",
    )
    _add_url_flags(master, "accept")
    master.add_argument(
        "--placement",
        choices=["spread", "binpack"],
        default="spread",
        help="where shards go: spread over agents (default) or bin-packed onto as few as possible",
    )
    mesos = master.add_argument_group(
        "Apache Mesos",
        "With --mesos-master the leader also subscribes to Mesos as a framework (v1 scheduler HTTP API) "
        "and places shards on its offers, besides our own agents (agent ids mesos-<Mesos agent id>; our "
        "agents must not use that prefix). Tested against recorded API exchanges only; see README.",
    )
    mesos.add_argument(
        "--mesos-master", default=_env("ELASTICJOB_MESOS_MASTER"), metavar="URL",
        help="the Mesos master, e.g. http://HOST:5050 (env ELASTICJOB_MESOS_MASTER); default: no Mesos",
    )
    mesos.add_argument(
        "--mesos-role", default="*", metavar="ROLE",
        help="the role the framework subscribes with and launches in (default *)",
    )
    mesos.add_argument(
        "--mesos-framework-name", default="elasticjob", metavar="NAME",
        help="the framework's name in Mesos (default elasticjob)",
    )
    mesos.add_argument(
        "--mesos-refuse-seconds", type=float, default=5.0, metavar="SECONDS",
        help="offers left unused by a scheduling cycle are declined with this filter: Mesos offers that "
        "agent's resources again after it (default 5)",
    )
    master.set_defaults(handler=_master)

    agent = sub.add_parser(
        "agent",
        help="run an agent that offers this host's resources and runs shards",
        description="Run an agent. One per host (or several, each with its own --work-dir). Every flag can "
        "also be given in a --config file.",
    )
    _add_config_flag(agent)
    _add_zk_flags(agent)
    agent.add_argument("--cpus", type=float, default=None, help="CPUs to offer (default: all of this host's)")
    agent.add_argument(
        "--mem",
        type=float,
        default=None,
        metavar="MB",
        help="memory to offer in MB (default: all of this host's)",
    )
    agent.add_argument(
        "--attributes",
        default="",
        metavar="K=V,...",
        help="attributes that job constraints can match, e.g. rack=a,zone=eu-1",
    )
    agent.add_argument(
        "--work-dir",
        type=Path,
        default=Path(_env("ELASTICJOB_AGENT_DIR", "./var/agent") or "."),
        help="sandboxes, app cache and the agent id live here (default ./var/agent)",
    )
    agent.add_argument(
        "--id",
        dest="agent_id",
        default=None,
        help="agent id (default: kept in the work dir, created on first start)",
    )
    agent.add_argument(
        "--run-as",
        default=None,
        metavar="USER",
        help="the user (name or uid) shards run as. An agent running as root runs them as nobody by "
        "default; --run-as root keeps root (with a warning). An agent that is not root runs them as itself "
        "and refuses any other user",
    )
    agent.add_argument(
        "--kill-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time between SIGTERM and SIGKILL when a task is killed, for jobs without "
        "taskKillGracePeriodSeconds; an agent that stops waits no longer than this for any task (default 10)",
    )
    agent.add_argument(
        "--sandbox-retention",
        type=float,
        default=24 * 3600.0,
        metavar="SECONDS",
        help="keep a finished task's sandbox and logs this long after its last write; older ones are "
        "removed, and their logs answer 410 Gone (default 86400: a day)",
    )
    agent.add_argument(
        "--sandbox-max-mb",
        type=float,
        default=5 * 1024.0,
        metavar="MB",
        help="remove the oldest finished sandboxes (and cached apps) beyond this total (default 5120)",
    )
    agent.add_argument(
        "--app-revalidate-seconds",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="ask an app's server whether a cached archive changed at most this often; a launch for a new "
        "app version always asks (default 60; 0: at every launch)",
    )
    agent.add_argument(
        "--master-ca",
        type=Path,
        default=_env("ELASTICJOB_MASTER_CA"),
        metavar="FILE",
        help="connect to the leader over TLS and accept only a certificate signed by this PEM CA that names "
        "the host the leader advertises (env ELASTICJOB_MASTER_CA; default: plaintext)",
    )
    agent.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="FILE",
        help="this agent's PEM client certificate, for a master with --grpc-client-ca (needs --master-ca)",
    )
    agent.add_argument(
        "--tls-key", type=Path, default=None, metavar="FILE",
        help="the PEM private key of --tls-cert (unencrypted; keep it mode 0600)",
    )
    agent.add_argument(
        "--join-token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="a file holding the join token of the master's --agent-token-file (env ELASTICJOB_JOIN_TOKEN: "
        "the token itself)",
    )
    _add_url_flags(agent, "fetch")
    agent.set_defaults(handler=_agent)

    dev = sub.add_parser(
        "dev",
        help="run ZooKeeper, a master, two agents and the examples locally",
        description="All-in-one local cluster for a laptop.",
    )
    dev.add_argument(
        "--zk",
        default=_env("ELASTICJOB_ZK"),
        help="use this ZooKeeper instead of starting one (env ELASTICJOB_ZK)",
    )
    dev.add_argument("--namespace", default=_env("ELASTICJOB_NAMESPACE", "elasticjob"))
    dev.add_argument("--http-port", type=int, default=8899)
    dev.add_argument("--grpc-port", type=int, default=8898)
    dev.add_argument("--masters", type=int, default=1, help="how many masters to start (default 1)")
    dev.add_argument("--agents", type=int, default=2, help="how many agents to start (default 2)")
    dev.add_argument("--agent-cpus", type=float, default=1.0, help="CPUs each agent offers (default 1)")
    dev.add_argument(
        "--agent-mem",
        type=float,
        default=1024.0,
        metavar="MB",
        help="memory each agent offers (default 1024 MB)",
    )
    dev.add_argument(
        "--apps-port", type=int, default=8900, help="port serving the example app tarballs (default 8900)"
    )
    dev.add_argument(
        "--no-examples",
        dest="examples",
        action="store_false",
        help="do not build, serve and register the example apps and jobs",
    )
    dev.add_argument(
        "--auth",
        action="store_true",
        help="require credentials: the masters get an auth file with one admin user, whose password "
        "is made once and kept in DATA_DIR/admin-password (printed at start)",
    )
    dev.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".run/dev"),
        help="where ZooKeeper data and process logs go (default .run/dev)",
    )
    dev.add_argument(
        "--tls",
        action="store_true",
        help="run the masters' gRPC over mutual TLS with an agent join token (a CA and certificates are made "
        "in DATA_DIR/tls on the first start and reused)",
    )
    dev.set_defaults(handler=_dev)

    add_job_commands(sub)
    add_app_commands(sub)
    add_auth_commands(sub)
    add_certs_command(sub)
    add_config_commands(sub)
    add_history_commands(sub)
    url_help = (
        f"master URL (env ELASTICJOB_URL; default {DEFAULT_URL}); credentials for a master with an auth "
        "file come from env ELASTICJOB_TOKEN (bearer) or ELASTICJOB_USER and ELASTICJOB_PASSWORD"
    )
    for name in ("job", "app"):
        group = sub.choices[name]
        group.add_argument("--url", default=_env("ELASTICJOB_URL", DEFAULT_URL), help=url_help)
        # Also accept it after the action (`elasticjob job list --url ...`); SUPPRESS keeps the group's
        # value (or default) unless it is given there.
        for command in _commands(group):
            command.add_argument("--url", default=argparse.SUPPRESS, help=url_help)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda _args: print(f"elasticjob {__version__}"))
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command below ``parser`` (``job schedule add`` included), not ``parser`` itself."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                found += [command, *_commands(command)]
    return found


def _master(args: argparse.Namespace) -> int:
    from elasticjob.cli.settings import master_config
    from elasticjob.master.server import run_master
    from elasticjob.registry import ZooKeeperUnavailable

    try:
        config = master_config(args)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        run_master(config)
    except (ZooKeeperUnavailable, OSError) as exc:
        return _fail(str(exc))
    return 0


def _agent(args: argparse.Namespace) -> int:
    from elasticjob.cli.settings import agent_config
    from elasticjob.registry import ZooKeeperUnavailable

    try:
        config = agent_config(args)
    except ValueError as exc:
        return _fail(str(exc))
    from elasticjob.agent.main import run_agent

    try:
        run_agent(config)
    except ZooKeeperUnavailable as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(str(exc))
    return 0


def _dev(args: argparse.Namespace) -> int:
    from elasticjob.dev.cluster import AlreadyRunning, DevCluster, DevOptions, Interrupted
    from elasticjob.dev.zookeeper import ZooKeeperNotFound

    cluster = DevCluster(
        DevOptions(
            data_dir=args.data_dir.resolve(),
            http_port=args.http_port,
            grpc_port=args.grpc_port,
            zk=args.zk,
            namespace=args.namespace,
            masters=args.masters,
            agents=args.agents,
            agent_cpus=args.agent_cpus,
            agent_mem_mb=args.agent_mem,
            examples=args.examples,
            apps_port=args.apps_port,
            auth=args.auth,
            tls=args.tls,
        )
    )
    cluster.handle_signals()
    try:
        cluster.start()
    except AlreadyRunning as exc:
        return _fail(str(exc))
    except Interrupted:
        cluster.stop()
        return 0
    except (ZooKeeperNotFound, RuntimeError, TimeoutError) as exc:
        cluster.stop()
        return _fail(str(exc))
    url = f"http://localhost:{args.http_port}/"
    jobs = ", ".join(cluster.example_jobs) or "none (register your own with `elasticjob job add FILE`)"
    print(
        f"\nElasticJob is running.\n  API:             {url} (interactive docs: {url}docs)\n"
        f"  OpenAPI:         {url}openapi.json\n"
        f"  example jobs:    {jobs}\n  executions:      {url}job/events/executions\n"
        f"  logs:            {args.data_dir}/\n"
        + (f"  log in as:       admin / {cluster.credentials[1]} (ELASTICJOB_USER=admin "
           f"ELASTICJOB_PASSWORD=... for the CLI)\n" if cluster.credentials else "")
        + "Press Ctrl-C to stop.\n",
        flush=True,
    )
    try:
        code = cluster.wait()
    finally:
        cluster.stop()
    return code


def _client_command(args: argparse.Namespace) -> int:
    """Run a ``job``/``app`` action: 0 done, 1 refused (or a local problem), 3 master unreachable."""
    client = ElasticJobClient(args.url)
    try:
        return int(args.action_handler(args, client) or 0)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for path, message in exc.field_errors():
            print(f"  {path}: {message}", file=sys.stderr)
        return 1
    except MasterUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (ClientError, LocalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()


def _fail(message: str) -> int:
    print(f"elasticjob: error: {message}", file=sys.stderr)
    return 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; with ``--config FILE`` (master, agent), the file's values are the defaults
    that the command line's flags override. A bad file is reported (every problem, naming the file, key
    and line) and exits 2, as ``argparse`` does for bad flags."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not mentions_config(arguments) or {"-h", "--help"} & set(arguments):
        return build_parser().parse_args(arguments)
    # A first pass finds the command and its --config while the flags the file may set (--zk) are not
    # yet required; the second parses the command line again over the file's defaults.
    probe = build_parser()
    for parser in (probe, *_commands(probe)):
        for action in parser._actions:
            action.required = action.required and not action.option_strings
    found = probe.parse_args(arguments)
    if getattr(found, "config", None) is None:
        return build_parser().parse_args(arguments)
    parser = build_parser()
    command = _subcommands(parser)[found.command]
    try:
        appended = apply_config_file(found.config, [parser, command], f"elasticjob {found.command}")
    except ConfigFileError as exc:
        for problem in exc.problems:
            print(f"elasticjob: error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
    args = parser.parse_args(arguments)
    drop_file_items(args, appended)
    return args


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The commands directly below ``parser`` by name (``master``, ``agent``, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main(argv: Sequence[str] | None = None) -> None:
    from elasticjob.common.logs import setup_logging

    args = parse_args(argv)
    setup_logging(args.log_level, process=args.command)
    if args.command in ("job", "app"):
        args.handler = _client_command
    code = args.handler(args)
    sys.exit(code or 0)
