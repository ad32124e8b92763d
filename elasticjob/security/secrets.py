"""Passwords and tokens are kept only as Argon2id hashes (argon2-cffi, its recommended parameters): the
auth file holds ``$argon2id$...`` strings that ``elasticjob auth hash`` printed. Pure apart from the
hashing's own CPU cost (tens of milliseconds, on purpose); callers cache what they verified."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
MIN_SECRET = 8  # characters: shorter passwords and tokens are refused when hashed


class WeakSecret(ValueError):
    """A secret too short to hash."""


def hash_secret(secret: str) -> str:
    """The Argon2id hash of ``secret`` (a new salt each time); ``WeakSecret`` if it is too short."""
    if len(secret) < MIN_SECRET:
        raise WeakSecret(f"a password or token must have at least {MIN_SECRET} characters")
    return _HASHER.hash(secret)


def is_hash(text: str) -> bool:
    """Whether ``text`` looks like a hash this module made (checked when the auth file is read)."""
    return text.startswith("$argon2id$") and text.count("$") >= 5


def verify_secret(hashed: str, secret: str) -> bool:
    """Whether ``secret`` is the one ``hashed`` was made of."""
    try:
        return _HASHER.verify(hashed, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
