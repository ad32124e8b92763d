"""Signing a delivery: ``X-ElasticJob-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over ``f"{t}."``
followed by the exact body bytes, with the webhook's secret as the key (Stripe's scheme). A receiver
recomputes it, compares in constant time and refuses a timestamp too far from its own clock (replays).
Each attempt is signed anew, with the time it is sent. Pure.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-ElasticJob-Signature"
DELIVERY_HEADER = "X-ElasticJob-Delivery"  # the delivery's id: the same on every retry
EVENT_HEADER = "X-ElasticJob-Event"  # run.started | run.ended
ATTEMPT_HEADER = "X-ElasticJob-Attempt"  # 1 for the first attempt
DEFAULT_TOLERANCE = 300  # seconds a receiver should accept between the timestamp and its clock


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}."`` + ``body`` under ``secret`` (UTF-8)."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-ElasticJob-Signature``: ``t=<timestamp>,v1=<signature>``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a timestamp within ``tolerance`` seconds of
    ``now``. The recipe the README gives receivers."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, timestamp, body))
