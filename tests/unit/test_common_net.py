"""``peer_ip``: the agent's address from a gRPC peer string."""

from __future__ import annotations

import pytest

from elasticjob.common.net import peer_ip


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
