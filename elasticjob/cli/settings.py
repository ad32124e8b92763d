"""``MasterConfig`` and ``AgentConfig`` from parsed ``elasticjob master``/``agent`` arguments.

The one place flags become a configuration: the start of each process and ``elasticjob config check``
both call these, so a file that checks clean is one the process accepts. They read the files the flags
name (auth file, join tokens, TLS material) and look at this host (users, CPUs, memory) but connect to
nothing. Every problem is a ``ValueError`` whose message names the flag.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from elasticjob.agent.config import AgentConfig
from elasticjob.master.config import MasterConfig
from elasticjob.registry import ZkConfig

if TYPE_CHECKING:
    from elasticjob.mesos.source import MesosConfig


def zk_config(args: argparse.Namespace) -> ZkConfig:
    """The ZooKeeper settings common to master and agent."""
    return ZkConfig(args.zk, session_timeout=args.zk_session_timeout, auth=args.zk_auth,
                    connect_timeout=args.zk_connect_timeout)


def master_config(args: argparse.Namespace) -> MasterConfig:
    from elasticjob.common.net import parse_host_port
    from elasticjob.registry import check_namespace
    from elasticjob.security.authfile import read_auth_file
    from elasticjob.security.jointoken import JoinToken, read_token_file
    from elasticjob.security.tls import load_server_tls
    from elasticjob.security.urls import UrlPolicy

    token_file = Path(args.agent_token_file) if args.agent_token_file else None
    token = read_token_file(token_file, "--agent-token-file") if token_file else None
    config = MasterConfig(
        url_policy=UrlPolicy.from_flags(args.allow_file_urls, args.url_hosts),
        auth=read_auth_file(Path(args.auth_file)) if args.auth_file else None,
        insecure=args.insecure,
        grpc_tls=load_server_tls(args.grpc_tls_cert, args.grpc_tls_key, args.grpc_client_ca),
        agent_token=JoinToken.of(token) if token else None,
        zk=zk_config(args),
        namespace=check_namespace(args.namespace),
        http=parse_host_port(args.http, "--http"),
        grpc=parse_host_port(args.grpc, "--grpc"),
        data_dir=args.data_dir,
        advertise_host=args.advertise_host,
        max_body_bytes=args.max_body_bytes,
        max_header_bytes=args.max_header_bytes,
        max_connections=args.max_connections,
        history_url=args.history_url,
        agent_grace=args.agent_grace,
        placement=args.placement,
        launch_ahead=args.launch_ahead,
        run_retention=args.run_retention,
        statistics_interval=args.statistics_interval,
        webhook_retry_for=args.webhook_retry_for,
        webhook_timeout=args.webhook_timeout,
        mesos=_mesos_config(args),
    )
    config.check_grpc_certificate()
    return config


def _mesos_config(args: argparse.Namespace) -> MesosConfig | None:
    if not getattr(args, "mesos_master", None):
        return None
    from elasticjob.mesos.messages import FrameworkInfo
    from elasticjob.mesos.source import MesosConfig

    role = args.mesos_role or "*"
    return MesosConfig(
        master=args.mesos_master,
        framework=FrameworkInfo(name=args.mesos_framework_name, roles=(role,)),
        refuse_seconds=args.mesos_refuse_seconds,
    )


def agent_config(args: argparse.Namespace) -> AgentConfig:
    from elasticjob.agent.config import host_cpus, host_memory_mb, parse_attributes
    from elasticjob.agent.runas import resolve_run_as
    from elasticjob.registry import check_namespace
    from elasticjob.security.jointoken import check_token, read_token_file
    from elasticjob.security.tls import load_client_tls
    from elasticjob.security.urls import UrlPolicy

    if args.join_token_file is not None:
        join_token = read_token_file(args.join_token_file, "--join-token-file")
    elif os.environ.get("ELASTICJOB_JOIN_TOKEN"):
        join_token = check_token(os.environ["ELASTICJOB_JOIN_TOKEN"], "ELASTICJOB_JOIN_TOKEN")
    else:
        join_token = None
    config = AgentConfig(
        master_tls=load_client_tls(args.master_ca, args.tls_cert, args.tls_key),
        join_token=join_token,
        url_policy=UrlPolicy.from_flags(args.allow_file_urls, args.url_hosts),
        zk=zk_config(args),
        namespace=check_namespace(args.namespace),
        work_dir=args.work_dir.resolve(),
        cpus=args.cpus if args.cpus is not None else host_cpus(),
        mem_mb=args.mem if args.mem is not None else host_memory_mb(),
        attributes=parse_attributes(args.attributes),
        agent_id=args.agent_id,
        kill_grace_seconds=args.kill_grace,
        run_as=resolve_run_as(args.run_as),
        app_revalidate_seconds=args.app_revalidate_seconds,
        sandbox_retention_seconds=args.sandbox_retention,
        sandbox_max_bytes=int(args.sandbox_max_mb * 1024 * 1024),
    )
    config.check_host()
    return config
