"""The master's HTTP API fuzzed from its own OpenAPI document with schemathesis.

A real master (with the session's auth file unless ``ELASTICJOB_TEST_AUTH=0``; every request carries the
admin's credentials, so every operation is reachable past the middleware; roles have their own tests in
``test_auth.py``) on the session's ZooKeeper, with one app and one job registered, serves
``/openapi.json``; schemathesis generates requests for every documented operation — valid ones and,
in its negative phases, invalid ones — and checks each answer:

* ``not_a_server_error``: no 5xx. Every error a client can cause is a 4xx JSON ``{"message", "details"}``;
  ``/leader`` may answer 503 while no leader is elected, as its schema says.
* ``response_schema_conformance``: an answer with a documented status has the documented body.

"Rejected requests change nothing", checked twice:

* around every write (any method but GET) the test lists every app's and job's configuration before and
  after; when the answer is a 4xx, the two must be equal. Nothing else writes configurations meanwhile
  (no agents, and firings touch runs, not configurations), so a difference is the rejected request's.
* the fuzzer's accepted writes do change the cluster (it registers apps and jobs of random names and
  deletes or disables whatever it names), so the app and job registered first are kept out of its reach:
  every generated string equal to one of their names is altered before it is sent. After the run both,
  and their disable markers, must read back exactly as they were.

Examples are bounded (``MAX_EXAMPLES`` per operation and mode, 64 operations): about forty seconds here.
``ELASTICJOB_FUZZ_EXAMPLES=400`` makes a deeper run by hand (CI found a 500 that forty examples had missed
in earlier runs).

Generated bodies that the validators refuse are expected in the positive phase too, and not counted as
failures: the document says what the validators accept where JSON Schema can (name alphabets, URL shapes,
ranges, enums), but not a cron expression's meaning, cross-field rules, or that an ``integer`` must not be
spelled ``3.0`` (JSON Schema calls ``3.0`` an integer; the strict models do not, on purpose).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support import ApiUsers, MasterProcess, wait_until

pytestmark = pytest.mark.zk

MAX_EXAMPLES = int(os.environ.get("ELASTICJOB_FUZZ_EXAMPLES", "40"))  # more for a deeper run by hand
CHECKS = [not_a_server_error, response_schema_conformance]
# Names the fuzzer must not reach: generated names that happen to equal them are replaced (see the hook).
APP = "fuzz_guard_app"
JOB = "fuzz_guard_job"
PROTECTED = {APP, JOB}
APP_BODY = {"appName": APP, "appURL": "https://artifacts.example.com/guard.tar.gz",
            "bootstrapScript": "bin/start.sh", "cpuCount": 0.1, "memoryMB": 32.0}
JOB_BODY = {"jobName": JOB, "appName": APP, "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": 2,
            "cpuCount": 0.1, "memoryMB": 32.0}


@pytest.fixture(scope="module")
def master(
    zk_hosts: str, tmp_path_factory: pytest.TempPathFactory, api_users: ApiUsers | None
) -> Iterator[MasterProcess]:
    started = MasterProcess(zk_hosts, f"fuzz-{uuid.uuid4().hex[:10]}", Path(tmp_path_factory.mktemp("fuzz")),
                            auth=api_users).start()
    with started.http() as api:
        wait_until(lambda: api.get("/leader").status_code == 200, 30, message="a leader")
        assert api.post("/app", json=APP_BODY).status_code == 204
        assert api.post("/job/register", json=JOB_BODY).status_code == 204
    yield started
    started.stop()


def _configs(api: httpx.Client) -> tuple[bytes, bytes]:
    """Every app's and job's configuration, as listed."""
    return api.get("/app/list").content, api.get("/job/jobs").content


def _snapshot(api: httpx.Client) -> dict[str, Any]:
    return {"app": api.get(f"/app/{APP}").json(), "job": api.get(f"/job/jobs/{JOB}").json(),
            "app_disabled": api.get(f"/app/{APP}/disable").json(), "job_disabled": api.get(f"/job/{JOB}/disable").json()}


@pytest.fixture(scope="module")
def before(master: MasterProcess) -> dict[str, Any]:
    with master.http() as api:
        return _snapshot(api)


def _away_from_protected(value: Any) -> Any:
    """``value`` with every string equal to a protected name replaced, at any depth."""
    if isinstance(value, str):
        return f"{value}_x" if value in PROTECTED else value
    if isinstance(value, dict):
        return {k: _away_from_protected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_away_from_protected(v) for v in value]
    return value


def _fuzz(operation: Any, mode: GenerationMode, api: httpx.Client, credentials: dict[str, str],
          failures: list[str]) -> None:
    """``credentials``: headers every generated request carries (the admin's ``Authorization``)."""
    base_url = str(api.base_url).rstrip("/")

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.path_parameters = _away_from_protected(case.path_parameters)
        case.query = _away_from_protected(case.query)
        if not isinstance(case.body, NotSet):
            case.body = _away_from_protected(case.body)
        writes = case.method.upper() != "GET"
        configs = _configs(api) if writes else None
        try:
            response = case.call(base_url=base_url, headers=credentials, timeout=30)
            case.validate_response(response, checks=CHECKS)
            if writes and 400 <= response.status_code < 500:
                assert _configs(api) == configs, f"answered {response.status_code}, yet changed the configuration"
        except Exception as failure:  # a failed check: keep it with the request that caused it
            failures.append(f"{operation.label} ({mode.value}): {failure}\n  {case.as_curl_command()}")
            raise

    before = len(failures)
    try:
        run()
    except Unsatisfiable:
        # Negative mode only: nothing of the operation can be made invalid (no body, and path parameters
        # are strings whatever they hold): there is no negative case to send.
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request can be generated"
    except Exception as error:  # a check's failure is recorded above; anything else is recorded here
        if len(failures) == before:
            failures.append(f"{operation.label} ({mode.value}): {type(error).__name__}: {error}")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_operation_answers_as_documented(master: MasterProcess, before: dict[str, Any],
                                               mode: GenerationMode) -> None:
    credentials = {"Authorization": master.authorization} if master.authorization else {}
    schema = schemathesis.openapi.from_url(f"{master.url}/openapi.json", headers=credentials)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50, "the document lists every operation"
    failures: list[str] = []
    with master.http() as api:
        for operation in operations:
            _fuzz(operation, mode, api, credentials, failures)
    assert not failures, "\n".join(dict.fromkeys(failures))  # one line per distinct failure


def test_the_guarded_app_and_job_are_unchanged(master: MasterProcess, before: dict[str, Any]) -> None:
    """Runs after every operation was fuzzed (pytest keeps the module's order)."""
    with master.http() as api:
        assert _snapshot(api) == before
    assert "Traceback" not in master.log(), "an error escaped into the master's log"
