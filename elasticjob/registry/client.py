"""Connecting to ZooKeeper: hosts, session timeout, optional digest auth with ACLs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry
from kazoo.security import make_digest_acl

from elasticjob.registry.handler import PollingHandler

log = logging.getLogger(__name__)

DEFAULT_SESSION_TIMEOUT = 10.0


class ZooKeeperUnavailable(Exception):
    """ZooKeeper could not be reached within the connect timeout."""


@dataclass(frozen=True)
class ZkConfig:
    """How to reach ZooKeeper.

    ``auth`` is ``"user:password"``: the client authenticates with the digest scheme and every znode it
    creates is readable and writable by that identity only.
    """

    hosts: str
    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    auth: str | None = None
    connect_timeout: float = 15.0

    def __post_init__(self) -> None:
        if not self.hosts.strip():
            raise ValueError("ZooKeeper hosts must not be empty (use --zk host:port[,host:port...])")
        if self.session_timeout <= 0:
            raise ValueError("the ZooKeeper session timeout must be positive")
        if self.auth is not None and ":" not in self.auth:
            raise ValueError("--zk-auth must be of the form user:password")


def make_client(config: ZkConfig) -> KazooClient:
    """Build (not start) a kazoo client for ``config``."""
    auth_data = None
    default_acl = None
    if config.auth:
        user, _, password = config.auth.partition(":")
        auth_data = [("digest", config.auth)]
        default_acl = [make_digest_acl(user, password, all=True)]
    return KazooClient(
        hosts=config.hosts,
        handler=PollingHandler(),
        timeout=config.session_timeout,
        auth_data=auth_data,
        default_acl=default_acl,
        connection_retry=KazooRetry(max_tries=-1, max_delay=2.0),
        command_retry=KazooRetry(max_tries=3, delay=0.1, max_delay=1.0),
    )


def connect(config: ZkConfig) -> KazooClient:
    """Start a client and wait until it is connected; raise ``ZooKeeperUnavailable`` otherwise."""
    client = make_client(config)
    try:
        client.start(timeout=config.connect_timeout)
    except KazooTimeoutError:
        client.stop()
        client.close()
        raise ZooKeeperUnavailable(
            f"could not connect to ZooKeeper at {config.hosts} within {config.connect_timeout:.0f}s"
        ) from None
    return client
