"""How the agent link words a master's refusal (``agent.link.refusal_reason``). The details are those gRPC
gives against a real master in each case (tests/e2e/test_agent_tls.py shows the end-to-end ones)."""

from __future__ import annotations

import grpc

from elasticjob.agent.link import closed_at_connect, refusal_reason

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
LAST = "failed to connect to all addresses; last error: "


def test_a_missing_or_wrong_token_is_named() -> None:
    reason = refusal_reason(grpc.StatusCode.UNAUTHENTICATED, "this master requires the agent join token", tls=False)
    assert reason is not None and "join token" in reason and "--join-token-file" in reason


def test_an_untrusted_master_certificate_is_named() -> None:
    details = (LAST + "UNKNOWN: ipv4:127.0.0.1:4000: Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: "
               "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED: unable to get local "
               "issuer certificate: OK")
    assert refusal_reason(UNAVAILABLE, details, tls=True) == "its certificate is not signed by the CA of --master-ca"


def test_a_certificate_for_other_hosts_is_named() -> None:
    details = (LAST + "UNKNOWN: ipv4:127.0.0.1:4000: Custom verification check failed with error: "
               "UNAUTHENTICATED: Hostname Verification Check failed.")
    reason = refusal_reason(UNAVAILABLE, details, tls=True)
    assert reason is not None and "does not name the host it advertises" in reason and "--hosts" in reason


def test_tls_to_a_plaintext_master_is_named() -> None:
    details = (LAST + "UNKNOWN: ipv4:127.0.0.1:4000: Tls handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: "
               "error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER")
    reason = refusal_reason(UNAVAILABLE, details, tls=True)
    assert reason is not None and "does not serve TLS" in reason


def test_a_closed_handshake_points_at_the_client_certificate_only_over_tls() -> None:
    details = LAST + "UNAVAILABLE: ipv4:127.0.0.1:4000: Socket closed"
    over_tls = refusal_reason(UNAVAILABLE, details, tls=True)
    assert over_tls is not None and "--tls-cert" in over_tls
    assert closed_at_connect(details)
    # In plaintext it may be a master going away mid-connect: reconnecting at once stays right.
    assert refusal_reason(UNAVAILABLE, details, tls=False) is None


def test_ordinary_ends_of_a_stream_are_no_refusal() -> None:
    for code, details in (
        (UNAVAILABLE, LAST + "UNAVAILABLE: ipv4:127.0.0.1:4000: Connection refused"),
        (UNAVAILABLE, "Socket closed"),  # an open stream cut: the master went away
        (grpc.StatusCode.FAILED_PRECONDITION, "not the leader; leader: 127.0.0.1:8899"),
        (grpc.StatusCode.CANCELLED, ""),
        (None, ""),
    ):
        assert refusal_reason(code, details, tls=True) is None, details
