"""The master's configuration rules about who may reach it: HTTP without auth and gRPC without TLS or a
join token stay on loopback unless ``--insecure``; a TLS certificate must cover the advertised host."""

from __future__ import annotations

from pathlib import Path

import pytest

from elasticjob.common.net import parse_host_port
from elasticjob.master.config import MasterConfig
from elasticjob.registry import ZkConfig
from elasticjob.security.jointoken import JoinToken
from elasticjob.security.tls import ServerTls

TLS = ServerTls(b"chain", b"key", None, ("localhost", "10.0.0.5", "*.masters.example"))
TOKEN = JoinToken.of("join-token-0123456789")


def _config(grpc: str, **changes: object) -> MasterConfig:
    return MasterConfig(
        zk=ZkConfig("127.0.0.1:2181"), namespace="elasticjob", http=parse_host_port("127.0.0.1:8899", "--http"),
        grpc=parse_host_port(grpc, "--grpc"), data_dir=Path("/nonexistent"), **changes,  # type: ignore[arg-type]
    )


def test_grpc_on_loopback_needs_neither_tls_nor_a_token() -> None:
    assert _config("127.0.0.1:8898").grpc_tls is None
    assert _config("localhost:8898").agent_token is None


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({}, "without TLS (--grpc-tls-cert and --grpc-tls-key) and a join token (--agent-token-file):"),
        ({"grpc_tls": TLS}, "without a join token (--agent-token-file):"),
        ({"agent_token": TOKEN}, "without TLS (--grpc-tls-cert and --grpc-tls-key):"),
    ],
)
def test_grpc_beyond_loopback_needs_tls_and_a_token_or_insecure(changes: dict[str, object], missing: str) -> None:
    with pytest.raises(ValueError, match="reachable from other hosts") as refused:
        _config("0.0.0.0:8898", **changes)
    assert missing in str(refused.value) and "--insecure" in str(refused.value)
    assert _config("0.0.0.0:8898", insecure=True, **changes).insecure


def test_grpc_beyond_loopback_with_tls_and_a_token_starts() -> None:
    config = _config("10.0.0.5:8898", grpc_tls=TLS, agent_token=TOKEN)
    assert config.grpc_advertised_host == "10.0.0.5"
    config.check_grpc_certificate()


def test_the_certificate_must_cover_the_advertised_grpc_host() -> None:
    _config("0.0.0.0:8898", grpc_tls=TLS, agent_token=TOKEN, advertise_host="m1.masters.example").check_grpc_certificate()
    uncovered = _config("0.0.0.0:8898", grpc_tls=TLS, agent_token=TOKEN, advertise_host="master-9")
    with pytest.raises(ValueError, match="covers localhost, 10.0.0.5, \\*.masters.example, but agents are told to "
                                         "reach this master at master-9") as refused:
        uncovered.check_grpc_certificate()
    assert "--hosts master-9" in str(refused.value)
    _config("127.0.0.1:8898").check_grpc_certificate()  # plaintext: nothing to check
