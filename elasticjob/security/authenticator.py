"""Checking a request's credentials against the auth file: HTTP Basic (a user's password) and bearer
tokens (``Authorization: Bearer <token>``; also ``token <token>``, as the hosted job services' APIs send
it, and DC/OS's ``token=<token>``; their ``username`` header is not needed: the token says who).

Argon2 is slow on purpose, so what was verified is remembered: the SHA-256 of the credential (never the
credential) with its outcome, for ``CACHE_SECONDS``, at most ``CACHE_SIZE`` entries. A wrong credential is
remembered too, so repeating it costs no hashing either. Credentials not remembered are verified at most
``MAX_HASHING`` at a time (each Argon2id verification takes 64 MiB and tens of milliseconds: a flood of
made-up credentials must not exhaust the master's memory); a request that waits ``HASH_WAIT`` seconds for
its turn gets ``Busy`` (503). A token is tried against the user the request's ``username`` header names
first (the hosted services' clients send it), then against the other users with a token. Thread-safe;
``authenticate`` may hash (call it off the event loop when ``cached`` says no).
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
MAX_HASHING = 4
HASH_WAIT = 10.0


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    groups: tuple[str, ...] | None  # None: every job


class BadCredentials(Exception):
    """An Authorization header that is not one this master accepts (malformed, or not Basic/Bearer)."""


class Busy(Exception):
    """Too many credentials are being verified at once: ask again shortly (503)."""


class Authenticator:
    def __init__(
        self, config: AuthConfig, clock: Callable[[], float] = time.monotonic, *,
        max_hashing: int = MAX_HASHING, hash_wait: float = HASH_WAIT,
    ) -> None:
        self.config = config
        self.clock = clock
        self.hash_wait = hash_wait
        self._cache: OrderedDict[bytes, tuple[float, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(max_hashing)

    def cached(self, header: str) -> tuple[bool, Principal | None]:
        """``(known, principal)``: whether this credential's outcome is remembered, and which it is."""
        key = hashlib.sha256(header.encode()).digest()
        with self._lock:
            found = self._cache.get(key)
            if found is None or found[0] < self.clock():
                return False, None
            self._cache.move_to_end(key)
            return True, found[1]

    def authenticate(self, header: str, username: str | None = None) -> Principal | None:
        """The user an ``Authorization`` header proves, or None (wrong password or token, unknown user).
        ``username``: the request's ``username`` header, a hint for tokens. ``BadCredentials`` for a
        malformed header; ``Busy`` when its turn to be verified did not come within ``hash_wait``."""
        known, principal = self.cached(header)
        if known:
            return principal
        if not self._hashing.acquire(timeout=self.hash_wait):
            raise Busy("too many credentials are being checked at once; try again shortly")
        try:
            known, principal = self.cached(header)  # verified meanwhile by a request that had the turn
            if known:
                return principal
            principal = self._verify(header, username)
        finally:
            self._hashing.release()
        key = hashlib.sha256(header.encode()).digest()
        with self._lock:
            self._cache[key] = (self.clock() + CACHE_SECONDS, principal)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal

    def _verify(self, header: str, username: str | None) -> Principal | None:
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
            hinted = sorted(self.config.users, key=lambda user: user.name != username)  # stable: file order
            for user in hinted:
                if user.token_hash is not None and verify_secret(user.token_hash, value):
                    return Principal(user.name, user.role, user.groups)
            return None
        raise BadCredentials("use HTTP Basic or a token (Bearer <token>, token <token>, token=<token>)")
