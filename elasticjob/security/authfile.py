"""The master's auth file (``elasticjob master --auth-file FILE``): TOML, one table per user.

```toml
[[users]]
name = "alice"                 # what HTTP Basic sends as the user name
role = "admin"                 # admin | operator | viewer
password_hash = "$argon2id$…"  # from: elasticjob auth hash  (reads the password on stdin)

[[users]]
name = "deploy-bot"
role = "operator"
token_hash = "$argon2id$…"     # a bearer token's hash: Authorization: Bearer <token>
groups = ["marketing", "billing.reports"]   # optional: only jobs and apps named in these groups
                                             # (``security.scopes``); absent: every job
```

A user has a password hash, a token hash or both; names are unique. ``read_auth_file`` raises
``AuthFileError`` naming the file and the field (``users[1].role``) for anything else: a master does not
start on an auth file it does not understand. Pure apart from reading the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from elasticjob.security.roles import Role
from elasticjob.security.secrets import is_hash
from elasticjob.security.sessions import session_key

_NAME = r"^[A-Za-z0-9_.@-]{1,128}$"
_GROUP = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"


class AuthFileError(ValueError):
    """An auth file that cannot be used, with the reason."""


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=_NAME)]
    role: Role
    password_hash: str | None = None
    token_hash: str | None = None
    # None: every job; otherwise the job groups (dotted id prefixes) this user sees and changes.
    groups: tuple[Annotated[str, StringConstraints(pattern=_GROUP)], ...] | None = Field(
        default=None, min_length=1
    )

    @field_validator("password_hash", "token_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is not None and not is_hash(value):
            raise ValueError("must be an Argon2id hash as printed by `elasticjob auth hash`, not the secret")
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[User, ...] = Field(min_length=1)


@dataclass(frozen=True)
class AuthConfig:
    users: tuple[User, ...]
    session_key: bytes = b""  # signs console sessions (``security.sessions``): from the file's contents

    def user(self, name: str) -> User | None:
        return next((u for u in self.users if u.name == name), None)


def parse_auth(text: str, source: str = "auth file") -> AuthConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AuthFileError(f"{source}: not valid TOML ({exc})") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
        raise AuthFileError(f"{source}: {where or 'users'}: {first['msg']}") from None
    names = [u.name for u in parsed.users]
    for index, user in enumerate(parsed.users):
        if user.password_hash is None and user.token_hash is None:
            raise AuthFileError(f"{source}: users[{index}]: give password_hash, token_hash or both")
        if names.count(user.name) > 1:
            raise AuthFileError(f"{source}: users[{index}].name: {user.name!r} is listed twice")
    return AuthConfig(parsed.users, session_key(text))


def read_auth_file(path: Path) -> AuthConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise AuthFileError(f"cannot read the auth file {path}: {exc.strerror or exc}") from None
    return parse_auth(text, str(path))
