"""``peer_ip``: the agent's address from a gRPC peer string."""

from __future__ import annotations

import pytest

from elasticjob.common.net import parse_host_port, peer_ip


@pytest.mark.parametrize(
    ("peer", "ip"),
    [
        ("ipv4:127.0.0.1:51234", "127.0.0.1"),
        ("ipv4:10.1.2.3", "10.1.2.3"),
        ("ipv6:[::1]:51234", "::1"),
        ("ipv6:[2001:db8::7]:443", "2001:db8::7"),
        ("ipv6:[::ffff:192.168.0.9]:5000", "192.168.0.9"),  # IPv4 on a dual-stack listener
        ("ipv6:%5B::1%5D:1", ""),
        ("unix:/run/agent.sock", ""),
        ("ipv4:not-an-ip:1", ""),
        ("", ""),
    ],
)
def test_peer_ip(peer: str, ip: str) -> None:
    assert peer_ip(peer) == ip


@pytest.mark.parametrize("value", ["host", "host:", "host:65536", "host:²", "host:-1"])
def test_parse_host_port_names_the_flag(value: str) -> None:
    with pytest.raises(ValueError, match="--listen must be HOST:PORT"):
        parse_host_port(value, "--listen")


def test_parse_host_port_reads_hosts_and_ports() -> None:
    assert str(parse_host_port("[::1]:80", "--listen")) == "::1:80"
    assert str(parse_host_port(":8899", "--listen")) == "0.0.0.0:8899"
