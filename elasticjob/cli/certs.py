"""``elasticjob certs DIR``: a development CA and the certificates and join token of the master–agent link."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

DEFAULT_DAYS = 365


def default_hosts() -> str:
    """Loopback by every name, and this host's name: what a master here advertises by default."""
    hosts = ["localhost", "127.0.0.1", "::1"]
    for name in (socket.gethostname(), socket.getfqdn()):
        if name and name not in hosts:
            hosts.append(name)
    return ",".join(hosts)


def add_certs_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    certs = sub.add_parser(
        "certs",
        help="make a development CA, master and agent certificates and a join token for gRPC TLS",
        description="Write into DIR a new CA (ca.pem, ca-key.pem), a master certificate for --hosts "
        "(master.pem, master-key.pem), an agent client certificate for mutual TLS (agent.pem, "
        "agent-key.pem) and a random agent join token (join-token). Keys and the token are written mode "
        "0600. Master: --grpc-tls-cert DIR/master.pem --grpc-tls-key DIR/master-key.pem [--grpc-client-ca "
        "DIR/ca.pem] --agent-token-file DIR/join-token. Agent: --master-ca DIR/ca.pem [--tls-cert "
        "DIR/agent.pem --tls-key DIR/agent-key.pem] --join-token-file DIR/join-token. Keep ca-key.pem "
        "away from the hosts: whoever holds it can make certificates both sides trust.",
    )
    certs.add_argument("dir", type=Path, metavar="DIR", help="where the files go (created if missing)")
    certs.add_argument(
        "--hosts",
        default=None,
        metavar="HOST,...",
        help="host names and IP addresses the master certificate covers: every name agents reach a master "
        "at, i.e. each master's --advertise-host (or the host of its --grpc, or this host's name for "
        "0.0.0.0); default: localhost, 127.0.0.1, ::1 and this host's name",
    )
    certs.add_argument(
        "--days", type=int, default=DEFAULT_DAYS,
        help=f"validity in days (default {DEFAULT_DAYS}; at most 3650)",
    )
    certs.add_argument("--force", action="store_true", help="replace files that already exist in DIR")
    certs.set_defaults(handler=_certs)


def _certs(args: argparse.Namespace) -> int:
    from elasticjob.security.certs import (
        CertificateFilesExist,
        make_dev_certificates,
        parse_hosts,
        write_files,
    )

    try:
        hosts = parse_hosts(args.hosts if args.hosts is not None else default_hosts())
        made = make_dev_certificates(hosts, args.days)
        written = write_files(args.dir, made.files(), force=args.force)
    except (ValueError, CertificateFilesExist) as exc:
        print(f"elasticjob: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"elasticjob: error: {args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(path.name for path in written)} to {args.dir}")
    print(f"the master certificate covers {', '.join(hosts)} for {args.days} days")
    return 0
