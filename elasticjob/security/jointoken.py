"""The agent join token: a shared secret an agent presents on its stream before the master accepts it.

The agent sends ``authorization: Bearer <token>`` in the gRPC metadata of its ``Connect`` call. A master
given a token file keeps only the token's SHA-256 in memory and compares the SHA-256 of what an agent
presents with ``hmac.compare_digest`` (constant time, over digests of equal length: neither the token's
content nor its length shows in the time an answer takes). The token is a random secret of its own, not a
password: a fast hash is enough, and the file holds the token itself (agents need it in clear anyway).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

METADATA_KEY = "authorization"
SCHEME = "Bearer "
MIN_LENGTH = 16


def check_token(text: str, source: str) -> str:
    """The token in ``text`` (surrounding whitespace and a final newline removed). ``ValueError`` naming
    ``source`` unless it is 16+ visible ASCII characters without spaces (what gRPC metadata can carry)."""
    token = text.strip()
    if not token:
        raise ValueError(f"{source} holds no join token")
    if not all("!" <= c <= "~" for c in token):
        raise ValueError(f"{source}: the join token must be visible ASCII characters without spaces")
    if len(token) < MIN_LENGTH:
        raise ValueError(
            f"{source}: the join token is {len(token)} characters; use {MIN_LENGTH} or more "
            "(e.g. the join-token file of `elasticjob certs`, or `openssl rand -hex 32`)"
        )
    return token


def read_token_file(path: Path, flag: str) -> str:
    """The token held in ``path`` (see ``check_token``); ``ValueError`` naming ``flag`` if unreadable."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ValueError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None
    return check_token(text, f"{flag} {path}")


def token_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata an agent sends to present ``token``."""
    return ((METADATA_KEY, SCHEME + token),)


@dataclass(frozen=True)
class JoinToken:
    """What the master checks agents against: the SHA-256 of the token, never the token itself."""

    digest: bytes = field(repr=False)

    @classmethod
    def of(cls, token: str) -> JoinToken:
        return cls(hashlib.sha256(token.encode()).digest())

    def admits(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> bool:
        """Whether the call's metadata presents the token. Every ``authorization`` entry is compared
        (a client may send several); one that matches admits."""
        admitted = False
        for key, value in metadata or ():
            if key.lower() != METADATA_KEY or not isinstance(value, str):
                continue
            presented = value.removeprefix(SCHEME) if value.startswith(SCHEME) else None
            if presented is None:
                continue
            digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
            # No early exit: the time taken does not depend on which entry (if any) matched.
            admitted |= hmac.compare_digest(digest, self.digest)
        return admitted
