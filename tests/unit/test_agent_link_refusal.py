"""How the agent link words a master's refusal (``agent.link.refusal_reason``); the statuses are those a
real master gives in each case (tests/e2e/test_agent_tls.py)."""

from __future__ import annotations

import grpc

from elasticjob.agent.link import refusal_reason

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def test_a_missing_or_wrong_token_is_named() -> None:
    reason = refusal_reason(grpc.StatusCode.UNAUTHENTICATED, "this master requires the agent join token", tls=False)
    assert reason is not None and "join token" in reason and "--join-token-file" in reason


def test_an_untrusted_master_certificate_is_named() -> None:
    details = ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:4000: Ssl handshake "
               "failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
               "CERTIFICATE_VERIFY_FAILED")
    reason = refusal_reason(UNAVAILABLE, details, tls=True)
    assert reason is not None and "--master-ca" in reason


def test_a_closed_handshake_points_at_the_client_certificate_only_over_tls() -> None:
    details = "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:4000: Socket closed"
    reason = refusal_reason(UNAVAILABLE, details, tls=True)
    assert reason is not None and "--tls-cert" in reason
    assert refusal_reason(UNAVAILABLE, details, tls=False) is None


def test_ordinary_ends_of_a_stream_are_no_refusal() -> None:
    for code, details in (
        (UNAVAILABLE, "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:4000: "
                      "Connection refused"),
        (UNAVAILABLE, "Socket closed"),  # an open stream cut: the master went away
        (grpc.StatusCode.FAILED_PRECONDITION, "not the leader; leader: 127.0.0.1:8899"),
        (grpc.StatusCode.CANCELLED, ""),
        (None, ""),
    ):
        assert refusal_reason(code, details, tls=True) is None, details
