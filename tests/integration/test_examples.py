"""The example apps as an agent would run them: built with examples/build.py, unpacked, every shard run.

The job and app definitions under examples/ drive the shards (count, parameters, job class), and are
checked against the API's models so the README's curl commands are known to be accepted.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import uuid
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from elasticjob.model import App, Job, JobType, parse_json_model, parse_sharding_item_parameters

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORDERS_CSV = EXAMPLES / "python-app" / "orders" / "data" / "orders.csv"


def _load_build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_build", EXAMPLES / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_module()


def _job(name: str) -> Job:
    return parse_json_model(Job, (EXAMPLES / "jobs" / name).read_bytes())


def _app(name: str) -> App:
    return parse_json_model(App, (EXAMPLES / "apps" / name).read_bytes())


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build.build_all(tmp_path_factory.mktemp("tarballs"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def sandboxes(tarballs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each tarball unpacked into a directory of its own, as the agent's sandbox."""
    unpacked = {}
    for name, tarball in tarballs.items():
        target = tmp_path_factory.mktemp(name)
        with tarfile.open(tarball) as archive:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse anything unsafe, like the agent
                archive.extractall(target, filter="data")
            else:
                archive.extractall(target)  # our own freshly built tarball
        unpacked[name] = target
    return unpacked


def shard_env(job: Job, item: int, **extra: str) -> dict[str, str]:
    """The environment the agent gives one shard of ``job``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELASTICJOB_")}
    env.update({
        "PYTHONDONTWRITEBYTECODE": "1",
        "ELASTICJOB_JOB_NAME": job.jobName,
        "ELASTICJOB_TASK_ID": f"{job.jobName}@-@{item}@-@READY@-@agent-1@-@{uuid.uuid4()}",
        "ELASTICJOB_SHARDING_TOTAL_COUNT": str(job.shardingTotalCount),
        "ELASTICJOB_SHARDING_ITEM": str(item),
        "ELASTICJOB_SHARDING_PARAMETER": job.sharding_parameters.get(item, ""),
        "ELASTICJOB_JOB_PARAMETER": job.jobParameter,
    })
    if job.jobType is not JobType.SCRIPT:
        assert job.jobClass is not None
        env.update({"ELASTICJOB_JOB_TYPE": job.jobType.value, "ELASTICJOB_JOB_CLASS": job.jobClass,
                    "ELASTICJOB_STREAMING_PROCESS": "true" if job.streamingProcess else "false"})
    env.update(extra)
    return env


def run_python_shard(sandbox: Path, job: Job, item: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elasticjob.sdk.runner"], cwd=sandbox,
                          env=shard_env(job, item), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, check=False)


def read_orders() -> list[dict[str, Any]]:
    with ORDERS_CSV.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# --- the definitions ------------------------------------------------------------------------------------


def test_job_and_app_definitions_are_valid_and_consistent() -> None:
    apps = {path.name: _app(path.name) for path in sorted((EXAMPLES / "apps").glob("*.json"))}
    jobs = {path.name: _job(path.name) for path in sorted((EXAMPLES / "jobs").glob("*.json"))}
    assert set(apps) == {"script-app.json", "python-app.json"}
    assert {"script-job.json", "python-job.json"} <= set(jobs)
    app_names = {app.appName for app in apps.values()}
    assert app_names == set(build.APPS)
    for job in jobs.values():
        assert job.appName in app_names
    for app in apps.values():
        assert app.appURL == f"http://127.0.0.1:8900/{app.appName}.tar.gz"
        assert (EXAMPLES / app.appName / app.bootstrapScript).is_file()  # a real script, not a placeholder

    script, python = jobs["script-job.json"], jobs["python-job.json"]
    assert (script.jobName, script.appName, script.cron, script.shardingTotalCount, script.jobType) == (
        "script_job", "script-app", "0/10 * * * * ?", 3, JobType.SCRIPT)
    assert script.sharding_parameters == {0: "Beijing", 1: "Shanghai", 2: "Guangzhou"}
    assert (script.cpuCount, script.memoryMB) == (0.1, 64)
    assert (python.jobName, python.appName, python.cron, python.shardingTotalCount, python.jobType) == (
        "order_report", "python-app", "0/15 * * * * ?", 4, JobType.SIMPLE)
    assert (python.jobClass, python.failover, python.cpuCount, python.memoryMB) == (
        "orders.jobs:OrderReport", True, 0.1, 128)


def test_data_set_has_forty_distinct_orders() -> None:
    orders = read_orders()
    assert len(orders) == 40
    assert len({row["order_id"] for row in orders}) == 40


# --- build.py -------------------------------------------------------------------------------------------


def test_build_is_reproducible_and_normalised(tarballs: dict[str, Path], tmp_path: Path) -> None:
    again = build.build_all(tmp_path / "again")
    for name, tarball in tarballs.items():
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        assert hashlib.sha256(again[name].read_bytes()).hexdigest() == digest
        with tarfile.open(tarball) as archive:
            members = archive.getmembers()
        names = [member.name for member in members]
        assert names == sorted(names)
        assert "bin/start.sh" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith(("/", "..")) for n in names)
        for member in members:
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
            assert member.mtime == build.FIXED_MTIME
            assert member.isdir() or member.isfile()
        start = next(m for m in members if m.name == "bin/start.sh")
        assert start.mode == 0o755


def test_build_cli_prints_the_tarball_paths(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "build.py"), str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60, check=True)
    expected = [str(tmp_path / "out" / f"{name}.tar.gz") for name in build.APPS]
    assert result.stdout.splitlines() == expected
    assert all(Path(path).is_file() for path in expected)


def test_build_refuses_symlinks(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "bin").mkdir(parents=True)
    (app / "bin" / "link").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="symlink"):
        build.build_app(app, tmp_path / "app.tar.gz")


# --- script-app -----------------------------------------------------------------------------------------


def test_every_script_shard_prints_its_own_item_and_parameter(sandboxes: dict[str, Path]) -> None:
    job = _job("script-job.json")
    bootstrap = sandboxes["script-app"] / _app("script-app.json").bootstrapScript
    assert os.access(bootstrap, os.X_OK)  # the exec bit survived build and unpack
    parameters = parse_sharding_item_parameters(job.shardingItemParameters)
    for item in range(job.shardingTotalCount):
        env = shard_env(job, item)
        result = subprocess.run([str(bootstrap)], cwd=sandboxes["script-app"], env=env,
                                capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout == (f"shard {item}/3 of script_job parameter={parameters[item]} "
                                 f"task={env['ELASTICJOB_TASK_ID']}\n")


def test_script_shard_without_context_fails_naming_the_variable(sandboxes: dict[str, Path]) -> None:
    env = shard_env(_job("script-job.json"), 0)
    del env["ELASTICJOB_SHARDING_ITEM"]
    result = subprocess.run([str(sandboxes["script-app"] / "bin" / "start.sh")], env=env,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "ELASTICJOB_SHARDING_ITEM" in result.stderr


# --- python-app -----------------------------------------------------------------------------------------

REPORT_LINE = re.compile(r"shard (\d+)/(\d+) of order_report parameter= orders=(\d+) total=(\d+\.\d\d) "
                         r"ids=([\d,]*)")


def test_order_report_shards_partition_the_orders_exactly(sandboxes: dict[str, Path]) -> None:
    job = _job("python-job.json")
    orders = {int(row["order_id"]): Decimal(row["amount"]) for row in read_orders()}
    seen: list[int] = []
    grand_total = Decimal("0")
    for item in range(job.shardingTotalCount):
        result = run_python_shard(sandboxes["python-app"], job, item)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        match = REPORT_LINE.fullmatch(result.stdout.rstrip("\n"))
        assert match, result.stdout
        shard, total_count, count, total, ids_text = match.groups()
        assert (int(shard), int(total_count)) == (item, 4)
        ids = [int(i) for i in ids_text.split(",") if i]
        assert len(ids) == int(count) == 10
        assert Decimal(total) == sum((orders[i] for i in ids), Decimal("0"))
        seen.extend(ids)
        grand_total += Decimal(total)
    assert sorted(seen) == sorted(orders)  # every order processed once across the 4 shards
    assert grand_total == sum(orders.values())


def test_pending_orders_dataflow_confirms_one_batch_per_shard(sandboxes: dict[str, Path]) -> None:
    job = _job("dataflow-job.json")
    assert (job.jobType, job.streamingProcess) == (JobType.DATAFLOW, False)
    pending = [int(row["order_id"]) for row in read_orders() if row["status"] == "PENDING"]
    confirmed: list[int] = []
    for item in range(job.shardingTotalCount):
        result = run_python_shard(sandboxes["python-app"], job, item)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result.stdout  # not streaming: one fetch, one batch
        match = re.fullmatch(rf"shard {item}/2 of pending_orders confirmed=(\d) ids=([\d,]+)", lines[0])
        assert match, lines[0]
        ids = [int(i) for i in match.group(2).split(",")]
        assert len(ids) == int(match.group(1)) == 3
        assert set(ids) <= set(pending)
        confirmed.extend(ids)
    assert len(set(confirmed)) == len(confirmed)  # the shards' batches do not overlap


def test_streaming_pending_orders_drains_every_pending_order(sandboxes: dict[str, Path]) -> None:
    job = _job("dataflow-job.json").model_copy(update={"streamingProcess": True})
    pending = sorted(int(row["order_id"]) for row in read_orders() if row["status"] == "PENDING")
    confirmed: list[int] = []
    for item in range(job.shardingTotalCount):
        result = run_python_shard(sandboxes["python-app"], job, item)
        assert result.returncode == 0, result.stderr
        for line in result.stdout.splitlines():
            confirmed.extend(int(i) for i in line.rpartition("ids=")[2].split(","))
    assert sorted(confirmed) == pending


def test_python_app_bootstrap_script_runs_the_report_through_the_runner(sandboxes: dict[str, Path]) -> None:
    """For a SCRIPT job against python-app (or by hand): bin/start.sh runs OrderReport the same way."""
    job = _job("python-job.json")
    env = shard_env(job, 2, PYTHON=sys.executable, ELASTICJOB_JOB_TYPE="SCRIPT")
    result = subprocess.run([str(sandboxes["python-app"] / "bin" / "start.sh")], cwd="/", env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert REPORT_LINE.fullmatch(result.stdout.rstrip("\n"))
    assert result.stdout.startswith("shard 2/4 of order_report ")


def test_example_readme_shows_the_registration_commands() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for fragment in ("POST", "/app", "/job/register", "@apps/script-app.json", "@jobs/python-job.json",
                     "8899", "8900", "python examples/build.py"):
        assert fragment in readme
    # every JSON file named in the README exists
    for name in re.findall(r"@((?:apps|jobs)/[\w.-]+\.json)", readme):
        assert (EXAMPLES / name).is_file(), name
