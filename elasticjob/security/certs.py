"""Development certificates for the master–agent link: a CA, the master's server certificate and an
agent client certificate, made with ``cryptography``'s X.509 builder (EC P-256 keys).

The ``make_*`` functions are pure apart from drawing keys and serial numbers: they return certificates and
keys in memory and touch no file. ``write_files`` is the only I/O (``elasticjob certs`` composes the two).
These are for development and small installations; an operator with a PKI of their own gives the master
and the agents its certificates instead — the flags take any PEM files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "ElasticJob development CA"
MASTER_NAME = "elasticjob-master"
AGENT_NAME = "elasticjob-agent"
MAX_DAYS = 3650
# Certificates start this long before "now": a host whose clock is a little behind still accepts them.
BACKDATE = dt.timedelta(minutes=5)


class CertificateFilesExist(FileExistsError):
    """``write_files`` found files it would overwrite and was not told to (``force``)."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM (what gRPC reads): the file holding it must be private."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(frozen=True)
class DevCertificates:
    """What ``elasticjob certs`` writes: a CA, a master (server) and an agent (client) certificate, and a
    random agent join token."""

    ca: Issued
    master: Issued
    agent: Issued
    join_token: str

    def files(self) -> dict[str, tuple[bytes, int]]:
        """File name -> (content, mode): certificates are public (0644), keys and the token private (0600)."""
        return {
            "ca.pem": (self.ca.certificate_pem(), 0o644),
            "ca-key.pem": (self.ca.key_pem(), 0o600),
            "master.pem": (self.master.certificate_pem(), 0o644),
            "master-key.pem": (self.master.key_pem(), 0o600),
            "agent.pem": (self.agent.certificate_pem(), 0o644),
            "agent-key.pem": (self.agent.key_pem(), 0o600),
            "join-token": ((self.join_token + "\n").encode(), 0o600),
        }


def parse_hosts(text: str) -> list[str]:
    """``127.0.0.1,localhost,master-1`` -> the names and addresses a master certificate covers.

    ``ValueError`` (naming ``--hosts``) for an empty list or an entry that is neither an IP address nor a
    DNS name (``*.example.com`` is allowed: a wildcard covers one label)."""
    hosts = [h.strip() for h in text.split(",") if h.strip()]
    if not hosts:
        raise ValueError("--hosts must name at least one host name or IP address")
    for host in hosts:
        if _ip(host) is None and not _is_dns_name(host):
            raise ValueError(f"--hosts: {host!r} is neither an IP address nor a DNS name")
    return list(dict.fromkeys(hosts))


def make_ca(days: int = 365, *, now: dt.datetime | None = None, common_name: str = CA_NAME) -> Issued:
    """A self-signed CA that may sign leaf certificates only (path length 0), valid ``days`` days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start, end = _validity(days, now)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def make_server_cert(
    ca: Issued, hosts: Sequence[str], days: int = 365, *, now: dt.datetime | None = None,
    common_name: str = MASTER_NAME,
) -> Issued:
    """A TLS server certificate signed by ``ca`` whose subject alternative names are ``hosts`` (IP
    addresses as IP entries, the rest as DNS names): an agent accepts it for exactly those hosts."""
    if not hosts:
        raise ValueError("a server certificate needs at least one host")
    return _leaf(ca, common_name, list(hosts), ExtendedKeyUsageOID.SERVER_AUTH, days, now)


def make_client_cert(
    ca: Issued, days: int = 365, *, now: dt.datetime | None = None, common_name: str = AGENT_NAME,
) -> Issued:
    """A TLS client certificate signed by ``ca`` (for mutual TLS: the master accepts any agent holding a
    certificate of its client CA). Its subject alternative name is the DNS name ``common_name``."""
    return _leaf(ca, common_name, [common_name], ExtendedKeyUsageOID.CLIENT_AUTH, days, now)


def make_dev_certificates(
    hosts: Sequence[str], days: int = 365, *, now: dt.datetime | None = None
) -> DevCertificates:
    """A new CA, a master certificate for ``hosts``, an agent client certificate, and a join token."""
    ca = make_ca(days, now=now)
    return DevCertificates(
        ca=ca,
        master=make_server_cert(ca, hosts, days, now=now),
        agent=make_client_cert(ca, days, now=now),
        join_token=secrets.token_urlsafe(32),
    )


def write_files(
    directory: Path, files: Mapping[str, tuple[bytes, int]], *, force: bool = False
) -> list[Path]:
    """Write ``files`` (name -> (content, mode)) into ``directory`` (created if missing) and return their
    paths. Each file gets its mode at creation (a key is never readable by others, not even briefly) and
    replaces the old one atomically. Without ``force``, nothing is written if any of them exists
    (``CertificateFilesExist`` names them)."""
    directory.mkdir(parents=True, exist_ok=True)
    targets = {name: directory / name for name in files}
    existing = sorted(str(path) for path in targets.values() if path.exists())
    if existing and not force:
        raise CertificateFilesExist(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}: "
            "give --force to replace them (agents and masters using the old ones must get the new ones)"
        )
    for name, (content, mode) in files.items():
        part = directory / f".{name}.{os.getpid()}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)  # the umask may have taken bits away from a certificate's 0644
            with os.fdopen(fd, "wb") as out:
                fd = -1
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, targets[name])
        finally:
            if fd != -1:
                os.close(fd)
            part.unlink(missing_ok=True)
    return list(targets.values())


# ---- helpers ---------------------------------------------------------------------------------------
def _leaf(
    ca: Issued, common_name: str, names: list[str], usage: x509.ObjectIdentifier, days: int,
    now: dt.datetime | None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _validity(days, now)
    # Never valid beyond the CA that signed it: a verifier would refuse the chain from then on anyway.
    end = min(end, ca.certificate.not_valid_after_utc)
    alternative = [
        x509.IPAddress(ip) if (ip := _ip(name)) is not None else x509.DNSName(name) for name in names
    ]
    ca_key_id = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(certificate, key)


def _validity(days: int, now: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"--days must be from 1 to {MAX_DAYS} (got {days})")
    start = (now or dt.datetime.now(dt.UTC)) - BACKDATE
    return start, start + BACKDATE + dt.timedelta(days=days)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_dns_name(host: str) -> bool:
    labels = host.removeprefix("*.").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    )
