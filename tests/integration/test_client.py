"""``elasticjob.client`` against a real master (no agents: runs stay queued)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from elasticjob.client import ApiError, ElasticJobClient, MasterUnreachable, RunTimeout
from elasticjob.common.net import free_port
from tests.support import MasterProcess

pytestmark = pytest.mark.zk


@pytest.fixture(scope="module")
def client(api_master: MasterProcess) -> Iterator[ElasticJobClient]:
    # The admin's bearer token (the CLI's tests send its password).
    token = api_master.users.token if api_master.users is not None else None
    with ElasticJobClient(api_master.url, timeout=15, token=token) as made:
        yield made


def _job(client: ElasticJobClient) -> str:
    job_id = f"client-{uuid.uuid4().hex[:10]}"
    client.create_v1_job({"id": job_id, "run": {"cmd": "true", "cpus": 0.1, "mem": 32}})
    return job_id


def test_an_invalid_job_is_an_api_error_with_status_message_and_details(client: ElasticJobClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.create_v1_job({"id": "bad-job", "run": {"cmd": "true", "cpus": 0.1, "mem": 1}})
    assert (caught.value.status, caught.value.message) == (422, "Object is not valid")
    assert [d["path"] for d in caught.value.details] == ["/run/mem"]


def test_a_missing_job_names_its_id(client: ElasticJobClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.get_v1_job("no-such-job")
    assert (caught.value.status, caught.value.resource_id) == (404, "no-such-job")


def test_an_unreachable_master_says_how_to_point_at_one() -> None:
    with ElasticJobClient(f"http://127.0.0.1:{free_port()}") as dead, pytest.raises(MasterUnreachable) as caught:
        dead.list_jobs()
    assert "--url or ELASTICJOB_URL" in str(caught.value)


def test_start_run_with_env_finds_its_run_and_wait_for_run_times_out(client: ElasticJobClient) -> None:
    job_id = _job(client)
    plain = client.start_run(job_id)
    assert (plain.cause, plain.status, dict(plain.environment)) == ("MANUAL", "INITIAL", {})
    own = client.start_run(job_id, env={"MODE": "full"}, job_parameter="p")
    assert own.run_id != plain.run_id and dict(own.environment) == {"MODE": "full"} and own.job_parameter == "p"
    assert {r.run_id for r in client.list_runs(job_id).runs} == {plain.run_id, own.run_id}
    assert {r.id for r in client.list_v1_runs(job_id)} == {plain.run_id, own.run_id}

    seen = []
    with pytest.raises(TimeoutError) as caught:
        client.wait_for_run(job_id, own.run_id, timeout=0.5, poll=0.1, on_progress=seen.append)
    assert isinstance(caught.value, RunTimeout) and caught.value.run.run_id == own.run_id
    assert [run.status for run in seen] == ["INITIAL"]  # called once: nothing changed

    stopped = client.stop_v1_run(job_id, own.run_id)
    assert stopped.id == own.run_id
    done = client.wait_for_run(job_id, own.run_id, timeout=15, poll=0.1)
    assert done.status == "FAILED" and done.finished
    client.delete_run(job_id, own.run_id)
    assert [r.run_id for r in client.list_runs(job_id).runs] == [plain.run_id]


def test_schedules_round_trip(client: ElasticJobClient) -> None:
    job_id = _job(client)
    made = client.create_schedule(job_id, {"id": "nightly", "cron": "20 0 * * *"})
    assert made["nextRunAt"].endswith("T00:20:00.000+0000")
    assert client.list_schedules(job_id) == [made] == [client.get_schedule(job_id, "nightly")]
    assert client.update_schedule(job_id, "nightly", {"id": "nightly", "cron": "0 3 * * *"})["cron"] == "0 3 * * *"
    client.delete_schedule(job_id, "nightly")
    assert client.list_schedules(job_id) == []
    assert client.job_history(job_id)["successCount"] == 0
    client.delete_v1_job(job_id)
    assert job_id not in {j["id"] for j in client.list_v1_jobs()}
