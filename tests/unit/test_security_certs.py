"""Development certificates (``security.certs``): they chain to their CA, carry the hosts as SANs, are
made for the right use, and are written with private keys private and nothing overwritten by surprise."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from elasticjob.security.certs import (
    CertificateFilesExist,
    make_ca,
    make_client_cert,
    make_dev_certificates,
    make_server_cert,
    parse_hosts,
    write_files,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _server_verifier(ca: x509.Certificate, subject: x509.DNSName | x509.IPAddress, at: dt.datetime = NOW):
    return PolicyBuilder().store(Store([ca])).time(at).build_server_verifier(subject)


def test_a_master_certificate_chains_to_its_ca_for_every_host_it_names() -> None:
    ca = make_ca(30, now=NOW)
    master = make_server_cert(ca, ["127.0.0.1", "localhost", "master-1.example", "::1"], 30, now=NOW)
    for subject in (x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
                    x509.DNSName("master-1.example"), x509.IPAddress(ipaddress.ip_address("::1"))):
        chain = _server_verifier(ca.certificate, subject).verify(master.certificate, [])
        assert chain[-1] == ca.certificate
    with pytest.raises(VerificationError):
        _server_verifier(ca.certificate, x509.DNSName("elsewhere.example")).verify(master.certificate, [])


def test_the_sans_hold_ip_addresses_as_ip_entries_and_names_as_dns_entries() -> None:
    master = make_server_cert(make_ca(now=NOW), ["10.0.0.5", "master-1"], now=NOW)
    sans = master.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    assert sans.get_values_for_type(x509.DNSName) == ["master-1"]


def test_a_certificate_of_another_ca_does_not_chain() -> None:
    ca, other = make_ca(now=NOW), make_ca(now=NOW)
    master = make_server_cert(other, ["localhost"], now=NOW)
    with pytest.raises(VerificationError):
        _server_verifier(ca.certificate, x509.DNSName("localhost")).verify(master.certificate, [])


def test_the_agent_certificate_is_a_client_certificate_of_the_ca() -> None:
    ca = make_ca(now=NOW)
    agent = make_client_cert(ca, now=NOW)
    verified = PolicyBuilder().store(Store([ca.certificate])).time(NOW).build_client_verifier().verify(
        agent.certificate, []
    )
    assert verified.chain[-1] == ca.certificate
    usage = agent.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # ... and no server certificate: an agent's key cannot impersonate the master.
    with pytest.raises(VerificationError):
        _server_verifier(ca.certificate, x509.DNSName("elasticjob-agent")).verify(agent.certificate, [])


def test_the_ca_signs_leaves_only_and_its_keys_are_p256() -> None:
    made = make_dev_certificates(["localhost"], 10, now=NOW)
    constraints = made.ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    leaf = made.master.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not leaf.ca
    for issued in (made.ca, made.master, made.agent):
        assert isinstance(issued.key, ec.EllipticCurvePrivateKey) and issued.key.curve.name == "secp256r1"
    assert len(made.join_token) >= 32


def test_validity_is_days_from_now_and_never_beyond_the_ca() -> None:
    ca = make_ca(10, now=NOW)
    master = make_server_cert(ca, ["localhost"], 20, now=NOW)
    assert ca.certificate.not_valid_after_utc == NOW + dt.timedelta(days=10)
    assert master.certificate.not_valid_after_utc == ca.certificate.not_valid_after_utc
    assert master.certificate.not_valid_before_utc < NOW  # a host whose clock is behind accepts it
    with pytest.raises(VerificationError):
        _server_verifier(ca.certificate, x509.DNSName("localhost"), NOW + dt.timedelta(days=11)).verify(
            master.certificate, []
        )
    with pytest.raises(ValueError, match="--days must be from 1 to 3650"):
        make_ca(0, now=NOW)


def test_parse_hosts_accepts_names_addresses_and_wildcards_and_names_the_flag() -> None:
    assert parse_hosts(" 127.0.0.1, localhost,*.masters.example,::1,localhost ") == [
        "127.0.0.1", "localhost", "*.masters.example", "::1",
    ]
    for bad in ("", " , ", "bad host", "-dash.example", "under_score"):
        with pytest.raises(ValueError, match="--hosts"):
            parse_hosts(bad)


def test_write_files_makes_keys_private_and_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "pki"
    files = make_dev_certificates(["localhost"], now=NOW).files()
    written = write_files(target, files)
    assert {p.name for p in written} == set(files)
    modes = {p.name: p.stat().st_mode & 0o777 for p in written}
    assert modes == {name: mode for name, (_content, mode) in files.items()}
    assert modes["ca-key.pem"] == modes["master-key.pem"] == modes["agent-key.pem"] == 0o600
    assert (target / "ca.pem").read_bytes() == files["ca.pem"][0]

    again = make_dev_certificates(["localhost"], now=NOW).files()
    with pytest.raises(CertificateFilesExist, match="--force"):
        write_files(target, again)
    assert (target / "ca.pem").read_bytes() == files["ca.pem"][0]
    write_files(target, again, force=True)
    assert (target / "ca.pem").read_bytes() == again["ca.pem"][0]
    assert sorted(p.name for p in target.iterdir()) == sorted(files)  # no leftover partial files
