"""The master's configuration, built from flags and environment by the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from elasticjob.common.net import HostPort, advertised_host
from elasticjob.history.retention import DEFAULT_RUN_RETENTION
from elasticjob.registry import ZkConfig
from elasticjob.security.authfile import AuthConfig
from elasticjob.security.jointoken import JoinToken
from elasticjob.security.tls import ServerTls, covers
from elasticjob.security.urls import UrlPolicy

if TYPE_CHECKING:  # imported lazily: only --mesos-master needs it
    from elasticjob.mesos.source import MesosConfig


@dataclass(frozen=True)
class MasterConfig:
    zk: ZkConfig
    namespace: str
    http: HostPort
    grpc: HostPort
    data_dir: Path
    advertise_host: str | None = None
    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 64 * 1024  # request line and headers (master/http_limits.py)
    max_connections: int = 1024  # concurrent HTTP connections; beyond them uvicorn answers 503
    history_url: str | None = None  # default: SQLite file history.db in data_dir
    scheduler_tick: float = 5.0  # safety tick of the event-driven scheduling loop
    agent_grace: float = 15.0  # how long an agent may be gone before its tasks count as LOST
    placement: str = "spread"  # spread | binpack
    launch_ahead: float = 2.5  # seconds before a cron instant its firing is launched (shards start on time)
    run_retention: int = DEFAULT_RUN_RETENTION  # finished runs kept per job in the history; 0: all
    statistics_interval: float = 60.0  # seconds between the leader's statistics samples
    auth: AuthConfig | None = None  # API users (--auth-file); None: every request is allowed
    insecure: bool = False  # allow listening beyond loopback without auth (HTTP) or TLS and token (gRPC)
    grpc_tls: ServerTls | None = None  # --grpc-tls-cert/--grpc-tls-key (+ --grpc-client-ca); None: plaintext
    agent_token: JoinToken | None = None  # --agent-token-file; None: any process may join as an agent
    url_policy: UrlPolicy = UrlPolicy()  # app and artifact URLs accepted (--allow-file-urls, --url-hosts)
    webhook_retry_for: float = 3600.0  # seconds a webhook delivery is retried before it is FAILED
    webhook_timeout: float = 10.0  # seconds per webhook delivery attempt
    mesos: MesosConfig | None = None  # --mesos-master ...: Mesos offers besides our agents; None: no Mesos

    def __post_init__(self) -> None:
        if self.max_header_bytes < 1024 or self.max_connections < 1:
            raise ValueError(f"--max-header-bytes must be at least 1024 and --max-connections at least 1 "
                             f"(got {self.max_header_bytes} and {self.max_connections})")
        if not 0 <= self.launch_ahead <= 60:
            raise ValueError(f"--launch-ahead must be from 0 to 60 seconds (got {self.launch_ahead:g})")
        if not 1 <= self.statistics_interval <= 3600:
            raise ValueError(
                f"--statistics-interval must be from 1 to 3600 seconds (got {self.statistics_interval:g})"
            )
        if not 1 <= self.webhook_retry_for <= 7 * 86400:
            raise ValueError(
                f"--webhook-retry-for must be from 1 second to 7 days (got {self.webhook_retry_for:g})"
            )
        if not 0.1 <= self.webhook_timeout <= 120:
            raise ValueError(
                f"--webhook-timeout must be from 0.1 to 120 seconds (got {self.webhook_timeout:g})"
            )
        if self.run_retention < 0:
            raise ValueError(f"--run-retention must not be negative (got {self.run_retention}; 0 keeps all)")
        if self.http.port != 0 and self.http.port == self.grpc.port and (
            self.http.host == self.grpc.host or _WILDCARD & {self.http.host, self.grpc.host}
        ):
            raise ValueError(
                f"--http {self.http} and --grpc {self.grpc} are the same address: give them different ports "
                "(or port 0 for any free one)"
            )
        if self.auth is None and not self.insecure and not is_loopback(self.http.host):
            raise ValueError(
                f"--http {self.http} is reachable from other hosts, and no --auth-file says who may use the "
                "API: give --auth-file FILE (users and their password or token hashes, see `elasticjob "
                "auth hash`), or --insecure to serve everyone who can reach it"
            )
        if not self.insecure and not is_loopback(self.grpc.host):
            missing = [
                what
                for what, given in (
                    ("TLS (--grpc-tls-cert and --grpc-tls-key)", self.grpc_tls),
                    ("a join token (--agent-token-file)", self.agent_token),
                )
                if given is None
            ]
            if missing:
                raise ValueError(
                    f"--grpc {self.grpc} is reachable from other hosts without {' and '.join(missing)}: "
                    "any process that reaches it could join as an agent and receive tasks (their apps, "
                    "environment and parameters). Give both (`elasticjob certs DIR` makes development "
                    "ones), or --insecure to accept every agent that can reach it"
                )

    @property
    def grpc_advertised_host(self) -> str:
        """The host agents are told (through ZooKeeper) to reach this master's gRPC endpoint at."""
        return self.advertise_host or advertised_host(self.grpc.host)

    def check_grpc_certificate(self) -> None:
        """With TLS, refuse a certificate that does not cover the advertised gRPC host: agents connect to
        that host and would refuse the certificate (``ValueError`` naming the flags)."""
        if self.grpc_tls is None:
            return
        host = self.grpc_advertised_host
        if not covers(self.grpc_tls.names, host):
            names = ", ".join(self.grpc_tls.names) or "no subject alternative names"
            raise ValueError(
                f"--grpc-tls-cert covers {names}, but agents are told to reach this master at {host} "
                "(from --advertise-host, else --grpc): they would refuse the certificate. Make one that "
                f"covers it (`elasticjob certs DIR --hosts {host},...`) or give --advertise-host a name "
                "the certificate covers"
            )


_WILDCARD = {"0.0.0.0", "::", ""}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name a master listens on) is reachable from this host only."""
    return host == "localhost" or host == "::1" or host.startswith("127.")
