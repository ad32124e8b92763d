"""The ``elasticjob`` command: ``master``, ``dev``, ``job``, ``app``, ``version``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from elasticjob import __version__
from elasticjob.cli.client import DEFAULT_URL, ApiCallFailed, ApiClient
from elasticjob.cli.resources import add_app_commands, add_job_commands

log = logging.getLogger("elasticjob")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def _add_zk_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    zk_default = _env("ELASTICJOB_ZK")
    parser.add_argument("--zk", default=zk_default, required=required and zk_default is None,
                        help="ZooKeeper hosts HOST:PORT[,HOST:PORT...] (env ELASTICJOB_ZK)")
    parser.add_argument("--namespace", default=_env("ELASTICJOB_NAMESPACE", "elasticjob"),
                        help="ZooKeeper root of this installation (env ELASTICJOB_NAMESPACE; default elasticjob)")
    parser.add_argument("--zk-auth", default=_env("ELASTICJOB_ZK_AUTH"), metavar="USER:PASSWORD",
                        help="ZooKeeper digest credentials; znodes created get an ACL for this identity only")
    parser.add_argument("--zk-session-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="ZooKeeper session timeout: how soon a dead process is noticed (default 10)")
    parser.add_argument("--zk-connect-timeout", type=float, default=15.0, metavar="SECONDS",
                        help="give up starting if ZooKeeper cannot be reached this long (default 15)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elasticjob",
        description="ElasticJob: a distributed, sharded job platform coordinated through ZooKeeper.",
    )
    parser.add_argument("--log-level", default=_env("ELASTICJOB_LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    master = sub.add_parser("master", help="run a master (REST API, console, scheduler)",
                            description="Run a master. Start two or more on one ZooKeeper for HA.")
    _add_zk_flags(master)
    master.add_argument("--http", default="127.0.0.1:8899", help="HTTP listen address (default 127.0.0.1:8899)")
    master.add_argument("--grpc", default="127.0.0.1:8898",
                        help="gRPC listen address for agents (default 127.0.0.1:8898)")
    master.add_argument("--advertise-host", default=None,
                        help="host name other processes use to reach this master (default: from --http)")
    master.add_argument("--data-dir", default=_env("ELASTICJOB_DATA_DIR", "./var/master"), type=Path,
                        help="directory for local state such as the execution history (default ./var/master)")
    master.add_argument("--max-body-bytes", type=int, default=1024 * 1024,
                        help="largest accepted request body (default 1 MiB); larger ones get 413")
    master.set_defaults(handler=_master)

    dev = sub.add_parser("dev", help="run ZooKeeper + a master locally; Ctrl-C stops everything",
                         description="All-in-one local cluster for a laptop.")
    dev.add_argument("--zk", default=_env("ELASTICJOB_ZK"),
                     help="use this ZooKeeper instead of starting one (env ELASTICJOB_ZK)")
    dev.add_argument("--namespace", default=_env("ELASTICJOB_NAMESPACE", "elasticjob"))
    dev.add_argument("--http-port", type=int, default=8899)
    dev.add_argument("--grpc-port", type=int, default=8898)
    dev.add_argument("--masters", type=int, default=1, help="how many masters to start (default 1)")
    dev.add_argument("--data-dir", type=Path, default=Path(".run/dev"),
                     help="where ZooKeeper data and process logs go (default .run/dev)")
    dev.set_defaults(handler=_dev)

    add_job_commands(sub)
    add_app_commands(sub)
    for name in ("job", "app"):
        sub.choices[name].add_argument(
            "--url", default=_env("ELASTICJOB_URL", DEFAULT_URL),
            help=f"master URL (env ELASTICJOB_URL; default {DEFAULT_URL})",
        )

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda _args: print(f"elasticjob {__version__}"))
    return parser


def _master(args: argparse.Namespace) -> int:
    from elasticjob.common.net import parse_host_port
    from elasticjob.master.config import MasterConfig
    from elasticjob.master.server import run_master
    from elasticjob.registry import ZkConfig, ZooKeeperUnavailable, check_namespace

    try:
        config = MasterConfig(
            zk=ZkConfig(args.zk, session_timeout=args.zk_session_timeout, auth=args.zk_auth,
                        connect_timeout=args.zk_connect_timeout),
            namespace=check_namespace(args.namespace),
            http=parse_host_port(args.http, "--http"),
            grpc=parse_host_port(args.grpc, "--grpc"),
            data_dir=args.data_dir,
            advertise_host=args.advertise_host,
            max_body_bytes=args.max_body_bytes,
        )
    except ValueError as exc:
        return _fail(str(exc))
    try:
        run_master(config)
    except ZooKeeperUnavailable as exc:
        return _fail(str(exc))
    return 0


def _dev(args: argparse.Namespace) -> int:
    from elasticjob.dev.cluster import AlreadyRunning, DevCluster, DevOptions
    from elasticjob.dev.zookeeper import ZooKeeperNotFound

    cluster = DevCluster(DevOptions(
        data_dir=args.data_dir.resolve(), http_port=args.http_port, grpc_port=args.grpc_port,
        zk=args.zk, namespace=args.namespace, masters=args.masters,
    ))
    try:
        cluster.start()
    except AlreadyRunning as exc:
        return _fail(str(exc))
    except (ZooKeeperNotFound, RuntimeError, TimeoutError) as exc:
        cluster.stop()
        return _fail(str(exc))
    except KeyboardInterrupt:
        cluster.stop()
        return 130
    url = f"http://localhost:{args.http_port}/"
    print(f"\nElasticJob is running.\n  API and console: {url}\n  OpenAPI:         {url}openapi.json\n"
          f"  logs:            {args.data_dir}/\nPress Ctrl-C to stop.\n", flush=True)
    try:
        code = cluster.wait()
    finally:
        cluster.stop()
    return code


def _client_command(args: argparse.Namespace) -> int:
    client = ApiClient(args.url)
    try:
        args.resource_handler(args, client)
    except ApiCallFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        for detail in exc.details:
            print(f"  {detail.get('path') or '(body)'}: {'; '.join(detail.get('errors', []))}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


def _fail(message: str) -> int:
    print(f"elasticjob: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> None:
    from elasticjob.common.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, process=args.command)
    if args.command in ("job", "app"):
        args.resource_handler = args.handler
        args.handler = _client_command
    code = args.handler(args)
    sys.exit(code or 0)
