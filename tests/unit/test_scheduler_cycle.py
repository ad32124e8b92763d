"""plan_cycle: one scheduling cycle decided purely from a Snapshot and an injected clock; no I/O, no sleep."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elasticjob.cron import Dialect, Schedule, parse
from elasticjob.model import App, Job, TaskId, TaskKind, TaskState
from elasticjob.model.queue import Firing, FiringCause, ReadyQueue
from elasticjob.model.running import RunningTask
from elasticjob.placement import BinPack
from elasticjob.scheduler.cycle import (
    DAEMON_FIRING,
    WAITING_FOR_PREVIOUS,
    CyclePlan,
    QueueWrite,
    TaskKill,
    TaskLaunch,
    app_version,
    plan_cycle,
)
from elasticjob.scheduler.firings import DEFAULT_MAX_PENDING_FIRINGS
from elasticjob.scheduler.snapshot import AgentView, Snapshot

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)  # an instant of "0/2 * * * * ?"
EVERY_2S = "0/2 * * * * ?"


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# ---- builders -----------------------------------------------------------------------------------


def make_app(name: str = "app", cpus: float = 0.5, mem: float = 128, **extra: Any) -> App:
    return App.model_validate(
        {"appName": name, "appURL": f"http://repo/{name}.tar.gz", "bootstrapScript": "bin/start.sh",
         "cpuCount": cpus, "memoryMB": mem, **extra},
        strict=False,
    )


def make_job(name: str = "job", *, app: str = "app", shards: int = 5, cron: str = EVERY_2S, cpus: float = 0.5,
             mem: float = 64, **extra: Any) -> Job:
    return Job.model_validate(
        {"jobName": name, "appName": app, "cron": cron, "shardingTotalCount": shards, "cpuCount": cpus,
         "memoryMB": mem, **extra},
        strict=False,
    )


def agent(agent_id: str, cpus: float = 4, mem: float = 4096) -> AgentView:
    return AgentView(agent_id, f"{agent_id}.example", cpus, mem)


def running_task(job: str, item: int, agent_id: str, *, firing: str = "cron-20240301T115958.000Z",
                 app: str = "app", cpus: float = 0.5, mem: float = 64, app_cpus: float = 0.5,
                 app_mem: float = 128) -> RunningTask:
    return RunningTask(
        task_id=str(TaskId(job, item, TaskKind.READY, agent_id, f"uid{item}")), job_name=job,
        sharding_item=item, firing_id=firing, agent_id=agent_id, hostname=f"{agent_id}.example", app_name=app,
        cpus=cpus, mem_mb=mem, app_cpus=app_cpus, app_mem_mb=app_mem, kind=TaskKind.READY,
        state=TaskState.RUNNING, launched_at=s(-2),
    )


def snapshot(
    jobs: Iterable[Job],
    *,
    apps: Iterable[App] = (),
    agents: Iterable[AgentView] = (),
    queues: dict[str, tuple[ReadyQueue, int]] | None = None,
    running: Iterable[RunningTask] = (),
    disabled_jobs: Iterable[str] = (),
    disabled_apps: Iterable[str] = (),
) -> Snapshot:
    by_job: dict[str, list[RunningTask]] = {}
    for task in running:
        by_job.setdefault(task.job_name, []).append(task)
    job_list = list(jobs)
    app_list = list(apps) or [make_app()]
    return Snapshot(
        jobs={j.jobName: j for j in job_list},
        apps={a.appName: a for a in app_list},
        disabled_jobs=frozenset(disabled_jobs),
        disabled_apps=frozenset(disabled_apps),
        queues=queues if queues is not None else {j.jobName: (ReadyQueue(cursor=T0), 3) for j in job_list},
        running={name: tuple(tasks) for name, tasks in by_job.items()},
        agents={a.agent_id: a for a in agents},
    )


_SCHEDULES: dict[tuple[str, str], Schedule] = {}


def schedule_of(job: Job) -> Schedule:
    key = (job.cron, job.timeZone)
    if key not in _SCHEDULES:
        _SCHEDULES[key] = parse(job.cron, Dialect.QUARTZ, job.timeZone)
    return _SCHEDULES[key]


NOW = s(2)  # the default clock: the first instant after the cursor T0 is due


def cycle(snap: Snapshot, now: dt.datetime = NOW, **kwargs: Any) -> CyclePlan:
    return plan_cycle(snap, now, schedule_of, **kwargs)


def write_of(plan: CyclePlan, job: str = "job") -> QueueWrite:
    writes = [w for w in plan.queue_writes if w.job_name == job]
    assert len(writes) == 1, plan.queue_writes
    return writes[0]


def cron_id(seconds: float) -> str:
    return Firing.cron(s(seconds)).firing_id


def without_uid(task_id: str) -> str:
    parsed = TaskId.parse(task_id)
    return str(replace(parsed, uid="-"))


def launch_key(launch: TaskLaunch) -> tuple[Any, ...]:
    """A launch with the random part of its task id blanked out, for comparing two plans."""
    task = replace(launch.task, task_id=without_uid(launch.task.task_id))
    spec = {**launch.spec, "task_id": without_uid(launch.spec["task_id"])}
    return task, tuple(sorted(spec.items(), key=lambda kv: kv[0]))


TWO_AGENTS = (agent("a1"), agent("a2"))


# ---- (a) a due transient firing is launched -----------------------------------------------------


def test_a_due_transient_job_launches_every_shard_of_one_firing() -> None:
    job = make_job(shardingItemParameters="0=Beijing,1=Shanghai,3=Guangzhou", jobParameter="p",
                   environment={"MODE": "x"}, timeZone="UTC")
    plan = cycle(snapshot([job], agents=TWO_AGENTS))

    assert [launch.task.sharding_item for launch in plan.launches] == [0, 1, 2, 3, 4]
    assert {launch.task.firing_id for launch in plan.launches} == {cron_id(2)}
    per_agent = Counter(launch.task.agent_id for launch in plan.launches)
    assert set(per_agent) == {"a1", "a2"} and sorted(per_agent.values()) == [2, 3]
    task_ids = [launch.task.task_id for launch in plan.launches]
    assert len(set(task_ids)) == 5
    for launch in plan.launches:
        task = launch.task
        parsed = TaskId.parse(task.task_id)
        assert (parsed.job_name, parsed.sharding_item, parsed.kind, parsed.agent_id) == (
            "job", task.sharding_item, TaskKind.READY, task.agent_id,
        )
        assert task == RunningTask(
            task_id=task.task_id, job_name="job", sharding_item=task.sharding_item, firing_id=cron_id(2),
            agent_id=task.agent_id, hostname=f"{task.agent_id}.example", app_name="app", cpus=0.5, mem_mb=64,
            app_cpus=0.5, app_mem_mb=128, kind=TaskKind.READY, state=TaskState.STAGING, launched_at=s(2),
        )
    assert [launch.spec["sharding_parameter"] for launch in plan.launches] == [
        "Beijing", "Shanghai", "", "Guangzhou", "",
    ]
    assert plan.launches[0].spec == {
        "task_id": plan.launches[0].task.task_id,
        "job_name": "job",
        "firing_id": cron_id(2),
        "sharding_item": 0,
        "sharding_total_count": 5,
        "sharding_parameter": "Beijing",
        "job_parameter": "p",
        "app_name": "app",
        "app_url": "http://repo/app.tar.gz",
        "app_cache_enable": True,
        "app_version": app_version(make_app()),
        "job_type": "SCRIPT",
        "command": "bin/start.sh",
        "job_class": "",
        "streaming_process": False,
        "environment": {"MODE": "x"},
        "cpus": 0.5,
        "mem_mb": 64,
        "execution_type": "TRANSIENT",
        "cron": EVERY_2S,
        "time_zone": "UTC",
        "start_at_ms": 0,
        "kill_grace_seconds": None,  # the agent's own
    }

    # the queue write pops the firing, records the launch time and moves the cursor onto the instant
    assert plan.queue_writes == [QueueWrite("job", ReadyQueue(cursor=s(2), last_fire_time=s(2)), 3)]
    assert plan.kills == [] and plan.collapsed == {}
    assert plan.next_wake == s(4)


@pytest.mark.parametrize(
    ("extra", "command", "job_class", "job_type"),
    [
        ({}, "bin/start.sh", "", "SCRIPT"),
        ({"scriptCommandLine": "python run.py --x"}, "python run.py --x", "", "SCRIPT"),
        ({"jobType": "SIMPLE", "jobClass": "pkg.mod:run"}, "", "pkg.mod:run", "SIMPLE"),
        ({"jobType": "DATAFLOW", "jobClass": "pkg.mod:Flow", "streamingProcess": True}, "", "pkg.mod:Flow",
         "DATAFLOW"),
    ],
)
def test_launch_spec_command_and_job_class(extra: dict[str, Any], command: str, job_class: str,
                                           job_type: str) -> None:
    plan = cycle(snapshot([make_job(shards=1, **extra)], agents=TWO_AGENTS))
    (launch,) = plan.launches
    assert (launch.spec["command"], launch.spec["job_class"], launch.spec["job_type"]) == (
        command, job_class, job_type,
    )
    assert launch.spec["streaming_process"] is bool(extra.get("streamingProcess"))


def test_launch_spec_carries_the_apps_version_which_changes_with_its_configuration() -> None:
    def version(app: App) -> str:
        (launch,) = cycle(snapshot([make_job(shards=1)], apps=[app], agents=TWO_AGENTS)).launches
        return str(launch.spec["app_version"])

    first = version(make_app())
    assert first and first == version(make_app())
    assert version(make_app(appURL="http://repo/app-2.tar.gz")) != first
    assert version(make_app(bootstrapScript="bin/other.sh")) != first


def test_single_step_job_runs_in_the_app_named_like_it() -> None:
    job = Job.model_validate(
        {"jobName": "solo", "appURL": "http://repo/solo.tar.gz", "cron": EVERY_2S, "shardingTotalCount": 1,
         "cpuCount": 0.5, "memoryMB": 64},
        strict=False,
    )
    plan = cycle(snapshot([job], apps=[make_app("solo")], agents=TWO_AGENTS))
    assert [(launch.task.app_name, launch.spec["app_url"]) for launch in plan.launches] == [
        ("solo", "http://repo/solo.tar.gz")
    ]


def test_bin_pack_puts_the_firing_on_one_agent() -> None:
    plan = cycle(snapshot([make_job()], agents=TWO_AGENTS), scorer=BinPack())
    assert len(plan.launches) == 5
    assert len({launch.task.agent_id for launch in plan.launches}) == 1


def test_nothing_due_plans_nothing() -> None:
    snap = snapshot([make_job()], agents=TWO_AGENTS)
    plan = cycle(snap, now=s(1.5))
    assert plan.empty
    assert plan == CyclePlan(next_wake=s(2))


def test_only_one_firing_per_job_per_cycle() -> None:
    trigger = Firing.trigger(s(1), "manual-1")
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    plan = cycle(snapshot([make_job(misfire=True)], agents=TWO_AGENTS, queues=queues))
    assert {launch.task.firing_id for launch in plan.launches} == {"manual-1"}
    assert write_of(plan).queue == ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)),), last_fire_time=s(2))


# ---- (b) all or nothing -------------------------------------------------------------------------


def test_a_firing_whose_shards_do_not_all_fit_launches_nothing() -> None:
    # 2 CPUs: the executor (0.5) plus 3 shards of 0.5 fit, the last 2 shards do not.
    plan = cycle(snapshot([make_job()], agents=[agent("a1", cpus=2)]))
    assert plan.launches == []
    write = write_of(plan)
    assert write.version == 3
    assert write.queue.firings == (Firing.cron(s(2)),)
    assert write.queue.cursor == s(2)
    assert write.queue.last_fire_time is None
    assert write.queue.reason.startswith("only 3 of 5 shards fit; a firing starts all its shards or none;")
    assert "shard 3: no agent with 0.5 CPUs free" in write.queue.reason


def test_the_shortfall_over_several_agents() -> None:
    plan = cycle(snapshot([make_job()], agents=[agent("a1", cpus=1.5), agent("a2", cpus=1)]))
    assert plan.launches == []
    assert write_of(plan).queue.reason.startswith("only 3 of 5 shards fit")


def test_a_firing_without_agents_waits() -> None:
    plan = cycle(snapshot([make_job()]))
    assert plan.launches == []
    assert write_of(plan).queue.reason == "no agents registered"
    assert write_of(plan).queue.firings == (Firing.cron(s(2)),)


def test_a_waiting_firing_launches_once_room_appears_and_clears_the_reason() -> None:
    waiting = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)),), reason="only 3 of 5 shards fit; ...")
    plan = cycle(snapshot([make_job()], agents=TWO_AGENTS, queues={"job": (waiting, 8)}), now=s(3))
    assert {launch.task.firing_id for launch in plan.launches} == {cron_id(2)}
    assert plan.queue_writes == [QueueWrite("job", ReadyQueue(cursor=s(2), last_fire_time=s(3)), 8)]


def test_one_job_that_does_not_fit_does_not_stop_another() -> None:
    big, small = make_job("big", cpus=3), make_job("small", shards=2)
    plan = cycle(snapshot([big, small], agents=TWO_AGENTS))
    assert {launch.task.job_name for launch in plan.launches} == {"small"}
    assert write_of(plan, "big").queue.reason.startswith("only 2 of 5 shards fit")
    assert write_of(plan, "small").queue.firings == ()


# ---- (c) the previous firing is still running ---------------------------------------------------


def test_a_job_whose_previous_firing_runs_is_not_launched() -> None:
    snap = snapshot([make_job()], agents=TWO_AGENTS, running=[running_task("job", 0, "a1")])
    plan = cycle(snap)
    assert plan.launches == []
    waiting = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)),), reason=WAITING_FOR_PREVIOUS)
    assert write_of(plan).queue == waiting
    assert WAITING_FOR_PREVIOUS == "previous firing still running"


def test_without_misfire_pending_firings_collapse_to_the_newest() -> None:
    pending = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)),), reason=WAITING_FOR_PREVIOUS)
    snap = snapshot([make_job(misfire=False)], agents=TWO_AGENTS, queues={"job": (pending, 5)},
                    running=[running_task("job", 0, "a1")])
    plan = cycle(snap, now=s(20))  # 9 more instants: 4, 6, ..., 20
    assert plan.launches == []
    collapsed = ReadyQueue(cursor=s(20), firings=(Firing.cron(s(20)),), reason=WAITING_FOR_PREVIOUS, missed=9)
    assert write_of(plan).queue == collapsed
    assert plan.collapsed == {"job": 9}
    # every firing that will never run is reported as MISSED, oldest first
    assert [f.scheduled_at for _, f, _ in plan.missed] == [s(x) for x in range(2, 20, 2)]


def test_without_misfire_a_pending_trigger_is_kept() -> None:
    pending = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)), Firing.trigger(s(3), "manual-1")))
    snap = snapshot([make_job(misfire=False)], agents=TWO_AGENTS, queues={"job": (pending, 5)},
                    running=[running_task("job", 0, "a1")])
    plan = cycle(snap, now=s(6))
    assert write_of(plan).queue.firings == (Firing.trigger(s(3), "manual-1"), Firing.cron(s(6)))
    assert plan.collapsed == {"job": 2}


def test_with_misfire_pending_firings_are_kept_up_to_the_bound() -> None:
    pending = ReadyQueue(cursor=s(6), firings=tuple(Firing.cron(s(x)) for x in (2, 4, 6)))
    snap = snapshot([make_job(misfire=True)], agents=TWO_AGENTS, queues={"job": (pending, 5)},
                    running=[running_task("job", 0, "a1")])
    plan = cycle(snap, now=s(10), max_pending=4)  # 8 and 10 are due: 5 pending, bound 4
    assert plan.launches == []
    queue = write_of(plan).queue
    assert queue.firings == tuple(Firing.cron(s(x)) for x in (4, 6, 8, 10))
    assert (queue.cursor, queue.reason) == (s(10), WAITING_FOR_PREVIOUS)
    assert plan.collapsed == {"job": 1}


def test_with_misfire_pending_firings_below_the_bound_are_all_kept() -> None:
    snap = snapshot([make_job(misfire=True)], agents=TWO_AGENTS, running=[running_task("job", 0, "a1")])
    plan = cycle(snap, now=s(6))
    assert write_of(plan).queue.firings == tuple(Firing.cron(s(x)) for x in (2, 4, 6))
    assert plan.collapsed == {}


def test_with_misfire_the_oldest_pending_firing_launches_first() -> None:
    pending = ReadyQueue(cursor=s(4), firings=(Firing.cron(s(2)), Firing.cron(s(4))))
    snap = snapshot([make_job(misfire=True, shards=1)], agents=TWO_AGENTS, queues={"job": (pending, 5)})
    plan = cycle(snap, now=s(5))
    assert [launch.task.firing_id for launch in plan.launches] == [cron_id(2)]
    assert write_of(plan).queue.firings == (Firing.cron(s(4)),)


def test_an_unchanged_waiting_queue_is_not_rewritten() -> None:
    waiting = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)),), reason=WAITING_FOR_PREVIOUS)
    snap = snapshot([make_job()], agents=TWO_AGENTS, queues={"job": (waiting, 5)},
                    running=[running_task("job", 0, "a1")])
    plan = cycle(snap, now=s(3))
    assert plan.empty


# ---- (d) disabled jobs and apps -----------------------------------------------------------------


@pytest.mark.parametrize(("disabled_jobs", "disabled_apps"), [({"job"}, set()), (set(), {"app"})])
def test_a_disabled_job_gets_no_firings_and_its_cursor_moves_to_now(
    disabled_jobs: set[str], disabled_apps: set[str]
) -> None:
    snap = snapshot([make_job()], agents=TWO_AGENTS, disabled_jobs=disabled_jobs, disabled_apps=disabled_apps)
    plan = cycle(snap, now=s(61))
    assert plan.launches == []
    assert plan.queue_writes == [QueueWrite("job", ReadyQueue(cursor=s(61)), 3)]
    assert plan.collapsed == {}


@pytest.mark.parametrize(("disabled_jobs", "disabled_apps"), [({"job"}, set()), (set(), {"app"})])
def test_a_disabled_job_drops_what_was_already_queued_as_missed(
    disabled_jobs: set[str], disabled_apps: set[str]
) -> None:
    queued = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)),))
    snap = snapshot([make_job()], agents=TWO_AGENTS, queues={"job": (queued, 1)}, disabled_jobs=disabled_jobs,
                    disabled_apps=disabled_apps)
    plan = cycle(snap, now=s(9))
    assert plan.launches == []
    # nothing added, and the waiting firing will not burst out when the job is enabled again
    assert write_of(plan).queue.firings == ()
    assert write_of(plan).queue.missed == 1
    assert write_of(plan).queue.cursor == s(9)
    assert [(job, f.firing_id) for job, f, _ in plan.missed] == [("job", Firing.cron(s(2)).firing_id)]


def test_disabling_another_app_or_job_changes_nothing_here() -> None:
    snap = snapshot([make_job()], agents=TWO_AGENTS, disabled_jobs={"other"}, disabled_apps={"other_app"})
    assert len(cycle(snap).launches) == 5


def test_re_enabled_job_does_not_fire_the_instants_it_was_disabled_for() -> None:
    disabled = cycle(snapshot([make_job()], agents=TWO_AGENTS, disabled_jobs={"job"}), now=s(61))
    queue = write_of(disabled).queue
    enabled = cycle(snapshot([make_job()], agents=TWO_AGENTS, queues={"job": (queue, 4)}), now=s(61.5))
    assert enabled.launches == []
    assert enabled.next_wake == s(62)


# ---- (e) a brand-new job ------------------------------------------------------------------------


@pytest.mark.parametrize("now", [s(1), s(2), s(3.25)])
def test_a_new_job_gets_a_queue_created_at_now(now: dt.datetime) -> None:
    plan = cycle(snapshot([make_job()], agents=TWO_AGENTS, queues={}), now=now)
    assert plan.queue_writes == [QueueWrite("job", ReadyQueue(cursor=now), None)]
    assert plan.launches == []  # registration never fires an instant at or before it
    assert plan.next_wake == schedule_of(make_job()).next_fire(now)


def test_a_queue_read_as_a_bare_list_gets_a_cursor() -> None:
    bare = ReadyQueue.from_json([Firing.cron(s(2)).to_json()])
    plan = cycle(snapshot([make_job(shards=1)], agents=TWO_AGENTS, queues={"job": (bare, 2)}), now=s(3))
    assert [launch.task.firing_id for launch in plan.launches] == [cron_id(2)]
    assert write_of(plan) == QueueWrite("job", ReadyQueue(cursor=s(3), last_fire_time=s(3)), 2)


# ---- (f) tasks of removed jobs ------------------------------------------------------------------


def test_running_tasks_of_a_removed_job_are_killed() -> None:
    orphans = [running_task("gone", 0, "a1"), running_task("gone", 1, "a2")]
    plan = cycle(snapshot([], agents=TWO_AGENTS, queues={}, running=orphans))
    assert plan.kills == [
        TaskKill("a1", orphans[0].task_id, "job 'gone' was removed"),
        TaskKill("a2", orphans[1].task_id, "job 'gone' was removed"),
    ]
    assert plan.launches == [] and plan.queue_writes == []
    assert plan.next_wake is None


def test_running_tasks_of_existing_jobs_are_not_killed() -> None:
    snap = snapshot([make_job()], agents=TWO_AGENTS, running=[running_task("job", 0, "a1")])
    assert cycle(snap).kills == []


# ---- (g) offers: running tasks and executors ----------------------------------------------------


def test_running_tasks_and_their_executor_once_are_taken_from_the_offer() -> None:
    # a1 has 2 CPUs and runs two shards (0.5 each) of app "app", whose executor costs 0.5 once:
    # 2 - (0.5 + 0.5 + 0.5) = 0.5 CPUs free. A new 0.5-CPU shard of the same app fits only because the
    # executor is charged once per agent (and not again for the new shard, the app already runs there).
    busy = [running_task("old", 0, "a1"), running_task("old", 1, "a1")]
    old = make_job("old", shards=2, cron="0 0 0 1 1 ?")
    new = make_job("new", shards=1)
    plan = cycle(snapshot([old, new], agents=[agent("a1", cpus=2)], running=busy))
    assert [(launch.task.job_name, launch.task.agent_id) for launch in plan.launches] == [("new", "a1")]


def test_an_executor_charged_per_task_would_not_leave_room() -> None:
    # Same agent, three running shards: 2 - (1.5 + 0.5) = 0 free; nothing fits.
    busy = [running_task("old", i, "a1") for i in range(3)]
    old = make_job("old", shards=3, cron="0 0 0 1 1 ?")
    plan = cycle(snapshot([old, make_job("new", shards=1)], agents=[agent("a1", cpus=2)], running=busy))
    assert plan.launches == []
    assert "no agent with 0.5 CPUs free" in write_of(plan, "new").queue.reason
    assert "largest free: 0 CPUs on agent a1" in write_of(plan, "new").queue.reason


def test_another_apps_shard_pays_for_its_own_executor() -> None:
    # 0.5 CPUs free on a1 (as above): a shard of app "other" needs 0.5 + its executor's 0.5.
    busy = [running_task("old", 0, "a1"), running_task("old", 1, "a1")]
    old = make_job("old", shards=2, cron="0 0 0 1 1 ?")
    other = make_job("new", app="other", shards=1)
    snap = snapshot([old, other], apps=[make_app(), make_app("other")], agents=[agent("a1", cpus=2)],
                    running=busy)
    plan = cycle(snap)
    assert plan.launches == []
    reason = write_of(plan, "new").queue.reason
    assert "executor" in reason and "other" in reason


def test_memory_of_running_tasks_and_executors_is_taken_too() -> None:
    # 512 MB: two shards of 64 MB and the executor's 128 MB leave 256 MB; 200 MB fits, 300 MB does not.
    busy = [running_task("old", 0, "a1"), running_task("old", 1, "a1")]
    old = make_job("old", shards=2, cron="0 0 0 1 1 ?")
    small = agent("a1", mem=512)
    fits = cycle(snapshot([old, make_job("new", shards=1, mem=200)], agents=[small], running=busy))
    assert len(fits.launches) == 1
    short = cycle(snapshot([old, make_job("new", shards=1, mem=300)], agents=[small], running=busy))
    assert short.launches == []
    assert "largest free: 256 MB on agent a1" in write_of(short, "new").queue.reason


def test_tasks_of_a_removed_job_still_hold_their_resources() -> None:
    # Until the kill lands, the orphan's shard and executor stay charged to a1.
    orphans = [running_task("gone", 0, "a1", app="old_app", cpus=1, app_cpus=0.5)]
    plan = cycle(snapshot([make_job(shards=1, cpus=1)], agents=[agent("a1", cpus=2)], running=orphans))
    assert plan.launches == []
    assert len(plan.kills) == 1


def test_tasks_on_another_agent_do_not_reduce_this_agents_offer() -> None:
    busy = [running_task("old", i, "a2", cpus=1) for i in range(3)]
    old = make_job("old", shards=3, cron="0 0 0 1 1 ?")
    plan = cycle(snapshot([old, make_job("new", shards=1, cpus=1.5)], agents=[agent("a1", 2), agent("a2", 4)],
                          running=busy))
    assert [launch.task.agent_id for launch in plan.launches] == ["a1"]


def test_a_new_firing_pays_its_executor_once_per_agent() -> None:
    # a1: 2 CPUs. Executor 0.5 + three shards of 0.5 = 2: an exact fit: no executor charge per shard.
    plan = cycle(snapshot([make_job(shards=3)], agents=[agent("a1", cpus=2)]))
    assert len(plan.launches) == 3


# ---- (h) next_wake ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crons", "now", "expected"),
    [
        ((EVERY_2S, "0/5 * * * * ?"), s(1), s(2)),
        (("0/5 * * * * ?", EVERY_2S), s(2), s(4)),  # the 2 s job fired at 2: its next is 4
        (("0/5 * * * * ?", "0/3 * * * * ?"), s(2), s(3)),
        (("0/5 * * * * ?", "0 0 0 1 1 ? 2020"), s(2), s(5)),  # a finished schedule is ignored
        (("0 0 0 1 1 ? 2020",), s(2), None),
        ((), s(2), None),
    ],
)
def test_next_wake_is_the_earliest_next_fire_time(
    crons: tuple[str, ...], now: dt.datetime, expected: dt.datetime | None
) -> None:
    jobs = [make_job(f"job{i}", cron=c, shards=1) for i, c in enumerate(crons)]
    assert cycle(snapshot(jobs, agents=TWO_AGENTS), now=now).next_wake == expected


def test_next_wake_after_a_long_gap_is_after_now() -> None:
    plan = cycle(snapshot([make_job(shards=1)], agents=TWO_AGENTS), now=s(1000.5))
    assert plan.next_wake == s(1002)


def test_next_wake_ignores_daemon_jobs() -> None:
    daemon = make_job("daemon", jobExecutionType="DAEMON", shards=1)
    assert cycle(snapshot([daemon], agents=TWO_AGENTS)).next_wake is None


def test_next_wake_counts_a_disabled_job_from_now() -> None:
    plan = cycle(snapshot([make_job()], agents=TWO_AGENTS, disabled_jobs={"job"}), now=s(9))
    assert plan.next_wake == s(10)


# ---- (i) determinism ----------------------------------------------------------------------------


def _busy_snapshot(reverse: bool = False) -> Snapshot:
    jobs = [make_job("alpha"), make_job("beta", shards=3, cpus=1, misfire=True),
            make_job("gamma", app="other", shards=2), make_job("daemon", jobExecutionType="DAEMON", shards=3),
            make_job("blocked", shards=2)]
    agents = [agent("a1", 8, 2048), agent("a2", 3, 1024), agent("a3", 2, 4096)]
    apps = [make_app(), make_app("other", cpus=0.25, mem=64)]
    queues = {
        "alpha": (ReadyQueue(cursor=T0), 1),
        "beta": (ReadyQueue(cursor=T0, firings=(Firing.trigger(s(1), "manual-b"),)), 2),
        "gamma": (ReadyQueue(cursor=T0), 3),
        "blocked": (ReadyQueue(cursor=T0), 4),
    }
    running = [
        running_task("daemon", 1, "a2"), running_task("blocked", 0, "a3"), running_task("gone", 0, "a1"),
    ]
    if reverse:
        jobs, agents, apps = jobs[::-1], agents[::-1], apps[::-1]
        queues = dict(reversed(queues.items()))
        running = running[::-1]
    return snapshot(jobs, apps=apps, agents=agents, queues=queues, running=running)


def _comparable(plan: CyclePlan) -> tuple[Any, ...]:
    return (
        [launch_key(launch) for launch in plan.launches],
        [(w.job_name, w.queue.to_json(), w.version) for w in plan.queue_writes],
        plan.kills,
        plan.next_wake,
        plan.collapsed,
    )


def test_the_same_snapshot_and_clock_give_the_same_plan() -> None:
    first, second = cycle(_busy_snapshot()), cycle(_busy_snapshot())
    assert first.launches, "the case should launch something"
    assert _comparable(first) == _comparable(second)
    # only the random part of the task ids differs
    assert {launch.task.task_id for launch in first.launches}.isdisjoint(
        launch.task.task_id for launch in second.launches
    )


def test_the_plan_does_not_depend_on_the_order_of_the_snapshot() -> None:
    forward, backward = cycle(_busy_snapshot()), cycle(_busy_snapshot(reverse=True))
    assert _comparable(forward)[:2] == _comparable(backward)[:2]
    assert sorted(forward.kills, key=lambda k: k.task_id) == sorted(backward.kills, key=lambda k: k.task_id)
    assert (forward.next_wake, forward.collapsed) == (backward.next_wake, backward.collapsed)


def test_the_busy_case_in_detail() -> None:
    plan = cycle(_busy_snapshot())
    launched = Counter((launch.task.job_name, launch.task.firing_id) for launch in plan.launches)
    assert launched == {
        ("alpha", cron_id(2)): 5,
        ("beta", "manual-b"): 3,
        ("gamma", cron_id(2)): 2,
        ("daemon", DAEMON_FIRING): 2,
    }
    assert write_of(plan, "blocked").queue.reason == WAITING_FOR_PREVIOUS
    assert write_of(plan, "beta").queue.firings == (Firing.cron(s(2)),)  # the trigger went first
    assert [k.task_id for k in plan.kills] == [running_task("gone", 0, "a1").task_id]


def test_the_snapshot_is_not_changed() -> None:
    snap = _busy_snapshot()
    before = {name: (queue.to_json(), version) for name, (queue, version) in snap.queues.items()}
    cycle(snap)
    assert {name: (queue.to_json(), version) for name, (queue, version) in snap.queues.items()} == before


# ---- (j) daemon jobs ----------------------------------------------------------------------------


def test_a_daemon_job_launches_one_task_per_missing_shard() -> None:
    daemon = make_job("daemon", jobExecutionType="DAEMON", shards=4)
    running = [running_task("daemon", 1, "a1", firing=DAEMON_FIRING), running_task("daemon", 3, "a2",
                                                                                   firing=DAEMON_FIRING)]
    queues = {"daemon": (ReadyQueue(cursor=T0), 6)}
    plan = cycle(snapshot([daemon], agents=TWO_AGENTS, queues=queues, running=running), now=s(60))
    assert [launch.task.sharding_item for launch in plan.launches] == [0, 2]
    assert {launch.task.firing_id for launch in plan.launches} == {DAEMON_FIRING}
    assert {launch.spec["execution_type"] for launch in plan.launches} == {"DAEMON"}
    assert {launch.task.kind for launch in plan.launches} == {TaskKind.READY}
    assert plan.queue_writes == []  # a daemon's cron is run by its executor: the queue does not move
    assert plan.collapsed == {}


def test_a_daemon_job_with_every_shard_running_launches_nothing() -> None:
    daemon = make_job("daemon", jobExecutionType="DAEMON", shards=2)
    running = [running_task("daemon", i, "a1", firing=DAEMON_FIRING) for i in range(2)]
    queues = {"daemon": (ReadyQueue(cursor=T0), 6)}
    plan = cycle(snapshot([daemon], agents=TWO_AGENTS, queues=queues, running=running))
    assert plan.empty


def test_a_new_daemon_job_launches_every_shard_and_creates_its_queue() -> None:
    daemon = make_job("daemon", jobExecutionType="DAEMON", shards=3)
    plan = cycle(snapshot([daemon], agents=TWO_AGENTS, queues={}), now=s(1))
    assert [launch.task.sharding_item for launch in plan.launches] == [0, 1, 2]
    assert plan.queue_writes == [QueueWrite("daemon", ReadyQueue(cursor=s(1)), None)]


def test_a_daemon_job_that_does_not_fit_says_why() -> None:
    daemon = make_job("daemon", jobExecutionType="DAEMON", shards=3, cpus=2)
    queues = {"daemon": (ReadyQueue(cursor=T0), 6)}
    plan = cycle(snapshot([daemon], agents=[agent("a1", cpus=3)], queues=queues))
    assert plan.launches == []
    assert write_of(plan, "daemon").queue.reason.startswith("only 1 of 3 shards fit")


def test_a_disabled_daemon_job_launches_nothing() -> None:
    daemon = make_job("daemon", jobExecutionType="DAEMON", shards=2)
    queues = {"daemon": (ReadyQueue(cursor=T0), 6)}
    plan = cycle(snapshot([daemon], agents=TWO_AGENTS, queues=queues, disabled_jobs={"daemon"}))
    assert plan.launches == []


# ---- (k) trigger firings ------------------------------------------------------------------------


def test_a_trigger_firing_is_launched_like_a_cron_one() -> None:
    trigger = Firing.trigger(s(1.5), "manual-42")
    assert (trigger.cause, trigger.scheduled_at) == (FiringCause.TRIGGER, s(1.5))
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    plan = cycle(snapshot([make_job(cron="0 0 0 1 1 ?")], agents=TWO_AGENTS, queues=queues), now=s(1.75))
    assert [launch.task.sharding_item for launch in plan.launches] == [0, 1, 2, 3, 4]
    assert {launch.task.firing_id for launch in plan.launches} == {"manual-42"}
    assert {launch.spec["firing_id"] for launch in plan.launches} == {"manual-42"}
    assert plan.queue_writes == [QueueWrite("job", ReadyQueue(cursor=T0, last_fire_time=s(1.75)), 3)]


def test_a_trigger_waits_for_room_like_a_cron_firing() -> None:
    trigger = Firing.trigger(s(1.5), "manual-42")
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    snap = snapshot([make_job(cron="0 0 0 1 1 ?")], agents=[agent("a1", cpus=1)], queues=queues)
    plan = cycle(snap, now=s(1.75))
    assert plan.launches == []
    assert write_of(plan).queue.firings == (trigger,)
    assert write_of(plan).queue.reason.startswith("only 1 of 5 shards fit")


def test_a_trigger_of_a_job_whose_previous_firing_runs_waits() -> None:
    trigger = Firing.trigger(s(1.5), "manual-42")
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    snap = snapshot([make_job(cron="0 0 0 1 1 ?")], agents=TWO_AGENTS, queues=queues,
                    running=[running_task("job", 2, "a1")])
    plan = cycle(snap, now=s(1.75))
    assert plan.launches == []
    assert write_of(plan).queue == ReadyQueue(cursor=T0, firings=(trigger,), reason=WAITING_FOR_PREVIOUS)


# ---- a job whose app is missing -----------------------------------------------------------------


def test_a_job_whose_app_is_missing_is_queued_but_not_launched() -> None:
    plan = cycle(snapshot([make_job(app="missing")], apps=[make_app()], agents=TWO_AGENTS))
    assert plan.launches == []
    assert write_of(plan).queue.firings == (Firing.cron(s(2)),)


def test_two_jobs_of_one_app_share_a_new_executor_within_one_cycle() -> None:
    # a1: 2 CPUs = executor 0.5 + job1's 0.75 + job2's 0.75; charging the executor per job would not fit.
    jobs = [make_job("job1", shards=1, cpus=0.75), make_job("job2", shards=1, cpus=0.75)]
    plan = cycle(snapshot(jobs, agents=[agent("a1", cpus=2)]))
    assert sorted(launch.task.job_name for launch in plan.launches) == ["job1", "job2"]


def test_without_misfire_a_trigger_and_a_due_cron_firing_are_both_kept() -> None:
    trigger = Firing.trigger(s(1), "manual-1")
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    plan = cycle(snapshot([make_job(misfire=False)], agents=TWO_AGENTS, queues=queues))
    assert {launch.task.firing_id for launch in plan.launches} == {"manual-1"}
    assert write_of(plan).queue.firings == (Firing.cron(s(2)),)
    assert plan.collapsed == {}


# ---- properties over random snapshots -----------------------------------------------------------

_APPS = {"app": make_app("app", cpus=0.5, mem=128), "other": make_app("other", cpus=0.25, mem=64)}


@st.composite
def _random_snapshots(draw: st.DrawFn) -> Snapshot:
    agents = [
        agent(f"a{i}", draw(st.sampled_from([0.5, 1, 2, 3.5, 8])), draw(st.sampled_from([128, 512, 2048])))
        for i in range(draw(st.integers(0, 4)))
    ]
    jobs = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["TRANSIENT", "TRANSIENT", "DAEMON"]))
        jobs.append(make_job(
            f"job{i}", app=draw(st.sampled_from(sorted(_APPS))), shards=draw(st.integers(1, 6)),
            cpus=draw(st.sampled_from([0.25, 0.5, 1, 2])), mem=draw(st.sampled_from([32, 64, 256])),
            misfire=draw(st.booleans()), jobExecutionType=kind,
        ))
    running = []
    if agents:
        for job in jobs:
            for item in range(job.shardingTotalCount):
                if draw(st.integers(0, 3)) == 0:
                    app = _APPS[job.effective_app_name]
                    where = draw(st.sampled_from(agents)).agent_id
                    running.append(running_task(
                        job.jobName, item, where, app=app.appName, cpus=job.cpuCount, mem=job.memoryMB,
                        app_cpus=app.cpuCount, app_mem=app.memoryMB,
                    ))
    disabled = {job.jobName for job in jobs if draw(st.integers(0, 5)) == 0}
    return snapshot(jobs, apps=_APPS.values(), agents=agents, running=running, disabled_jobs=disabled)


@settings(max_examples=200, deadline=None)
@given(snap=_random_snapshots(), seconds=st.sampled_from([1, 2, 7, 30]))
def test_plan_cycle_invariants(snap: Snapshot, seconds: int) -> None:
    plan = cycle(snap, now=s(seconds))
    by_job: dict[str, list[TaskLaunch]] = {}
    for launch in plan.launches:
        by_job.setdefault(launch.task.job_name, []).append(launch)
    for name, launches in by_job.items():
        job = snap.jobs[name]
        running_items = {t.sharding_item for t in snap.running.get(name, ())}
        assert snap.job_enabled(job)
        items = sorted(launch.task.sharding_item for launch in launches)
        if job.jobExecutionType.value == "DAEMON":
            assert items == sorted(set(range(job.shardingTotalCount)) - running_items)
        else:
            assert not running_items  # never two firings of one job at once
            assert items == list(range(job.shardingTotalCount))  # all shards of a firing, or none
            assert len({launch.task.firing_id for launch in launches}) == 1
            head = snap.queues[name][0].firings[0] if snap.queues[name][0].firings else None
            queue = write_of(plan, name).queue
            assert queue.last_fire_time == s(seconds)
            assert head is None or launches[0].task.firing_id == head.firing_id
    # never over-commit an agent: running shards, their executors once, new shards and new executors
    for agent_view in snap.agents.values():
        on_agent = snap.tasks_on(agent_view.agent_id)
        new = [launch.task for launch in plan.launches if launch.task.agent_id == agent_view.agent_id]
        executors = {t.app_name: (t.app_cpus, t.app_mem_mb) for t in (*on_agent, *new)}
        cpus = sum(t.cpus for t in (*on_agent, *new)) + sum(c for c, _ in executors.values())
        mem = sum(t.mem_mb for t in (*on_agent, *new)) + sum(m for _, m in executors.values())
        if new:
            assert round(cpus, 6) <= agent_view.cpus and round(mem, 6) <= agent_view.mem_mb
    # every queue written has a cursor that never goes backwards, and no instant queued twice
    for write in plan.queue_writes:
        stored = snap.queues.get(write.job_name)
        assert write.version == (stored[1] if stored else None)
        assert write.queue.cursor is not None
        if stored and stored[0].cursor:
            assert write.queue.cursor >= stored[0].cursor
        ids = [f.firing_id for f in write.queue.firings]
        assert len(ids) == len(set(ids))
        crons = [f for f in write.queue.firings if f.cause is FiringCause.CRON]
        assert len(crons) <= (DEFAULT_MAX_PENDING_FIRINGS if snap.jobs[write.job_name].misfire else 1)
    assert plan.kills == []  # every running task here belongs to an existing job


# ---- launching ahead of the instant ------------------------------------------------------------------

AHEAD = dt.timedelta(seconds=1)


def test_a_firing_near_its_instant_is_launched_ahead_and_starts_at_the_instant() -> None:
    # Cursor at 2 (its firing ran), now 3.2: the next instant, 4, is within a second.
    snap = snapshot([make_job(shards=2)], agents=TWO_AGENTS, queues={"job": (ReadyQueue(cursor=s(2)), 5)})
    plan = cycle(snap, now=s(3.2), ahead=AHEAD)
    assert len(plan.launches) == 2
    for launch in plan.launches:
        assert launch.task.firing_id == cron_id(4) and launch.task.start_at == s(4)
        assert launch.spec["start_at_ms"] == int(s(4).timestamp() * 1000)
        assert launch.task.launched_at == s(3.2)
    # the cursor moved onto 4, nothing pending; the last fire time is the instant it fires at
    assert write_of(plan).queue == ReadyQueue(cursor=s(4), last_fire_time=s(4))
    assert plan.next_wake == s(5)  # 6, one second ahead


def test_not_yet_near_or_without_a_lead_nothing_is_launched_early() -> None:
    snap = snapshot([make_job(shards=1)], agents=TWO_AGENTS, queues={"job": (ReadyQueue(cursor=s(2)), 5)})
    assert cycle(snap, now=s(2.5), ahead=AHEAD).launches == []  # 4 is 1.5 s away
    assert cycle(snap, now=s(2.5), ahead=AHEAD).next_wake == s(3)
    assert cycle(snap, now=s(3.2)).launches == []  # no lead: at the instant, as before


def test_a_due_firing_is_launched_at_once_and_not_told_to_wait() -> None:
    plan = cycle(snapshot([make_job(shards=1)], agents=TWO_AGENTS), now=s(2.5), ahead=AHEAD)
    [launch] = plan.launches
    assert launch.task.firing_id == cron_id(2) and launch.task.start_at is None
    assert launch.spec["start_at_ms"] == 0


def test_the_next_firing_waits_queued_while_the_previous_one_runs() -> None:
    snap = snapshot([make_job(shards=1)], agents=TWO_AGENTS, queues={"job": (ReadyQueue(cursor=s(2)), 5)},
                    running=[running_task("job", 0, "a1", firing=cron_id(2))])
    plan = cycle(snap, now=s(3.5), ahead=AHEAD)
    assert plan.launches == []
    queue = write_of(plan).queue
    assert [f.firing_id for f in queue.firings] == [cron_id(4)] and queue.reason == WAITING_FOR_PREVIOUS


def test_shards_launched_ahead_are_killed_if_their_job_is_disabled_before_the_instant() -> None:
    waiting = replace(running_task("job", 0, "a1", firing=cron_id(4)), state=TaskState.STAGING, start_at=s(4))
    started = replace(running_task("job", 1, "a1", firing=cron_id(2)), state=TaskState.RUNNING)
    snap = snapshot([make_job(shards=2)], agents=TWO_AGENTS, running=[waiting, started],
                    disabled_jobs=["job"], queues={"job": (ReadyQueue(cursor=s(4)), 5)})
    plan = cycle(snap, now=s(3.5), ahead=AHEAD)
    assert plan.kills == [TaskKill("a1", waiting.task_id, "job 'job' was disabled before its firing's instant")]
    assert cycle(replace(snap, disabled_jobs=frozenset()), now=s(3.5), ahead=AHEAD).kills == []


# ---- a run's own environment and job parameter -----------------------------------------------------


def test_a_manual_runs_overrides_reach_every_shard_and_its_failover_attempts() -> None:
    from elasticjob.model.failover import FailoverCause, FailoverEntry
    from elasticjob.model.queue import Overrides
    from elasticjob.scheduler.failover import after_end

    overrides = Overrides.of({"MODE": "once", "EXTRA": "1"}, "p=7")
    trigger = Firing.trigger(s(1), overrides=overrides)
    assert Firing.from_json(trigger.to_json()) == trigger and trigger.firing_id.startswith("trigger-20240301T")
    job = make_job(shards=2, environment={"MODE": "x", "KEEP": "y"}, jobParameter="p=0")
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    plan = cycle(snapshot([job], agents=TWO_AGENTS, queues=queues))
    assert len(plan.launches) == 2
    for launch in plan.launches:
        assert launch.spec["environment"] == {"MODE": "once", "EXTRA": "1", "KEEP": "y"}
        assert launch.spec["job_parameter"] == "p=7"
        assert launch.task.overrides == overrides
        assert RunningTask.from_json(launch.task.to_json()) == launch.task
    # A failover of one of its shards runs with them too; the next cron firing without them.
    lost = plan.launches[0].task
    entry = after_end(job.model_copy(update={"failover": True}), lost, TaskState.LOST, "", s(3))
    assert entry is not None and entry.cause is FailoverCause.LOST and entry.overrides == overrides
    assert FailoverEntry.from_json(entry.to_json()) == entry
    again = cycle(replace(snapshot([job], agents=TWO_AGENTS), failover={"job": ((entry, 0),)}), now=s(3))
    [relaunch] = [launch for launch in again.launches if launch.task.kind is TaskKind.FAILOVER]
    assert relaunch.spec["environment"]["MODE"] == "once" and relaunch.spec["job_parameter"] == "p=7"
    plain = cycle(snapshot([job], agents=TWO_AGENTS))
    assert {launch.spec["job_parameter"] for launch in plain.launches} == {"p=0"}
    assert all(launch.spec["environment"] == {"MODE": "x", "KEEP": "y"} for launch in plain.launches)


# ---- stopping a run ------------------------------------------------------------------------------


def test_a_stopped_run_is_killed_its_queued_firing_dropped_and_its_request_removed_when_done() -> None:
    from elasticjob.model.failover import FailoverCause, FailoverEntry

    job = make_job(shards=3, cron="0 0 0 1 1 ? 2099")
    old = "cron-20240301T115958.000Z"
    trigger = Firing.trigger(s(1))
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    running = [running_task("job", 0, "a1", firing=old), running_task("job", 1, "a1", firing=old)]
    waiting = FailoverEntry("job", 2, old, "t2", 1, FailoverCause.LOST, s(0))
    snap = replace(
        snapshot([job], agents=TWO_AGENTS, queues=queues, running=running),
        failover={"job": ((waiting, 4),)},
        stops={"job": {old: ("by ops", 7), trigger.firing_id: ("not wanted", 2)}},
    )
    plan = cycle(snap)
    assert plan.launches == []  # neither the stopped trigger nor the stopped run's waiting shard
    assert sorted((k.task_id, k.reason) for k in plan.kills) == sorted(
        (t.task_id, "stopped: by ops") for t in running
    )
    assert plan.failover_deletes == [("job", "2", 4)]
    assert [(f.firing_id, why) for _, f, why in plan.missed] == [(trigger.firing_id, "stopped: not wanted")]
    assert write_of(plan).queue.firings == ()
    # The queued run's request is done; the other waits until its tasks ended.
    assert plan.stop_deletes == [("job", trigger.firing_id, 2)]
    ended = replace(snap, running={}, failover={}, stops={"job": {old: ("by ops", 7)}})
    assert cycle(ended).stop_deletes == [("job", old, 7)] and cycle(ended).kills == []


def test_a_stop_of_one_run_leaves_the_jobs_other_runs_alone() -> None:
    job = make_job(shards=2)
    other = running_task("job", 0, "a1", firing="cron-20240301T115958.000Z")
    snap = replace(snapshot([job], agents=TWO_AGENTS, running=[other]),
                   stops={"job": {"cron-20240301T115900.000Z": ("old one", 0)}})
    plan = cycle(snap)
    assert plan.kills == [] and plan.stop_deletes == [("job", "cron-20240301T115900.000Z", 0)]


# ---- concurrencyPolicy ---------------------------------------------------------------------------


def test_replace_kills_the_previous_run_and_starts_the_next_once_it_is_gone() -> None:
    from elasticjob.model.failover import FailoverCause, FailoverEntry

    job = make_job(shards=2, cron="0 0 0 1 1 ? 2099", concurrencyPolicy="REPLACE")
    trigger = Firing.trigger(s(1))
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    old = [running_task("job", 0, "a1"), running_task("job", 1, "a1")]
    plan = cycle(snapshot([job], agents=TWO_AGENTS, queues=queues, running=old))
    assert plan.launches == []
    assert {k.task_id for k in plan.kills} == {t.task_id for t in old}
    assert all(k.reason == f"replaced by the next run ({trigger.firing_id})" for k in plan.kills)
    assert write_of(plan).queue.reason == "stopping the previous run, which this one replaces"
    # Its shards gone (one still waiting to be failed over: dropped), the next run starts at once.
    waiting = FailoverEntry("job", 1, "cron-20240301T115958.000Z", "t1", 1, FailoverCause.LOST, s(0))
    gone = replace(snapshot([job], agents=TWO_AGENTS, queues=queues), failover={"job": ((waiting, 5),)})
    plan = cycle(gone)
    assert plan.failover_deletes == [("job", "1", 5)]
    assert sorted(launch.task.sharding_item for launch in plan.launches) == [0, 1]
    assert {launch.task.firing_id for launch in plan.launches} == {trigger.firing_id}


def test_forbid_waits_for_the_previous_run_and_kills_nothing() -> None:
    job = make_job(shards=1, cron="0 0 0 1 1 ? 2099")
    queues = {"job": (ReadyQueue(cursor=T0, firings=(Firing.trigger(s(1)),)), 3)}
    plan = cycle(snapshot([job], agents=TWO_AGENTS, queues=queues, running=[running_task("job", 0, "a1")]))
    assert plan.launches == [] and plan.kills == []
    assert write_of(plan).queue.reason == "previous firing still running"


def test_a_shard_failing_past_the_retry_deadline_is_not_retried() -> None:
    from elasticjob.scheduler.failover import after_end

    job = make_job(shards=1, shardRetryLimit=5, shardRetryDeadlineSeconds=60)
    failed = running_task("job", 0, "a1", firing="cron-20240301T120000.000Z")
    instant = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert after_end(job, failed, TaskState.FAILED, "", instant + dt.timedelta(seconds=59)) is not None
    assert after_end(job, failed, TaskState.FAILED, "", instant + dt.timedelta(seconds=60)) is None
    unbounded = make_job(shards=1, shardRetryLimit=5)
    assert after_end(unbounded, failed, TaskState.FAILED, "", instant + dt.timedelta(days=1)) is not None


def test_allow_starts_the_next_run_while_the_previous_one_runs() -> None:
    job = make_job(shards=2, cron="0 0 0 1 1 ? 2099", concurrencyPolicy="ALLOW")
    trigger = Firing.trigger(s(1))
    queues = {"job": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)}
    previous = [running_task("job", 0, "a1"), running_task("job", 1, "a1")]
    plan = cycle(snapshot([job], agents=TWO_AGENTS, queues=queues, running=previous))
    assert plan.kills == []
    assert sorted(launch.task.sharding_item for launch in plan.launches) == [0, 1]
    assert {launch.task.firing_id for launch in plan.launches} == {trigger.firing_id}
    assert len({launch.task.task_id for launch in plan.launches} | {t.task_id for t in previous}) == 4


def test_allow_keys_a_shards_failover_by_its_run_and_reruns_it_beside_other_runs_of_the_shard() -> None:
    from elasticjob.model.failover import FailoverEntry
    from elasticjob.scheduler.failover import after_end

    job = make_job(shards=1, cron="0 0 0 1 1 ? 2099", concurrencyPolicy="ALLOW", failover=True)
    first, second = "cron-20240301T115900.000Z", "cron-20240301T115958.000Z"
    lost = running_task("job", 0, "a1", firing=first)
    entry = after_end(job, lost, TaskState.LOST, "", s(0))
    assert entry is not None and entry.concurrent and entry.key == f"0@{first}"
    assert FailoverEntry.from_json(entry.to_json()) == entry
    # Shard 0 of another run is running: this run's shard 0 runs again anyway.
    other = running_task("job", 0, "a2", firing=second)
    plan = cycle(replace(snapshot([job], agents=TWO_AGENTS, running=[other]), failover={"job": ((entry, 3),)}))
    [relaunch] = plan.launches
    assert relaunch.task.firing_id == first and relaunch.task.kind is TaskKind.FAILOVER
    assert plan.failover_deletes == [("job", f"0@{first}", 3)]
    # A task of the same run's shard still running holds it back.
    same = running_task("job", 0, "a2", firing=first)
    held = cycle(replace(snapshot([job], agents=TWO_AGENTS, running=[same]), failover={"job": ((entry, 3),)}))
    assert held.launches == [] and held.failover_deletes == []
    # Two runs' shard 0 waiting: one runs again this cycle, the other the next.
    twin = replace(entry, firing_id=second, original_task_id="t-other")
    both = cycle(replace(snapshot([job], agents=TWO_AGENTS), failover={"job": ((entry, 3), (twin, 1))}))
    assert len(both.launches) == 1
    # A FORBID job's entry keeps the plain key (the layout of earlier versions).
    forbid = after_end(make_job(shards=1, failover=True), lost, TaskState.LOST, "", s(0))
    assert forbid is not None and forbid.key == "0" and "concurrent" not in forbid.to_json()


def test_a_replacing_job_is_not_launched_ahead_of_its_instant_while_its_previous_run_runs() -> None:
    job = make_job(shards=1, concurrencyPolicy="REPLACE")  # every 2 s: the next instant is s(4)
    snap = snapshot([job], agents=TWO_AGENTS, queues={"job": (ReadyQueue(cursor=s(2)), 3)},
                    running=[running_task("job", 0, "a1")])
    plan = cycle(snap, now=s(3), ahead=dt.timedelta(seconds=2))
    assert plan.kills == [] and plan.launches == []  # at s(4), not 1 s early


# ---- taskKillGracePeriodSeconds ------------------------------------------------------------------


def test_every_kill_of_the_plan_carries_its_jobs_grace_period_and_launches_carry_it_too() -> None:
    stopped = make_job("stopped", shards=1, cron="0 0 0 1 1 ? 2099", taskKillGracePeriodSeconds=1)
    replacing = make_job("replacing", shards=1, cron="0 0 0 1 1 ? 2099", concurrencyPolicy="REPLACE",
                         taskKillGracePeriodSeconds=0)
    daemon = make_job("daemon", shards=1, jobExecutionType="DAEMON", taskKillGracePeriodSeconds=90)
    default = make_job("default", shards=1, cron="0 0 0 1 1 ? 2099")
    old = "cron-20240301T115958.000Z"
    trigger = Firing.trigger(s(1))
    running = [running_task("stopped", 0, "a1", firing=old), running_task("replacing", 0, "a1"),
               running_task("daemon", 0, "a2", firing=DAEMON_FIRING), running_task("default", 0, "a2"),
               running_task("gone", 0, "a2")]
    snap = replace(
        snapshot([stopped, replacing, daemon, default], agents=TWO_AGENTS, running=running,
                 queues={"replacing": (ReadyQueue(cursor=T0, firings=(trigger,)), 3)},
                 disabled_jobs=["daemon"]),
        stops={"stopped": {old: ("by ops", 7)}, "default": {"cron-20240301T115958.000Z": ("by ops", 1)}},
    )
    kills = cycle(snap).kills
    by_job = {TaskId.parse(k.task_id).job_name: k.grace_seconds for k in kills}
    assert len(kills) == 5
    # A removed job's grace is not known here: the agent uses the one its launch carried.
    assert by_job == {"stopped": 1.0, "replacing": 0.0, "daemon": 90.0, "default": None, "gone": None}

    plan = cycle(snapshot([stopped, default], agents=TWO_AGENTS,
                          queues={n: (ReadyQueue(cursor=T0, firings=(Firing.trigger(s(1)),)), 3)
                                  for n in ("stopped", "default")}))
    assert {launch.task.job_name: launch.spec["kill_grace_seconds"] for launch in plan.launches} == {
        "stopped": 1.0, "default": None,
    }


def test_pattern_constraints_choose_the_agent_and_artifacts_travel_with_the_launch() -> None:
    agents = [AgentView("a1", "a1.example", 4, 4096, {"host": "web-1"}),
              AgentView("a2", "a2.example", 4, 4096, {"host": "batch-1"})]
    artifacts = [{"uri": "http://repo/tool.sh", "executable": True}]
    like = make_job("like", shards=1, artifacts=artifacts,
                    patternConstraints=[{"attribute": "host", "operator": "LIKE", "value": "web-.*"}])
    unlike = make_job("unlike", shards=1,
                      patternConstraints=[{"attribute": "host", "operator": "UNLIKE", "value": "web-.*"}])
    plan = cycle(snapshot([like, unlike], agents=agents))
    by_job = {launch.task.job_name: launch for launch in plan.launches}
    assert (by_job["like"].task.agent_id, by_job["unlike"].task.agent_id) == ("a1", "a2")
    assert by_job["like"].spec["artifacts"] == [
        {"uri": "http://repo/tool.sh", "extract": True, "executable": True, "cache": False}]
    assert "artifacts" not in by_job["unlike"].spec  # a job without artifacts launches as it always did


# ---- the schedule switch (scheduleActive: false) ------------------------------------------------------


def test_a_switched_off_schedule_fires_nothing_and_its_cursor_moves_to_now() -> None:
    plan = cycle(snapshot([make_job(scheduleActive=False)], agents=TWO_AGENTS), now=s(61), ahead=AHEAD)
    assert plan.launches == [] and plan.collapsed == {}
    assert plan.queue_writes == [QueueWrite("job", ReadyQueue(cursor=s(61)), 3)]


def test_a_switched_off_schedule_drops_waiting_cron_firings_but_runs_manual_ones() -> None:
    trigger = Firing.trigger(s(3), "manual-1")
    queued = ReadyQueue(cursor=s(2), firings=(Firing.cron(s(2)), trigger))
    snap = snapshot([make_job(scheduleActive=False)], agents=TWO_AGENTS, queues={"job": (queued, 1)})
    plan = cycle(snap, now=s(9))
    assert {launch.task.firing_id for launch in plan.launches} == {"manual-1"} and len(plan.launches) == 5
    assert [(job, f.firing_id) for job, f, _ in plan.missed] == [("job", Firing.cron(s(2)).firing_id)]
    assert "switched off" in plan.missed[0][2]
    assert write_of(plan).queue.missed == 1 and write_of(plan).queue.cursor == s(9)


def test_a_schedule_switched_on_again_does_not_fire_the_instants_it_was_off_for() -> None:
    off = cycle(snapshot([make_job(scheduleActive=False)], agents=TWO_AGENTS), now=s(61))
    on = cycle(snapshot([make_job()], agents=TWO_AGENTS, queues={"job": (write_of(off).queue, 4)}), now=s(61.5))
    assert on.launches == [] and on.next_wake == s(62)


def test_shards_launched_ahead_are_killed_if_the_schedule_is_switched_off_before_the_instant() -> None:
    waiting = replace(running_task("job", 0, "a1", firing=cron_id(4)), state=TaskState.STAGING, start_at=s(4))
    snap = snapshot([make_job(shards=1, scheduleActive=False)], agents=TWO_AGENTS, running=[waiting],
                    queues={"job": (ReadyQueue(cursor=s(4)), 5)})
    plan = cycle(snap, now=s(3.5), ahead=AHEAD)
    assert plan.kills == [TaskKill("a1", waiting.task_id,
                                   "job 'job' had its schedule switched off before its firing's instant")]
    assert plan.launches == [] and plan.queue_writes == []  # and nothing is queued in its stead
