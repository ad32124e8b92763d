"""Reading the link's TLS files (``security.tls``): every mistake is named by its flag, and the host
check agrees with what a TLS client accepts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from elasticjob.security.certs import make_ca, make_dev_certificates, make_server_cert, write_files
from elasticjob.security.tls import covers, load_client_tls, load_server_tls


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    write_files(tmp_path / "pki", make_dev_certificates(["127.0.0.1", "localhost"]).files())
    write_files(tmp_path / "other", make_dev_certificates(["localhost"]).files())
    return tmp_path / "pki"


def test_server_tls_is_read_with_its_names_and_client_ca(pki: Path) -> None:
    tls = load_server_tls(pki / "master.pem", pki / "master-key.pem", pki / "ca.pem")
    assert tls is not None
    assert tls.certificate_chain == (pki / "master.pem").read_bytes()
    assert tls.key == (pki / "master-key.pem").read_bytes()
    assert tls.client_ca == (pki / "ca.pem").read_bytes()
    assert set(tls.names) == {"127.0.0.1", "localhost"}
    assert "BEGIN PRIVATE KEY" not in repr(tls)
    assert load_server_tls(None, None, None) is None


def test_server_tls_errors_name_the_flag(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    cert, key = pki / "master.pem", pki / "master-key.pem"
    cases = [
        ((tmp_path / "missing.pem", key, None), "--grpc-tls-cert .*missing.pem: cannot read it"),
        ((key, key, None), "--grpc-tls-cert .*: not a PEM certificate"),
        ((cert, cert, None), "--grpc-tls-key .*: not a PEM private key"),
        ((cert, other / "master-key.pem", None), "--grpc-tls-key .*does not belong to the certificate of "
                                                 "--grpc-tls-cert"),
        ((cert, None, None), "--grpc-tls-cert and --grpc-tls-key go together"),
        ((None, None, pki / "ca.pem"), "--grpc-client-ca needs --grpc-tls-cert"),
        ((cert, key, pki / "ca-key.pem"), "--grpc-client-ca .*: not a PEM certificate"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            load_server_tls(*arguments)


def test_an_expired_certificate_is_refused_with_its_date(pki: Path) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    with pytest.raises(ValueError, match=r"--grpc-tls-cert .*expired on \d{4}-\d\d-\d\d"):
        load_server_tls(pki / "master.pem", pki / "master-key.pem", None, now=later)


def test_client_tls_needs_the_ca_and_a_matching_pair(pki: Path, tmp_path: Path) -> None:
    plain = load_client_tls(pki / "ca.pem", None, None)
    assert plain is not None and plain.ca == (pki / "ca.pem").read_bytes() and plain.certificate_chain is None
    mutual = load_client_tls(pki / "ca.pem", pki / "agent.pem", pki / "agent-key.pem")
    assert mutual is not None and mutual.key == (pki / "agent-key.pem").read_bytes()
    assert load_client_tls(None, None, None) is None
    cases = [
        ((None, pki / "agent.pem", pki / "agent-key.pem"), "--tls-cert and --tls-key need --master-ca"),
        ((pki / "ca.pem", pki / "agent.pem", None), "--tls-cert and --tls-key go together"),
        ((tmp_path / "nope.pem", None, None), "--master-ca .*nope.pem: cannot read it"),
        ((pki / "ca.pem", pki / "agent.pem", tmp_path / "other" / "agent-key.pem"),
         "--tls-key .*does not belong to the certificate of --tls-cert"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            load_client_tls(*arguments)


def test_covers_matches_ips_names_and_one_label_wildcards() -> None:
    names = ["127.0.0.1", "::1", "Master-1.example", "*.masters.example"]
    assert covers(names, "127.0.0.1") and covers(names, "::1") and covers(names, "[::1]")
    assert covers(names, "master-1.EXAMPLE") and covers(names, "m2.masters.example")
    assert not covers(names, "127.0.0.2")
    assert not covers(names, "a.b.masters.example") and not covers(names, "masters.example")
    assert not covers(["localhost"], "127.0.0.1")  # a name never covers an address, nor the reverse
    assert not covers(["127.0.0.1"], "localhost")


def test_covers_agrees_with_the_certificate_made_for_the_hosts() -> None:
    from elasticjob.security.tls import certificate_names

    master = make_server_cert(make_ca(), ["10.1.2.3", "master-1"])
    assert certificate_names(master.certificate) == ["master-1", "10.1.2.3"]
