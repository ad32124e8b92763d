"""What operators look at: the cluster's overview, agents, tasks, queues, a job list and schedule made for
browsing, and the registry browser. The console's pages are built on these routes (and the native and
run routes), and scripts can use them alike.

Every answer comes from this master's in-memory ``ClusterState`` (kept current by watches): no route
re-reads ZooKeeper, except the registry browser, which reads exactly the one znode it shows. Any master
answers; nothing here is forwarded to the leader. Shapes (all JSON):

- ``GET /cluster/overview``: ``leader``, ``zookeeper`` {``state``, ``synced``}, ``agents`` {``count``,
  ``gone``, ``cpus``/``memMB`` {``used``, ``total``}}, ``jobs`` {``count``, ``disabled``}, ``apps``
  {``count``, ``disabled``}, ``tasks`` {``running``, ``readyFirings``, ``failover``, ``missedFirings``}.
- ``GET /cluster/agents``: present agents by id, then those gone (newest first); ``GET /cluster/agents/{id}``
  one of them with its ``runningTasks``.
- ``GET /cluster/tasks?jobName=&agentId=``: running tasks (the leader's records of them).
- ``GET /cluster/queues``: ``ready`` (jobs with waiting firings and why they wait), ``failover`` (shards to
  run again and why they wait), ``missed`` (jobs with firings that never ran).
- ``GET /cluster/registry?path=&from=&size=``: one znode (``registry.browse``).
- ``GET /job/summaries``: a page of jobs with the fields a list shows, filtered and sorted here.
- ``GET /job/jobs/{jobName}/firings?count=5``: the next firing instants in the job's time zone.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from kazoo.client import KazooClient
from starlette.concurrency import run_in_threadpool

from elasticjob import cron
from elasticjob.api.auth import job_scope
from elasticjob.api.bodies import path_name
from elasticjob.api.ops import LeaderLookup
from elasticjob.api.paging import MAX_PAGE, MAX_PER_PAGE, whole
from elasticjob.model import NotFound, ValidationFailed
from elasticjob.model.names import namespace_of
from elasticjob.model.queue import iso
from elasticjob.model.run import run_id
from elasticjob.model.running import RunningTask
from elasticjob.registry import browse
from elasticjob.registry.departures import AgentDepartures, Departure
from elasticjob.registry.state import AGENTS, APPS, ClusterState, JobRecord
from elasticjob.security.scopes import EVERYTHING, JobScope

SORT_KEYS = ("name", "app", "cron", "type", "state")
# The leader is read from ZooKeeper (two reads); dashboards poll the overview, so one answer serves every
# request of this many seconds: the number of consoles open does not add ZooKeeper reads.
LEADER_TTL = 2.0
DEFAULT_SUMMARY_PAGE = 50
MAX_FIRINGS = 100


def _no_job(name: str) -> NotFound:
    return NotFound(f"job '{name}' does not exist")



def _seconds(instant: float) -> str:
    return iso(dt.datetime.fromtimestamp(instant, dt.UTC))


# ---- pure shaping ----------------------------------------------------------------------------------
def task_json(task: RunningTask) -> dict[str, Any]:
    """A running task as operators read it: who runs what where, since when, with what."""
    return {
        "taskId": task.task_id,
        "jobName": task.job_name,
        "shardingItem": task.sharding_item,
        "runId": run_id(task.job_name, task.firing_id),
        "firingId": task.firing_id,
        "attempt": task.attempt,
        "state": task.state.value,
        "agentId": task.agent_id,
        "hostname": task.hostname,
        "cpus": task.cpus,
        "memMB": task.mem_mb,
        "launchedAt": iso(task.launched_at),
        "startedAt": iso(task.started_at) if task.started_at else None,
    }


def usage(tasks: list[RunningTask]) -> dict[str, tuple[float, float, int]]:
    """By agent: CPUs and MB its running tasks hold (an app's executor cost counted once per agent, as
    placement counts it) and how many tasks run there."""
    cpus: dict[str, float] = defaultdict(float)
    mem: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    executors: set[tuple[str, str]] = set()
    for task in tasks:
        cpus[task.agent_id] += task.cpus
        mem[task.agent_id] += task.mem_mb
        count[task.agent_id] += 1
        if (task.agent_id, task.app_name) not in executors:
            executors.add((task.agent_id, task.app_name))
            cpus[task.agent_id] += task.app_cpus
            mem[task.agent_id] += task.app_mem_mb
    return {agent: (round(cpus[agent], 3), round(mem[agent], 3), count[agent]) for agent in count}


def agent_json(agent_id: str, announced: Mapping[str, Any], used: tuple[float, float, int] | None,
               gone: Departure | None = None) -> dict[str, Any]:
    used_cpus, used_mem, tasks = used or (0.0, 0.0, 0)
    value: dict[str, Any] = {
        "agentId": agent_id,
        "hostname": announced.get("hostname"),
        "pid": announced.get("pid"),
        "attributes": announced.get("attributes") or {},
        "cpus": announced.get("cpus"),
        "memMB": announced.get("memMB"),
        "usedCpus": used_cpus,
        "usedMemMB": used_mem,
        "runningTasks": tasks,
        "status": "GONE" if gone is not None else "ACTIVE",
    }
    if gone is not None:
        value["goneAt"] = _seconds(gone.gone_at)
        value["runningTasks"] = 0
    return value


def summary_filter(params: Mapping[str, str]) -> tuple[str, str | None, str | None, str | None, str, bool]:
    """``(q, app, group, state, sort, descending)`` from a query; ``ValidationFailed`` on a bad value."""
    state = params.get("state") or None
    if state not in (None, "enabled", "disabled"):
        raise ValidationFailed.field("state", "must be enabled or disabled")
    sort = params.get("sort") or "name"
    descending = sort.startswith("-")
    if sort.lstrip("-") not in SORT_KEYS:
        raise ValidationFailed.field("sort", f"must be one of {', '.join(SORT_KEYS)} (with - for descending)")
    return ((params.get("q") or "").lower(), params.get("app") or None, params.get("group"), state,
            sort.lstrip("-"), descending)


class ClusterView:
    """The reads of this module over a master's state (thread-safe: the state is)."""

    def __init__(self, state: ClusterState, departures: AgentDepartures, leader: LeaderLookup,
                 client: KazooClient) -> None:
        self.state = state
        self.departures = departures
        self.leader = leader
        self.client = client
        self._leader_cache: tuple[float, dict[str, Any] | None] = (-LEADER_TTL, None)
        self._leader_lock = threading.Lock()

    def current_leader(self) -> dict[str, Any] | None:
        """The leader, read at most once every ``LEADER_TTL`` seconds (None if unknown or unreachable)."""
        with self._leader_lock:
            read_at, value = self._leader_cache
            if time.monotonic() - read_at < LEADER_TTL:
                return value
            try:
                value = self.leader()
            except Exception:  # noqa: BLE001 - ZooKeeper unreachable: the overview says so in "zookeeper"
                value = None
            self._leader_cache = (time.monotonic(), value)
            return value

    def overview(self, jobs: JobScope = EVERYTHING) -> dict[str, Any]:
        running = self.state.running()
        agents = dict(self.state.mirror.items(AGENTS))
        total_cpus = sum(float((n.value or {}).get("cpus") or 0) for n in agents.values())
        total_mem = sum(float((n.value or {}).get("memMB") or 0) for n in agents.values())
        used = usage([t for t in running if t.agent_id in agents])
        value = {
            "leader": self.current_leader(),
            "zookeeper": {"state": str(self.client.state), "synced": self.state.synced},
            "agents": {
                "count": len(agents),
                "gone": len(self.departures.gone()),
                "cpus": {"used": round(sum(u[0] for u in used.values()), 3), "total": round(total_cpus, 3)},
                "memMB": {"used": round(sum(u[1] for u in used.values()), 3), "total": round(total_mem, 3)},
            },
        }
        if jobs.confined:
            return value | self._counts_within(jobs, running)
        return value | {
            "jobs": {"count": self.state.job_count(), "disabled": len(self.state.disabled_jobs())},
            "apps": {"count": self.state.app_count(), "disabled": len(self.state.disabled_apps())},
            "tasks": {
                "running": len(running),
                "readyFirings": self.state.waiting_firings(),
                "failover": len(self.state.failover()),
                "missedFirings": sum(self.state.missed().values()),
            },
        }

    def _counts_within(self, jobs: JobScope, running: list[RunningTask]) -> dict[str, Any]:
        """The overview's job, app and task counts of a confined user's jobs only (agents are shared)."""
        names = jobs.within(self.state.job_names())
        apps = jobs.within(self.state.mirror.keys(APPS))
        return {
            "jobs": {"count": len(names), "disabled": len(jobs.only(self.state.disabled_jobs()))},
            "apps": {"count": len(apps), "disabled": len(jobs.only(self.state.disabled_apps()))},
            "tasks": {
                "running": sum(1 for t in running if jobs.covers(t.job_name)),
                "readyFirings": sum(len(q.firings) for n, q in self.state.waiting() if jobs.covers(n)),
                "failover": sum(1 for e in self.state.failover() if jobs.covers(e.job_name)),
                "missedFirings": sum(c for n, c in self.state.missed().items() if jobs.covers(n)),
            },
        }

    def agents(self) -> list[dict[str, Any]]:
        used = usage(self.state.running())
        present = [agent_json(str(key), node.value or {}, used.get(str(key)))
                   for key, node in sorted(self.state.mirror.items(AGENTS))]
        gone = [agent_json(d.agent_id, d.announced, None, d) for d in self.departures.gone()]
        return present + gone

    def agent(self, agent_id: str, jobs: JobScope = EVERYTHING) -> dict[str, Any]:
        """One agent with its running tasks (those of ``jobs``; its resource use counts every task)."""
        node = self.state.mirror.get(AGENTS, agent_id)
        tasks = [t for t in self.state.running() if t.agent_id == agent_id]
        if node is not None:
            value = agent_json(agent_id, node.value or {}, usage(tasks).get(agent_id))
        else:
            departure = self.departures.get(agent_id)
            if departure is None:
                raise NotFound(f"agent '{agent_id}' is not registered and this master has not seen it leave")
            value = agent_json(agent_id, departure.announced, None, departure)
        value["tasks"] = [task_json(t) for t in sorted(tasks, key=lambda t: (t.job_name, t.sharding_item))
                          if jobs.covers(t.job_name)]
        return value

    def tasks(self, job_name: str | None, agent_id: str | None,
              jobs: JobScope = EVERYTHING) -> list[dict[str, Any]]:
        if job_name is not None:
            found = [task for task, _version in self.state.running_of(job_name)]
        else:
            found = self.state.running()
        if agent_id is not None:
            found = [t for t in found if t.agent_id == agent_id]
        found = [t for t in found if jobs.covers(t.job_name)]
        return [task_json(t) for t in sorted(found, key=lambda t: (t.job_name, t.sharding_item, t.attempt))]

    def queues(self, jobs: JobScope = EVERYTHING) -> dict[str, Any]:
        ready, missed = [], []
        for name, queue in self.state.waiting():
            if not jobs.covers(name):
                continue
            ready.append({
                "jobName": name,
                "firings": [
                    {"runId": run_id(name, f.firing_id), "firingId": f.firing_id, "cause": f.cause.value,
                     "scheduledAt": iso(f.scheduled_at)} for f in queue.firings
                ],
                "reason": queue.reason,
            })
        for name, count in sorted(self.state.missed().items()):
            if not jobs.covers(name):
                continue
            stored = self.state.queue(name)
            last = stored[0].last_fire_time if stored is not None else None
            missed.append({"jobName": name, "missedFirings": count,
                           "lastFireTime": iso(last) if last else None})
        failover = [
            {"jobName": e.job_name, "shardingItem": e.sharding_item, "runId": run_id(e.job_name, e.firing_id),
             "attempt": e.attempt, "cause": e.cause.value, "notBefore": iso(e.not_before), "reason": e.reason}
            for e in sorted(self.state.failover(), key=lambda e: (e.job_name, e.sharding_item, e.firing_id))
            if jobs.covers(e.job_name)
        ]
        return {"ready": ready, "failover": failover, "missed": missed}

    def summaries(self, params: Mapping[str, str], jobs: JobScope = EVERYTHING) -> dict[str, Any]:
        q, app, group, wanted, sort, descending = summary_filter(params)
        page = whole(params.get("page"), "page", 1, 1, MAX_PAGE)
        per_page = whole(params.get("per_page"), "per_page", DEFAULT_SUMMARY_PAGE, 1, MAX_PER_PAGE)
        disabled_jobs, disabled_apps = self.state.disabled_jobs(), self.state.disabled_apps()
        rows: list[tuple[str, JobRecord, bool]] = []
        for name in jobs.within(self.state.job_names()):
            if q and q not in name.lower():
                continue
            if group is not None and namespace_of(name) != group and not name.startswith(group + "."):
                continue
            record = self.state.job_record(name)
            if record is None or (app is not None and record.app_name != app):
                continue
            disabled = name in disabled_jobs or record.app_name in disabled_apps
            if wanted is not None and disabled != (wanted == "disabled"):
                continue
            rows.append((name, record, disabled))
        keys: dict[str, Callable[[tuple[str, JobRecord, bool]], Any]] = {
            "name": lambda r: r[0],
            "app": lambda r: (r[1].app_name, r[0]),
            "cron": lambda r: (r[1].cron or "", r[0]),
            "type": lambda r: (r[1].daemon, r[0]),
            "state": lambda r: (r[2], r[0]),
        }
        if sort != "name" or descending:
            rows.sort(key=keys[sort], reverse=descending)
        start = (page - 1) * per_page
        return {"total": len(rows), "page": page, "per_page": per_page,
                "jobs": [self._summary(*row) for row in rows[start:start + per_page]]}

    def _summary(self, name: str, record: JobRecord, disabled: bool) -> dict[str, Any]:
        value: dict[str, Any] = {"jobName": name, "appName": record.app_name, "group": namespace_of(name),
                                 "cron": record.cron, "disabled": disabled}
        if record.error is not None:
            value["error"] = record.error
            return value
        stored = self.state.job(name)
        if stored is not None:
            job = stored.model
            value.update(jobExecutionType=job.jobExecutionType.value,
                         shardingTotalCount=job.shardingTotalCount, description=job.description)
        return value

    def firings(self, name: str, count: int, now: dt.datetime | None = None) -> dict[str, Any]:
        record = self.state.job_record(name)
        if record is None:
            raise _no_job(name)
        value: dict[str, Any] = {"jobName": name, "cron": record.cron, "timeZone": record.time_zone,
                                 "firings": []}
        if record.error is not None or record.cron is None:
            return value
        if not record.schedule_active:
            value["scheduleActive"] = False  # switched off: no scheduled firing until switched on
            return value
        zone = cron.load_time_zone(record.time_zone)
        stored = self.state.queue(name)
        cursor = stored[0].cursor if stored is not None else None
        after = max(filter(None, (cursor, now or dt.datetime.now(dt.UTC))))
        schedule = cron.parse_cached(record.cron, record.cron_dialect, record.time_zone)
        value["firings"] = [t.astimezone(zone).isoformat() for t in cron.fire_times(schedule, after, count)]
        return value

    def registry(self, params: Mapping[str, str]) -> dict[str, Any]:
        start = whole(params.get("from"), "from", 0, 0, MAX_PAGE)
        size = whole(params.get("size"), "size", browse.DEFAULT_CHILDREN_PAGE, 1, browse.MAX_CHILDREN_PAGE)
        return browse.describe(self.client, self.state.layout, params.get("path") or "/", start, size)


def cluster_router(view: ClusterView) -> APIRouter:
    router = APIRouter(tags=["cluster"])

    @router.get("/cluster/overview")
    async def overview(request: Request) -> dict[str, Any]:
        """Counts for a dashboard: leader, ZooKeeper connection, agents and their resources, jobs, apps,
        running tasks, waiting firings, shards to run again, missed firings (a user confined to job groups:
        of their jobs and apps)."""
        return await run_in_threadpool(view.overview, job_scope(request))

    @router.get("/cluster/agents")
    async def agents() -> list[dict[str, Any]]:
        """Registered agents (``status`` ACTIVE) by id with resources, use and task count, then agents
        this master saw leave (``status`` GONE, ``goneAt``), newest first."""
        return await run_in_threadpool(view.agents)

    @router.get("/cluster/agents/{agentId}")
    async def agent(request: Request, agentId: str) -> dict[str, Any]:  # noqa: N803
        """One agent, present or gone, with its running ``tasks``; 404 if unknown."""
        return await run_in_threadpool(view.agent, agentId, job_scope(request))

    @router.get("/cluster/tasks")
    async def tasks(request: Request, jobName: str | None = None,  # noqa: N803
                    agentId: str | None = None) -> list[dict[str, Any]]:  # noqa: N803
        """Running tasks, optionally of one job and/or one agent: task, shard, run, attempt, state, agent,
        host, resources, times."""
        return await run_in_threadpool(view.tasks, jobName, agentId, job_scope(request))

    @router.get("/cluster/queues")
    async def queues(request: Request) -> dict[str, Any]:
        """``ready``: jobs with firings waiting to launch and why; ``failover``: shards waiting to run
        again and why; ``missed``: jobs with firings that never ran."""
        return await run_in_threadpool(view.queues, job_scope(request))

    @router.get("/cluster/registry")
    async def registry(request: Request) -> dict[str, Any]:
        """One znode of the installation, read-only: ``path`` (absolute, or relative to the installation's
        root; default the root), its data (``format`` json | text | base64 | empty), version, times,
        ephemeral flag and a page of its children's names (``from``, ``size`` up to 1,000)."""
        return await run_in_threadpool(view.registry, dict(request.query_params))

    @router.get("/job/summaries")
    async def summaries(request: Request) -> dict[str, Any]:
        """A page of jobs for browsing: ``{"total", "page", "per_page", "jobs": [{"jobName", "appName",
        "group", "cron", "disabled", "jobExecutionType", "shardingTotalCount", "description"}]}``. Query:
        ``q`` (part of the name), ``app``, ``group`` (dotted prefix), ``state`` (enabled | disabled),
        ``sort`` (name | app | cron | type | state, ``-`` first for descending), ``page``, ``per_page``."""
        return await run_in_threadpool(view.summaries, dict(request.query_params), job_scope(request))

    @router.get("/job/jobs/{jobName}/firings")
    async def firings(jobName: str, count: int = 5) -> dict[str, Any]:  # noqa: N803
        """The job's next ``count`` (1..100) scheduled instants in its time zone (ISO 8601 with offset);
        an empty list for a job without a schedule or one that never fires again."""
        if not 1 <= count <= MAX_FIRINGS:
            raise ValidationFailed.field("count", f"must be an integer from 1 to {MAX_FIRINGS}")
        return await run_in_threadpool(view.firings, path_name(jobName, _no_job), count)

    return router
