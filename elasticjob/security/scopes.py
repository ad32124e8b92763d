"""Job groups as a boundary: which jobs and apps a user confined to groups sees and changes.

A user of the auth file with ``groups = ["marketing", "billing.reports"]`` is *confined*: a job or app is
theirs when its name is one of the groups or starts with one followed by a dot (``marketing``,
``marketing.daily``, ``billing.reports.eu``; not ``marketingx`` nor ``billing.invoices``). Jobs and apps use
the same rule, so a team names both under its prefix. Everything else does not exist for them:

- a route that names a job or app in its path (``/job/jobs/{name}/...``, ``/job/{name}/disable``,
  ``/app/{name}``, ``/job/tasks/{taskId}/logs`` by the task id's job, ``/v1/jobs/{id}/...``,
  ``/v1/regions/{region}/jobs/{name}/...``) answers 403
  "outside your groups" for a name outside them — whether or not it exists, so nothing leaks
  (``named_in_path``, checked by the auth middleware before anything answers). A number in
  ``/v1/jobs/{id}`` is no name (an execs job's number: its namespace is not in the path): the route checks
  the job it finds — an execs job outside the groups answers 404, a Metronome id 403 as above;
- a write that names one in its body (register, update, deregister, trigger, an app's registration, a
  Metronome job's ``id``) is refused alike, by the route;
- lists and counts leave out what is not theirs (jobs, apps, tasks, queues, runs, history, the overview);
- views of the whole installation that cannot be cut by job — the registry browser, ``/metrics``, the
  statistics — answer 403 (``CLUSTER_WIDE``).

Agents are not jobs: confined users see them and their resources, but only their own tasks on them.
Pure: no I/O.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_JOB_PATHS = [
    re.compile(r"/job/jobs/([^/]+)(?:/.*)?"),
    re.compile(r"/job/([^/]+)/(?:enable|disable)/?"),
    # A number is no name (``/v1/jobs/146``, an execs job's: its namespace is not in the path): its
    # routes check the job they find (and Metronome's the id as a name).
    re.compile(r"(?:/service/metronome)?/v1/jobs/(?![0-9]+(?:/|$))([^/]+)(?:/.*)?"),
    re.compile(r"/v1/regions/[^/]+/jobs/([^/]+)(?:/.*)?"),
]
_TASK_LOGS = re.compile(r"/job/tasks/([^/]+)/logs/?")
_APP_PATH = re.compile(r"/app/([^/]+)(?:/.*)?")
_APP_LIST = "list"
TASK_ID_SEPARATOR = "@-@"
# Views of the whole installation that no job boundary cuts: refused to confined users.
CLUSTER_WIDE = re.compile(r"/(?:api/)?(?:cluster/registry|job/statistics(?:/.*)?)/?|/metrics/?")


@dataclass(frozen=True)
class JobScope:
    """The jobs and apps a user may see and change: every one (``groups`` None) or those in ``groups``."""

    groups: tuple[str, ...] | None = None

    @classmethod
    def of(cls, groups: Iterable[str] | None) -> JobScope:
        """The scope of these groups, without one that another covers (``a`` covers ``a.b``)."""
        if groups is None:
            return EVERYTHING
        unique = sorted(set(groups))
        kept = tuple(g for g in unique if not any(g != o and _under(g, o) for o in unique))
        return cls(kept)

    @property
    def confined(self) -> bool:
        return self.groups is not None

    def covers(self, name: str) -> bool:
        return self.groups is None or any(_under(name, group) for group in self.groups)

    def only(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` this scope covers, in their order."""
        return list(names) if self.groups is None else [n for n in names if self.covers(n)]

    def within(self, ordered: Sequence[str]) -> list[str]:
        """Those of the sorted ``ordered`` this scope covers, found by bisection (each group's names are
        one contiguous range of a sorted list): cost follows the names covered, not the names there are."""
        if self.groups is None:
            return list(ordered)
        found: list[str] = []
        for group in self.groups:  # sorted and disjoint: the ranges come out in order
            at = bisect.bisect_left(ordered, group)
            if at < len(ordered) and ordered[at] == group:
                found.append(group)
            start = bisect.bisect_left(ordered, group + ".")
            stop = bisect.bisect_left(ordered, group + "/")  # "/" follows "." in code point order
            found.extend(ordered[start:stop])
        return found

    def refusal(self, kind: str, name: str) -> str:
        assert self.groups is not None
        return f"{kind} '{name}' is outside your job groups ({', '.join(self.groups)})"


EVERYTHING = JobScope()


def _under(name: str, group: str) -> bool:
    return name == group or name.startswith(group + ".")


def named_in_path(path: str) -> tuple[str, str] | None:
    """``("job" | "app", name)`` when the path (``/api`` twins too) is about one job or app, else None."""
    local = path[4:] if path.startswith("/api/") else path
    for pattern in _JOB_PATHS:
        match = pattern.fullmatch(local)
        if match:
            return "job", match.group(1)
    match = _TASK_LOGS.fullmatch(local)
    if match:
        return "job", match.group(1).split(TASK_ID_SEPARATOR, 1)[0]
    match = _APP_PATH.fullmatch(local)
    if match and match.group(1) != _APP_LIST:
        return "app", match.group(1)
    return None
