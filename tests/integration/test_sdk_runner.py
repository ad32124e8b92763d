"""``python -m elasticjob.sdk.runner`` as the agent runs it: a real subprocess in an app sandbox.

The sandbox holds a small job module (written below) whose jobs record what they saw in files under
``out/`` (named by ``TEST_OUT``), so the tests can see contexts and count calls across the process boundary.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TASK_ID = "demo@-@1@-@READY@-@agent-7@-@6d2f7a3c-1b8e-4f0a-9c55-0e4b7d8a1f23"

JOBS_MODULE = '''
import os
import sys
import time
from pathlib import Path

from elasticjob.sdk import DataflowJob, ShardingContext, SimpleJob

OUT = Path(os.environ["TEST_OUT"])


def log(name, line=""):
    with (OUT / name).open("a") as stream:
        stream.write(f"{line}\\n")


def count(name):
    log(name)
    return len((OUT / name).read_text().splitlines())


def describe(context):
    return "|".join([context.job_name, context.task_id, str(context.sharding_total_count),
                     str(context.sharding_item), context.sharding_parameter, context.job_parameter])


class Report(SimpleJob):
    def execute(self, context):
        log("simple-class", describe(context))
        print(f"class shard {context.sharding_item} of {context.sharding_total_count}")


def report(context: ShardingContext) -> None:
    log("simple-function", describe(context))
    print(f"function shard {context.sharding_item}")


REPORT_INSTANCE = Report()


class Nested:
    class Job(SimpleJob):
        def execute(self, context):
            log("nested", describe(context))


class Countdown(DataflowJob):
    """Three non-empty batches, then nothing."""

    def fetch_data(self, context):
        calls = count("fetch")
        return [calls, context.sharding_item] if calls <= 3 else []

    def process_data(self, context, items):
        log("process", ",".join(map(str, items)))


class Endless(DataflowJob):
    def fetch_data(self, context):
        count("fetch")
        return ["a", "b"]

    def process_data(self, context, items):
        log("process", ",".join(items))


class Empty(DataflowJob):
    def fetch_data(self, context):
        count("fetch")
        return None

    def process_data(self, context, items):
        log("process", "should not happen")


class TupleBatches:
    """Duck-typed (no base class), returns tuples: still a batch of items."""

    def fetch_data(self, context):
        return ("x", "y") if count("fetch") == 1 else ()

    def process_data(self, context, items):
        log("process", repr(items))


class ReturnsNumber:
    def fetch_data(self, context):
        return 5

    def process_data(self, context, items):
        pass


class Boom(SimpleJob):
    def execute(self, context):
        helper_that_fails(context.sharding_item)


def helper_that_fails(item):
    raise ValueError(f"boom in shard {item}")


class FailingInit(SimpleJob):
    def __init__(self):
        raise RuntimeError("cannot connect to the database")

    def execute(self, context):
        pass


def hungry(context):
    raise MemoryError()


def really_hungry(context):
    hoard = bytearray(8 * 1024 ** 3)
    print(len(hoard))


def slow(context):
    try:
        log("started")
        print("working", flush=True)
        time.sleep(60)
    except Exception:
        log("swallowed")
    finally:
        log("finally")


def exits_cleanly(context):
    sys.exit(0)


def exits_badly(context):
    sys.exit(7)


class NeedsArgs:
    def __init__(self, dsn):
        self.dsn = dsn

    def execute(self, context):
        pass


class Abstract(SimpleJob):
    pass


class NoExecute:
    def run(self, context):
        pass


def takes_nothing():
    pass


NOT_A_JOB = 42
'''


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """An unpacked app: ``shardjobs.py`` at the root, more modules in ``src/`` and ``lib/``, broken ones."""
    app = tmp_path / "sandbox"
    (app / "src").mkdir(parents=True)
    (app / "lib" / "libpkg").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (app / "shardjobs.py").write_text(JOBS_MODULE)
    (app / "src" / "srcjobs.py").write_text("def run(context):\n    print('from src', context.job_name)\n")
    (app / "lib" / "libpkg" / "__init__.py").write_text("")
    (app / "lib" / "libpkg" / "jobs.py").write_text("def run(context):\n    print('from lib')\n")
    (app / "broken_dep.py").write_text(
        "import os\nimport no_such_dependency_xyz\n\ndef run(context):\n    pass\n")
    (app / "broken_syntax.py").write_text("def run(context)\n    pass\n")
    (app / "raises_on_import.py").write_text(
        "def load():\n    raise RuntimeError('settings.ini is missing')\n\nload()\n")
    return app


def _env(sandbox: Path, job_type: str | None, job_class: str | None, streaming: str | None = None,
         **overrides: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ELASTICJOB_")}
    env.update({
        "TEST_OUT": str(sandbox.parent / "out"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "ELASTICJOB_JOB_NAME": "demo",
        "ELASTICJOB_TASK_ID": TASK_ID,
        "ELASTICJOB_SHARDING_TOTAL_COUNT": "3",
        "ELASTICJOB_SHARDING_ITEM": "1",
        "ELASTICJOB_SHARDING_PARAMETER": "Shanghai",
        "ELASTICJOB_JOB_PARAMETER": "limit=5",
    })
    for key, value in {"ELASTICJOB_JOB_TYPE": job_type, "ELASTICJOB_JOB_CLASS": job_class,
                       "ELASTICJOB_STREAMING_PROCESS": streaming, **overrides}.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(sandbox: Path, job_type: str | None, job_class: str | None, streaming: str | None = None,
        **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elasticjob.sdk.runner"], cwd=sandbox,
        env=_env(sandbox, job_type, job_class, streaming, **overrides),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)


def out_lines(sandbox: Path, name: str) -> list[str]:
    path = sandbox.parent / "out" / name
    return path.read_text().splitlines() if path.exists() else []


def assert_config_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line, f"expected one line, got:\n{result.stderr}"
    assert line.startswith("elasticjob runner: ")
    assert "Traceback" not in line
    for fragment in fragments:
        assert fragment in line
    return line


EXPECTED_CONTEXT = f"demo|{TASK_ID}|3|1|Shanghai|limit=5"


# --- SIMPLE -------------------------------------------------------------------------------------------


def test_simple_class_is_instantiated_and_executed_with_the_context(sandbox: Path) -> None:
    result = run(sandbox, "SIMPLE", "shardjobs:Report")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "class shard 1 of 3\n"
    assert result.stderr == ""
    assert out_lines(sandbox, "simple-class") == [EXPECTED_CONTEXT]


def test_simple_function_is_called_with_the_context(sandbox: Path) -> None:
    result = run(sandbox, "simple", "shardjobs:report")  # the job type is case-insensitive
    assert result.returncode == 0, result.stderr
    assert result.stdout == "function shard 1\n"
    assert out_lines(sandbox, "simple-function") == [EXPECTED_CONTEXT]


def test_simple_instance_and_nested_class_are_resolved(sandbox: Path) -> None:
    assert run(sandbox, "SIMPLE", "shardjobs:REPORT_INSTANCE").returncode == 0
    assert out_lines(sandbox, "simple-class") == [EXPECTED_CONTEXT]
    assert run(sandbox, "SIMPLE", "shardjobs:Nested.Job").returncode == 0
    assert out_lines(sandbox, "nested") == [EXPECTED_CONTEXT]


def test_src_and_lib_directories_are_on_the_path(sandbox: Path) -> None:
    from_src = run(sandbox, "SIMPLE", "srcjobs:run")
    assert (from_src.returncode, from_src.stdout) == (0, "from src demo\n"), from_src.stderr
    from_lib = run(sandbox, "SIMPLE", "libpkg.jobs:run")
    assert (from_lib.returncode, from_lib.stdout) == (0, "from lib\n"), from_lib.stderr


def test_parameters_may_be_absent(sandbox: Path) -> None:
    result = run(sandbox, "SIMPLE", "shardjobs:Report",
                 ELASTICJOB_SHARDING_PARAMETER=None, ELASTICJOB_JOB_PARAMETER=None)
    assert result.returncode == 0, result.stderr
    assert out_lines(sandbox, "simple-class") == [f"demo|{TASK_ID}|3|1||"]


# --- DATAFLOW -----------------------------------------------------------------------------------------


def test_streaming_dataflow_processes_until_fetch_returns_nothing(sandbox: Path) -> None:
    result = run(sandbox, "DATAFLOW", "shardjobs:Countdown", "true")
    assert result.returncode == 0, result.stderr
    assert len(out_lines(sandbox, "fetch")) == 4  # three batches, then one empty fetch ends the loop
    assert out_lines(sandbox, "process") == ["1,1", "2,1", "3,1"]


def test_non_streaming_dataflow_fetches_and_processes_once(sandbox: Path) -> None:
    result = run(sandbox, "DATAFLOW", "shardjobs:Endless", "false")
    assert result.returncode == 0, result.stderr
    assert len(out_lines(sandbox, "fetch")) == 1
    assert out_lines(sandbox, "process") == ["a,b"]


def test_streaming_flag_defaults_to_false(sandbox: Path) -> None:
    result = run(sandbox, "DATAFLOW", "shardjobs:Countdown", None)
    assert result.returncode == 0, result.stderr
    assert (len(out_lines(sandbox, "fetch")), out_lines(sandbox, "process")) == (1, ["1,1"])


@pytest.mark.parametrize("streaming", ["true", "false"])
def test_empty_fetch_skips_processing_and_never_spins(sandbox: Path, streaming: str) -> None:
    result = run(sandbox, "DATAFLOW", "shardjobs:Empty", streaming)
    assert result.returncode == 0, result.stderr
    assert len(out_lines(sandbox, "fetch")) == 1
    assert out_lines(sandbox, "process") == []


def test_dataflow_accepts_duck_typed_classes_and_tuple_batches(sandbox: Path) -> None:
    result = run(sandbox, "DATAFLOW", "shardjobs:TupleBatches", "TRUE")
    assert result.returncode == 0, result.stderr
    assert len(out_lines(sandbox, "fetch")) == 2
    assert out_lines(sandbox, "process") == ["['x', 'y']"]


def test_fetch_data_returning_a_non_list_fails_the_job(sandbox: Path) -> None:
    result = run(sandbox, "DATAFLOW", "shardjobs:ReturnsNumber", "false")
    assert result.returncode == 1
    assert result.stderr.strip() == ("elasticjob runner: shardjobs:ReturnsNumber.fetch_data returned a int; "
                                     "expected a list of items")


# --- the job failing ------------------------------------------------------------------------------------


def test_an_exception_exits_1_with_the_jobs_own_traceback(sandbox: Path) -> None:
    result = run(sandbox, "SIMPLE", "shardjobs:Boom")
    assert result.returncode == 1
    stderr = result.stderr
    assert stderr.startswith("Traceback (most recent call last):")
    assert stderr.rstrip().endswith("ValueError: boom in shard 1")
    assert "shardjobs.py" in stderr and "helper_that_fails" in stderr
    assert "runner.py" not in stderr and "importlib" not in stderr  # the runner's frames are noise


def test_an_exception_in_the_constructor_is_a_job_failure(sandbox: Path) -> None:
    result = run(sandbox, "SIMPLE", "shardjobs:FailingInit")
    assert result.returncode == 1
    assert "RuntimeError: cannot connect to the database" in result.stderr
    assert "Traceback" in result.stderr


def test_an_exception_at_import_time_is_a_job_failure_with_traceback(sandbox: Path) -> None:
    result = run(sandbox, "SIMPLE", "raises_on_import:run")
    assert result.returncode == 1
    assert "RuntimeError: settings.ini is missing" in result.stderr
    assert "raises_on_import.py" in result.stderr
    assert "<frozen importlib" not in result.stderr


def test_sys_exit_zero_succeeds_and_non_zero_fails_with_status_1(sandbox: Path) -> None:
    assert run(sandbox, "SIMPLE", "shardjobs:exits_cleanly").returncode == 0
    bad = run(sandbox, "SIMPLE", "shardjobs:exits_badly")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "elasticjob runner: the job called sys.exit(7)"


# --- bad configuration: exit 2, one line ----------------------------------------------------------------


def test_missing_module_is_a_configuration_error(sandbox: Path) -> None:
    line = assert_config_error(run(sandbox, "SIMPLE", "no_such_module.jobs:Report"),
                               "cannot import module 'no_such_module.jobs'",
                               "no module named 'no_such_module'")
    assert str(sandbox) in line


def test_missing_dependency_of_the_module_names_it_and_where(sandbox: Path) -> None:
    assert_config_error(run(sandbox, "SIMPLE", "broken_dep:run"),
                        "cannot import module 'broken_dep'", "no_such_dependency_xyz", "broken_dep.py:2")


def test_syntax_error_in_the_module_is_a_configuration_error(sandbox: Path) -> None:
    assert_config_error(run(sandbox, "SIMPLE", "broken_syntax:run"),
                        "cannot import module 'broken_syntax'", "SyntaxError", "line 1")


def test_missing_attribute_is_named_with_a_suggestion(sandbox: Path) -> None:
    line = assert_config_error(run(sandbox, "SIMPLE", "shardjobs:Reprt"))
    assert line == ("elasticjob runner: ELASTICJOB_JOB_CLASS: 'shardjobs' has no attribute 'Reprt' "
                    "(did you mean 'Report'?)")
    assert_config_error(run(sandbox, "SIMPLE", "shardjobs:Nested.Jobb"), "'shardjobs:Nested'", "'Jobb'")


@pytest.mark.parametrize(("job_type", "job_class", "fragments"), [
    ("SIMPLE", "shardjobs:NOT_A_JOB", ("shardjobs:NOT_A_JOB is a int",)),
    ("SIMPLE", "shardjobs:NeedsArgs", ("cannot be created without arguments", "NeedsArgs(dsn)")),
    ("SIMPLE", "shardjobs:Abstract", ("is abstract", "execute")),
    ("SIMPLE", "shardjobs:NoExecute", ("has no method execute",)),
    ("SIMPLE", "shardjobs:takes_nothing", ("shardjobs:takes_nothing()", "(context)")),
    ("DATAFLOW", "shardjobs:report", ("a DATAFLOW job is a class",)),
    ("DATAFLOW", "shardjobs:Report", ("has no method fetch_data, process_data",)),
])
def test_wrong_kind_of_attribute_is_a_configuration_error(
        sandbox: Path, job_type: str, job_class: str, fragments: tuple[str, ...]) -> None:
    assert_config_error(run(sandbox, job_type, job_class, "false"), *fragments)


@pytest.mark.parametrize(("job_type", "job_class", "streaming", "overrides", "fragments"), [
    (None, "shardjobs:Report", None, {}, ("ELASTICJOB_JOB_TYPE is not set",)),
    ("SCRIPT", "shardjobs:Report", None, {}, ("'SCRIPT'", "SIMPLE and DATAFLOW jobs only")),
    ("SIMPLE", None, None, {}, ("ELASTICJOB_JOB_CLASS is not set",)),
    ("SIMPLE", "shardjobs.Report", None, {}, ("'shardjobs.Report' is not of the form",)),
    ("SIMPLE", "shardjobs:", None, {}, ("is not of the form",)),
    ("DATAFLOW", "shardjobs:Countdown", "yes", {}, ("ELASTICJOB_STREAMING_PROCESS='yes'",)),
    ("SIMPLE", "shardjobs:Report", None, {"ELASTICJOB_SHARDING_ITEM": None},
     ("ELASTICJOB_SHARDING_ITEM is not set",)),
    ("SIMPLE", "shardjobs:Report", None, {"ELASTICJOB_TASK_ID": ""}, ("ELASTICJOB_TASK_ID is empty",)),
    ("SIMPLE", "shardjobs:Report", None, {"ELASTICJOB_SHARDING_TOTAL_COUNT": "three"},
     ("ELASTICJOB_SHARDING_TOTAL_COUNT must be a non-negative integer",)),
    ("SIMPLE", "shardjobs:Report", None, {"ELASTICJOB_SHARDING_ITEM": "3"},
     ("ELASTICJOB_SHARDING_ITEM=3 is not below ELASTICJOB_SHARDING_TOTAL_COUNT=3",)),
])
def test_bad_environment_is_a_configuration_error_and_runs_nothing(
        sandbox: Path, job_type: str | None, job_class: str | None, streaming: str | None,
        overrides: dict[str, str | None], fragments: tuple[str, ...]) -> None:
    assert_config_error(run(sandbox, job_type, job_class, streaming, **overrides), *fragments)
    assert out_lines(sandbox, "simple-class") == [] and out_lines(sandbox, "fetch") == []


# --- memory and termination -----------------------------------------------------------------------------


def test_memory_error_exits_3(sandbox: Path) -> None:
    result = run(sandbox, "SIMPLE", "shardjobs:hungry")
    assert result.returncode == 3
    assert result.stderr.strip() == "elasticjob runner: memory limit exceeded"


def test_hitting_a_real_address_space_limit_exits_3(sandbox: Path) -> None:
    limit = 2 * 1024 ** 3  # the job asks for 8 GiB

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "elasticjob.sdk.runner"], cwd=sandbox,
        env=_env(sandbox, "SIMPLE", "shardjobs:really_hungry"), preexec_fn=cap_memory,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3, result.stderr
    assert "memory limit exceeded" in result.stderr


def test_sigterm_runs_finally_blocks_and_exits_143(sandbox: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "elasticjob.sdk.runner"], cwd=sandbox,
        env=_env(sandbox, "SIMPLE", "shardjobs:slow"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not out_lines(sandbox, "started"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, stderr
    assert stdout == "working\n"
    assert stderr.strip() == "elasticjob runner: terminated by SIGTERM"
    assert out_lines(sandbox, "finally") == [""]
    assert out_lines(sandbox, "swallowed") == []  # `except Exception` in the job does not stop termination


def test_runner_module_docstring_documents_the_exit_codes() -> None:
    from elasticjob.sdk import runner

    doc = textwrap.dedent(runner.__doc__ or "")
    for code in ("0 ", "1 ", "2 ", "3 ", "143 "):
        assert f"\n    {code}" in doc
    assert (runner.EXIT_OK, runner.EXIT_JOB_FAILED, runner.EXIT_BAD_CONFIGURATION,
            runner.EXIT_MEMORY_LIMIT, runner.EXIT_TERMINATED) == (0, 1, 2, 3, 143)
