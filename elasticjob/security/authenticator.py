"""Checking a request's credentials against the auth file: HTTP Basic (a user's password) and bearer
tokens (``Authorization: Bearer <token>``; also ``token <token>``, as the hosted job services' APIs send
it, and DC/OS's ``token=<token>``; their ``username`` header is not needed: the token says who).

Argon2 is slow on purpose, so what was verified is remembered: the SHA-256 of the credential (never the
credential) with its outcome, for ``CACHE_SECONDS``, at most ``CACHE_SIZE`` entries. A wrong credential is
remembered too, so repeating it costs no hashing either. Thread-safe; ``authenticate`` may hash (call it
off the event loop when ``cached`` says no).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from elasticjob.security.authfile import AuthConfig
from elasticjob.security.roles import Role
from elasticjob.security.secrets import verify_secret

CACHE_SECONDS = 300.0
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    groups: tuple[str, ...] | None  # None: every job


class BadCredentials(Exception):
    """An Authorization header that is not one this master accepts (malformed, or not Basic/Bearer)."""


class Authenticator:
    def __init__(self, config: AuthConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._cache: OrderedDict[bytes, tuple[float, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, header: str) -> tuple[bool, Principal | None]:
        """``(known, principal)``: whether this credential's outcome is remembered, and which it is."""
        key = hashlib.sha256(header.encode()).digest()
        with self._lock:
            found = self._cache.get(key)
            if found is None or found[0] < self.clock():
                return False, None
            self._cache.move_to_end(key)
            return True, found[1]

    def authenticate(self, header: str) -> Principal | None:
        """The user an ``Authorization`` header proves, or None (wrong password or token, unknown user).
        ``BadCredentials`` for a malformed header."""
        known, principal = self.cached(header)
        if known:
            return principal
        principal = self._verify(header)
        key = hashlib.sha256(header.encode()).digest()
        with self._lock:
            self._cache[key] = (self.clock() + CACHE_SECONDS, principal)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal

    def _verify(self, header: str) -> Principal | None:
        text = header.strip()
        if text[:6].lower() == "token=":  # DC/OS's form: ``Authorization: token=<token>``
            text = "token " + text[6:]
        scheme, _, value = text.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise BadCredentials("malformed Basic credentials") from None
            name, colon, password = decoded.partition(":")
            if not colon:
                raise BadCredentials("Basic credentials need user:password")
            user = self.config.user(name)
            if user is None or user.password_hash is None or not verify_secret(user.password_hash, password):
                return None
            return Principal(user.name, user.role, user.groups)
        # ``token`` as the hosted services' APIs send it (``Authorization: token <api token>``).
        if scheme.lower() in ("bearer", "token") and value:
            for user in self.config.users:
                if user.token_hash is not None and verify_secret(user.token_hash, value):
                    return Principal(user.name, user.role, user.groups)
            return None
        raise BadCredentials("use HTTP Basic or a token (Bearer <token>, token <token>, token=<token>)")
