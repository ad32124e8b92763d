"""Roles and the action each route needs: the one table of who may call what.

- ``viewer`` reads: every ``GET``/``HEAD`` (jobs, apps, runs, logs, history, statistics, the registry
  browser, metrics, the API document);
- ``operator`` also operates jobs that exist: trigger or start a run, stop a run, enable and disable jobs
  and apps;
- ``admin`` also changes configuration: registers, updates and deletes jobs, apps, schedules and run
  records.

``required_action(method, path)`` decides from the method and the path alone (a pure function, the same
for the native API, ``/api/...``, ``/v1`` and ``/service/metronome/v1``): reads need READ, the operate
routes below need OPERATE, every other write needs ADMIN — so a route added later is admin-only until
it is listed here. ``PUBLIC`` paths need nothing: liveness, the console's page and assets and its login
and logout (its login screen must load; every call it then makes is checked).
"""

from __future__ import annotations

import enum
import re


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Action(enum.StrEnum):
    READ = "read"
    OPERATE = "operate"
    ADMIN = "admin"


ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ}),
    Role.OPERATOR: frozenset({Action.READ, Action.OPERATE}),
    Role.ADMIN: frozenset(Action),
}

_SEGMENT = r"[^/]+"
_OPERATE = [
    ("POST", r"/job/trigger"),
    ("POST", rf"/job/{_SEGMENT}/(?:enable|disable)"),
    ("DELETE", rf"/job/{_SEGMENT}/disable"),  # the original console's "enable"
    ("POST", rf"/app/{_SEGMENT}/(?:enable|disable)"),
    ("DELETE", rf"/app/{_SEGMENT}/disable"),
    ("POST", rf"/job/jobs/{_SEGMENT}/runs/{_SEGMENT}/stop"),
    ("POST", rf"(?:/service/metronome)?/v1/jobs/{_SEGMENT}/runs"),
    ("POST", rf"(?:/service/metronome)?/v1/jobs/{_SEGMENT}/runs/{_SEGMENT}/actions/stop"),
    ("POST", rf"/v1/jobs/{_SEGMENT}/execs"),  # the execs dialect's run now
]
_OPERATE_RE = [(method, re.compile(pattern + "/?")) for method, pattern in _OPERATE]
READS = frozenset({"GET", "HEAD"})
PUBLIC = re.compile(r"/(?:ping|service/metronome/ping|console/.*|auth/login|auth/logout)?")


def required_action(method: str, path: str) -> Action | None:
    """The action a request needs, or None for a public path."""
    if PUBLIC.fullmatch(path) and "/." not in path and "//" not in path:
        return None
    local = path[4:] if path.startswith("/api/") else path
    if method.upper() in READS:
        return Action.READ
    for wanted, pattern in _OPERATE_RE:
        if method.upper() == wanted and pattern.fullmatch(local):
            return Action.OPERATE
    return Action.ADMIN


def may(role: Role, action: Action) -> bool:
    return action in ALLOWED[role]
