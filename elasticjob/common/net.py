"""Addresses: parsing ``host:port`` flags and finding free ports on loopback."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_host_port(value: str, flag: str) -> HostPort:
    """Parse ``HOST:PORT`` (``:PORT`` means all interfaces); raise ``ValueError`` naming ``flag``."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{flag} must be HOST:PORT with a port from 0 to 65535 (got {value!r})")
    return HostPort(host.strip("[]") or "0.0.0.0", int(port))


def advertised_host(bind_host: str) -> str:
    """The host other processes should use to reach a server bound to ``bind_host``."""
    if bind_host in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return bind_host


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
