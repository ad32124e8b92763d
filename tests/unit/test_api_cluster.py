"""Pure parts of the operators' routes: agent usage, job list filters, groups, departures, znode paths."""

from __future__ import annotations

import datetime as dt

import pytest

from elasticjob.api.cluster import agent_json, summary_filter, usage
from elasticjob.model import ValidationFailed
from elasticjob.model.running import RunningTask
from elasticjob.model.task import TaskKind, TaskState
from elasticjob.registry.browse import page_children, render_data, resolve
from elasticjob.registry.departures import AgentDepartures
from elasticjob.registry.layout import Layout
from elasticjob.registry.tables import Change, Node

T0 = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def _task(task_id: str, agent: str, app: str, cpus: float, mem: float) -> RunningTask:
    return RunningTask(task_id, "job", 0, "f", agent, "host", app, cpus, mem, 0.5, 64, TaskKind.READY,
                       TaskState.RUNNING, T0)


def test_usage_counts_each_apps_executor_once_per_agent() -> None:
    used = usage([_task("a", "x", "app1", 1, 100), _task("b", "x", "app1", 1, 100),
                  _task("c", "x", "app2", 0.25, 10), _task("d", "y", "app1", 1, 100)])
    assert used == {"x": (3.25, 338.0, 3), "y": (1.5, 164.0, 1)}


def test_a_gone_agent_shows_when_it_left_and_no_tasks() -> None:
    departures = AgentDepartures("agents", clock=lambda: T0.timestamp())
    departures.observe([Change("agents", "a1", Node({"hostname": "h", "cpus": 2}, 0), None)])
    [gone] = departures.gone()
    shaped = agent_json("a1", gone.announced, (1.0, 2.0, 3), gone)
    assert shaped["status"] == "GONE" and shaped["goneAt"] == "2026-12-07T00:00:00.000+00:00"
    assert shaped["runningTasks"] == 0 and shaped["hostname"] == "h"


def test_departures_forget_an_agent_that_returns_and_keep_the_newest() -> None:
    now = [0.0]
    departures = AgentDepartures("agents", limit=2, clock=lambda: now[0])
    for agent in ("a", "b", "c"):
        now[0] += 1
        departures.observe([Change("agents", agent, Node({}, 0), None)])
    assert [d.agent_id for d in departures.gone()] == ["c", "b"]
    departures.observe([Change("agents", "c", None, Node({}, 0)), Change("jobs", "b", Node({}, 0), None)])
    assert [d.agent_id for d in departures.gone()] == ["b"]


def test_summary_filter_reads_and_refuses() -> None:
    assert summary_filter({"q": "ABC", "sort": "-app", "state": "disabled"}) == (
        "abc", None, None, "disabled", "app", True)
    with pytest.raises(ValidationFailed) as refused:
        summary_filter({"sort": "size"})
    assert refused.value.details[0].path == "sort"
    with pytest.raises(ValidationFailed):
        summary_filter({"state": "broken"})


def test_registry_paths_stay_under_the_installation() -> None:
    layout = Layout("tenant/prod")
    assert resolve(layout, "/") == "/tenant/prod"
    assert resolve(layout, "config/job") == "/tenant/prod/config/job"
    assert resolve(layout, "/config/job/") == "/tenant/prod/config/job"
    assert resolve(layout, "/tenant/prod/state") == "/tenant/prod/state"
    for bad in ("../other", "/tenant/prod/../x", "config//job", "a/./b", "a\x00b"):
        with pytest.raises(ValidationFailed):
            resolve(layout, bad)


def test_znode_data_is_shown_as_json_text_or_base64() -> None:
    assert render_data(b"") == ("empty", None)
    assert render_data(b'{"a": 1}') == ("json", {"a": 1})
    assert render_data(b"plain words") == ("text", "plain words")
    assert render_data(b"\xff\x00") == ("base64", "/wA=")


def test_children_are_sorted_and_paged() -> None:
    assert page_children(["c", "a", "b"], 1, 1) == (["b"], 3)
