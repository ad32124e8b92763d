"""Addresses: parsing ``host:port`` flags and finding free ports on loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass

_handed_out: set[tuple[str, int]] = set()
_handed_out_lock = threading.Lock()


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_host_port(value: str, flag: str) -> HostPort:
    """Parse ``HOST:PORT`` (``:PORT`` means all interfaces); raise ``ValueError`` naming ``flag``."""
    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise ValueError(f"{flag} must be HOST:PORT with a port from 0 to 65535 (got {value!r})")
    return HostPort(host.strip("[]") or "0.0.0.0", int(port))


def peer_ip(peer: str) -> str:
    """The IP address in a gRPC peer string (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``, with or
    without the port), or ``""`` when it names none (``unix:/path``, anything unexpected)."""
    kind, _sep, rest = peer.partition(":")
    if kind == "ipv6":
        host = rest[1:].partition("]")[0] if rest.startswith("[") else rest
    elif kind == "ipv4":
        host = rest.rpartition(":")[0] if rest.count(":") == 1 else rest
    else:
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ""
    # An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d: report it as the IPv4 it is.
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def advertised_host(bind_host: str) -> str:
    """The host other processes should use to reach a server bound to ``bind_host``."""
    if bind_host in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return bind_host


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, never the same one twice in this process.

    The kernel may hand a just-released port out again at once, so two picks in a row can collide; this
    function remembers what it returned. Another process can still take the port before it is used:
    servers of our own bind port 0 and report the port they got instead (see ``elasticjob master``).
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        with _handed_out_lock:
            if (host, port) not in _handed_out:
                _handed_out.add((host, port))
                return port
    raise OSError(f"no free port on {host} that was not handed out already")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
