"""Authentication and authorisation of every HTTP request, ahead of everything that answers one.

With an auth file (``elasticjob master --auth-file``), a request needs credentials — HTTP Basic or a bearer
token — of a user whose role allows what it asks (``security.roles.required_action``): 401 with
``WWW-Authenticate`` without or with wrong credentials, 403 for a role that may not, both as the API's
JSON errors. The user is put in ``scope["state"]["principal"]`` for the routes. Public paths (liveness,
the console's page and assets) pass. Without an auth file everything passes (a master refuses to listen
beyond loopback so unless ``--insecure``).

A credential seen before is answered from the authenticator's cache; a new one is hashed on a worker
thread, so the event loop never waits for Argon2.

The console logs in with ``POST /auth/login`` (``{"user", "password"}``): the answer sets a session cookie
(``security.sessions``: HTTP-only, SameSite=Strict, signed, 12 hours), which then stands for the
credentials; ``POST /auth/logout`` clears it; ``GET /auth/me`` tells who is logged in and their role.
A write authenticated by the cookie alone must carry the ``X-ElasticJob-Console`` header, which the
console sends and no other site can (a cross-site form cannot set headers, and the API allows no CORS):
a forged cross-site request is refused with 403.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from elasticjob.api.bodies import json_model
from elasticjob.api.errors import ApiError, error_body
from elasticjob.model import NotFound, Unavailable
from elasticjob.security.authenticator import Authenticator, BadCredentials, Busy, Principal
from elasticjob.security.roles import READS, may, required_action
from elasticjob.security.scopes import CLUSTER_WIDE, EVERYTHING, JobScope, named_in_path
from elasticjob.security.sessions import COOKIE, CSRF_HEADER, LIFETIME, Sessions, cookie_value

REALM = 'Basic realm="elasticjob", charset="UTF-8"'


class AuthMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator | None) -> None:
        self.app = app
        self.authenticator = authenticator
        self.sessions = Sessions(authenticator.config.session_key) if authenticator is not None else None

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
            principal = self._session(scope)
            if principal is None:
                await _deny(scope, send, 401, "authentication required: Basic, a bearer token or a login")
                return
            if scope["method"] not in READS and _header(scope, CSRF_HEADER.encode()) is None:
                await _deny(scope, send, 403, f"a write with the console's session needs the {CSRF_HEADER} "
                                              "header (refused as a possible cross-site request)")
                return
        else:
            try:
                known, principal = self.authenticator.cached(header)
                if not known:
                    principal = await run_in_threadpool(
                        self.authenticator.authenticate, header, _header(scope, b"username"))
            except BadCredentials as exc:
                await _deny(scope, send, 401, f"credentials not accepted: {exc}")
                return
            except Busy as exc:
                await _deny(scope, send, 503, str(exc))
                return
            if principal is None:
                await _deny(scope, send, 401, "wrong user name, password or token")
                return
        if not may(principal.role, action):
            role = principal.role.value
            await _deny(scope, send, 403, f"user '{principal.name}' ({role}) may not {action.value} here")
            return
        jobs = JobScope.of(principal.groups)
        if jobs.confined:
            refusal = _outside(jobs, scope["path"])
            if refusal is not None:
                await _deny(scope, send, 403, refusal)
                return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["job_scope"] = jobs
        await self.app(scope, receive, send)


    def _session(self, scope: Scope) -> Principal | None:
        assert self.authenticator is not None and self.sessions is not None
        token = cookie_value(_header(scope, b"cookie"))
        name = self.sessions.user_of(token) if token else None
        user = self.authenticator.config.user(name) if name else None
        return Principal(user.name, user.role, user.groups) if user is not None else None


def _outside(jobs: JobScope, path: str) -> str | None:
    """Why a user confined to ``jobs`` may not call ``path`` at all, or None (``security.scopes``)."""
    if CLUSTER_WIDE.fullmatch(path):
        return "this view shows the whole installation; a user confined to job groups may not read it"
    named = named_in_path(path)
    if named is not None and not jobs.covers(named[1]):
        return jobs.refusal(*named)
    return None


def job_scope(request: Request | Scope) -> JobScope:
    """The jobs and apps the caller (a request or its ASGI scope) may see and change: every one without
    an auth file."""
    scope = request.scope if isinstance(request, Request) else request
    found = (scope.get("state") or {}).get("job_scope")
    return found if isinstance(found, JobScope) else EVERYTHING


def require_in_scope(request: Request, kind: str, *names: str) -> None:
    """403 unless every one of ``names`` (of ``kind``: job | app) is within the caller's job groups."""
    jobs = job_scope(request)
    for name in names:
        if not jobs.covers(name):
            raise ApiError(403, jobs.refusal(kind, name))


def principal_of(scope: Scope) -> Principal | None:
    state = scope.get("state") or {}
    found = state.get("principal")
    return found if isinstance(found, Principal) else None


def creator_of(request: Request) -> str | None:
    """The name of the authenticated user making ``request`` (recorded as a job's creator); None without
    authentication."""
    principal = principal_of(request.scope)
    return None if principal is None else principal.name


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _deny(scope: Scope, send: Send, status: int, message: str) -> None:
    body = json.dumps(error_body(message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # Not to the console: a browser answers a Basic challenge with its own login dialog, which the
    # console's login screen replaces.
    if status == 401 and _header(scope, CSRF_HEADER.encode()) is None:
        headers.append((b"www-authenticate", REALM.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def auth_router(authenticator: Authenticator | None) -> APIRouter:
    """``/auth/login``, ``/auth/logout``, ``/auth/me`` (see the module docstring)."""
    router = APIRouter(prefix="/auth", tags=["auth"])
    sessions = Sessions(authenticator.config.session_key) if authenticator is not None else None

    @router.post("/login", status_code=204)
    async def login(request: Request) -> Response:
        """Log in with ``{"user", "password"}``: 204 and a session cookie; 401 for wrong ones; 404 when
        this master has no auth file (nothing to log in to)."""
        if authenticator is None or sessions is None:
            raise NotFound("this master has no auth file: there is nothing to log in to")
        body = await json_model(request, Login)
        credentials = "Basic " + base64.b64encode(f"{body.user}:{body.password}".encode()).decode()
        try:
            principal = await run_in_threadpool(authenticator.authenticate, credentials)
        except Busy as exc:
            raise Unavailable(str(exc)) from None
        if principal is None:
            raise ApiError(401, "wrong user name or password")
        response = Response(status_code=204)
        response.set_cookie(COOKIE, sessions.issue(principal.name), max_age=int(LIFETIME), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/")
        return response

    @router.post("/logout", status_code=204)
    async def logout() -> Response:
        """End the console's session (clears its cookie)."""
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        """``{"auth": true, "name", "role", "groups"}`` for the caller (``groups`` null: every job);
        ``{"auth": false, "role": "admin"}`` without an auth file (everyone may do everything)."""
        principal = principal_of(request.scope)
        if authenticator is None or principal is None:
            return {"auth": False, "name": None, "role": "admin", "groups": None}
        groups = list(principal.groups) if principal.groups is not None else None
        return {"auth": True, "name": principal.name, "role": principal.role.value, "groups": groups}

    return router


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)
