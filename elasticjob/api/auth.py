"""Authentication and authorisation of every HTTP request, ahead of everything that answers one.

With an auth file (``elasticjob master --auth-file``), a request needs credentials — HTTP Basic or a bearer
token — of a user whose role allows what it asks (``security.roles.required_action``): 401 with
``WWW-Authenticate`` without or with wrong credentials, 403 for a role that may not, both as the API's
JSON errors. The user is put in ``scope["state"]["principal"]`` for the routes. Public paths (liveness,
the console's page and assets) pass. Without an auth file everything passes (a master refuses to listen
beyond loopback so unless ``--insecure``).

A credential seen before is answered from the authenticator's cache; a new one is hashed on a worker
thread, so the event loop never waits for Argon2.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from elasticjob.api.errors import error_body
from elasticjob.security.authenticator import Authenticator, BadCredentials, Principal
from elasticjob.security.roles import may, required_action

REALM = 'Basic realm="elasticjob", charset="UTF-8"'


class AuthMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.authenticator is None:
            await self.app(scope, receive, send)
            return
        action = required_action(scope["method"], scope["path"])
        if action is None:
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"authorization")
        if header is None:
            await _deny(send, 401, "authentication required: HTTP Basic or a bearer token")
            return
        try:
            known, principal = self.authenticator.cached(header)
            if not known:
                principal = await run_in_threadpool(self.authenticator.authenticate, header)
        except BadCredentials as exc:
            await _deny(send, 401, f"credentials not accepted: {exc}")
            return
        if principal is None:
            await _deny(send, 401, "wrong user name, password or token")
            return
        if not may(principal.role, action):
            role = principal.role.value
            await _deny(send, 403, f"user '{principal.name}' ({role}) may not {action.value} here")
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def principal_of(scope: Scope) -> Principal | None:
    state = scope.get("state") or {}
    found = state.get("principal")
    return found if isinstance(found, Principal) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps(error_body(message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", REALM.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
