"""TLS material for the master–agent link, read from PEM files and checked before any socket is opened.

gRPC reports a bad certificate file, or a key that does not belong to its certificate, only as a failed
handshake (or not at all until the first agent connects). Everything is therefore parsed here with
``cryptography`` first, and every error names the flag whose file is wrong. The results are plain bytes
in frozen dataclasses; making gRPC credentials from them is the gateway's and the agent link's business.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


@dataclass(frozen=True)
class ServerTls:
    """The master's side: its certificate chain and key, and the CA its agents' client certificates must
    chain to (``client_ca``: mutual TLS; None: agents need no certificate)."""

    certificate_chain: bytes
    key: bytes = field(repr=False)
    client_ca: bytes | None = None
    names: tuple[str, ...] = ()  # the hosts the certificate covers (its subject alternative names)


@dataclass(frozen=True)
class ClientTls:
    """The agent's side: the CA the master's certificate must chain to, and (for mutual TLS) the agent's
    own certificate chain and key."""

    ca: bytes
    certificate_chain: bytes | None = None
    key: bytes | None = field(default=None, repr=False)


def load_server_tls(
    cert: Path | None, key: Path | None, client_ca: Path | None, *, now: dt.datetime | None = None
) -> ServerTls | None:
    """The master's TLS from ``--grpc-tls-cert``, ``--grpc-tls-key`` and ``--grpc-client-ca``; None when
    none is given. ``ValueError`` naming the flag for a missing partner flag, an unreadable file, a file
    that is not PEM, an expired certificate, or a key that does not belong to the certificate."""
    if cert is None and key is None:
        if client_ca is not None:
            raise ValueError(
                "--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key: mutual TLS is TLS first"
            )
        return None
    if cert is None or key is None:
        raise ValueError("--grpc-tls-cert and --grpc-tls-key go together: give both (or neither)")
    chain, certificates = _certificates(cert, "--grpc-tls-cert", now)
    key_pem = _key(key, "--grpc-tls-key", certificates[0], "--grpc-tls-cert")
    ca_pem = _certificates(client_ca, "--grpc-client-ca", now)[0] if client_ca is not None else None
    return ServerTls(chain, key_pem, ca_pem, tuple(certificate_names(certificates[0])))


def load_client_tls(
    ca: Path | None, cert: Path | None, key: Path | None, *, now: dt.datetime | None = None
) -> ClientTls | None:
    """The agent's TLS from ``--master-ca``, ``--tls-cert`` and ``--tls-key``; None when none is given.
    ``ValueError`` naming the flag, as ``load_server_tls``."""
    if (cert is None) != (key is None):
        raise ValueError("--tls-cert and --tls-key go together: give both (or neither)")
    if ca is None:
        if cert is not None:
            raise ValueError(
                "--tls-cert and --tls-key need --master-ca: a client certificate is only sent over TLS, "
                "and TLS needs the CA that signed the master's certificate"
            )
        return None
    ca_pem = _certificates(ca, "--master-ca", now)[0]
    if cert is None or key is None:
        return ClientTls(ca_pem)
    chain, certificates = _certificates(cert, "--tls-cert", now)
    return ClientTls(ca_pem, chain, _key(key, "--tls-key", certificates[0], "--tls-cert"))


def certificate_names(certificate: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses of a certificate's subject alternative names (what a TLS client
    checks the host it connects to against; the common name is not looked at)."""
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(alternative.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in alternative.get_values_for_type(x509.IPAddress)]
    return names


def covers(names: tuple[str, ...] | list[str], host: str) -> bool:
    """Whether a certificate with these subject alternative names is valid for ``host`` (an IP address
    matches an IP entry only; a DNS name matches case-insensitively, ``*.example.com`` one label)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        return any(_same_ip(name, address) for name in names)
    wanted = host.lower().rstrip(".")
    for name in names:
        pattern = name.lower().rstrip(".")
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted:
            first, _, rest = wanted.partition(".")
            if first and rest == pattern[2:]:
                return True
    return False


# ---- helpers ---------------------------------------------------------------------------------------
def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None


def _certificates(
    path: Path, flag: str, now: dt.datetime | None
) -> tuple[bytes, list[x509.Certificate]]:
    data = _read(path, flag)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{flag} {path}: not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    moment = now or dt.datetime.now(dt.UTC)
    for certificate in certificates:
        if certificate.not_valid_after_utc < moment:
            raise ValueError(
                f"{flag} {path}: the certificate {certificate.subject.rfc4514_string()} expired on "
                f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            )
    return data, certificates


def _key(path: Path, flag: str, certificate: x509.Certificate, cert_flag: str) -> bytes:
    data = _read(path, flag)
    try:
        key: PrivateKeyTypes = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError(f"{flag} {path}: the key is encrypted; give it unencrypted (mode 0600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(f"{flag} {path}: not a PEM private key (-----BEGIN PRIVATE KEY-----)") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != certificate.public_key().public_bytes(*raw):
        raise ValueError(f"{flag} {path}: this key does not belong to the certificate of {cert_flag}")
    return data


def _same_ip(name: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(name) == address
    except ValueError:
        return False
