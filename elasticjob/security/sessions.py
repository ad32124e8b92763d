"""Console sessions: a signed, expiring token naming a user, kept in an HTTP-only, SameSite=Strict cookie.

``v1.<user, base64url>.<expiry, Unix seconds>.<HMAC-SHA256, hex>`` signed with a key derived from the auth
file's contents, so every master given the same file accepts the same sessions, and changing the file
(a password reset, a user removed) ends them all. The token carries no role: the role is the auth
file's at each request. Pure (``clock`` injectable).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable

COOKIE = "elasticjob_session"
LIFETIME = 12 * 3600.0  # seconds a login lasts
CSRF_HEADER = "x-elasticjob-console"  # what the console sends with every call: no other site can


def session_key(auth_file_text: str) -> bytes:
    return hashlib.sha256(b"elasticjob console sessions\n" + auth_file_text.encode()).digest()


class Sessions:
    def __init__(
        self, key: bytes, clock: Callable[[], float] = time.time, lifetime: float = LIFETIME
    ) -> None:
        self.key = key
        self.clock = clock
        self.lifetime = lifetime

    def issue(self, user: str) -> str:
        expiry = int(self.clock() + self.lifetime)
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        return f"v1.{name}.{expiry}.{self._sign(user, expiry)}"

    def user_of(self, token: str) -> str | None:
        """The user a token was issued to, or None (forged, expired, malformed)."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not (parts[2].isascii() and parts[2].isdigit()):
            return None
        try:
            user = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        expiry = int(parts[2])
        if not hmac.compare_digest(parts[3], self._sign(user, expiry)) or expiry < self.clock():
            return None
        return user

    def _sign(self, user: str, expiry: int) -> str:
        return hmac.new(self.key, f"{user}\n{expiry}".encode(), hashlib.sha256).hexdigest()


def cookie_value(header: str | None, name: str = COOKIE) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header."""
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None
