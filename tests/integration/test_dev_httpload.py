"""``elasticjob.dev.httpload``: the benchmarks' light clients, against a real master over real HTTP."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from elasticjob.dev.httpload import Connection, post_all
from tests.support import MasterProcess

pytestmark = pytest.mark.zk

NEVER = "0 0 0 1 1 ? 2099"


def body(name: str, **overrides: object) -> dict[str, object]:
    return {"jobName": name, "cron": NEVER, "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 16,
            "appURL": f"http://app_host:8080/{name}.tar.gz", **overrides}


def test_post_all_registers_every_body_from_several_processes(api_master: MasterProcess, api: httpx.Client) -> None:
    prefix = f"load_{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}_{i}" for i in range(25)]
    seconds = post_all(api_master.url, "/job/register", [body(n) for n in names], clients=3,
                       authorization=api_master.authorization)
    assert seconds > 0
    listed = {job["jobName"] for job in api.get("/job/jobs").json()}
    assert set(names) <= listed


def test_post_all_raises_with_the_first_refusal(api_master: MasterProcess, api: httpx.Client) -> None:
    name = f"load_{uuid.uuid4().hex[:8]}"
    bodies = [body(name), body(f"{name}_bad", shardingTotalCount=0)]
    with pytest.raises(RuntimeError, match=r"^1 POST /job/register failed, the first: 4\d\d "):
        post_all(api_master.url, "/job/register", bodies, clients=2, authorization=api_master.authorization)
    assert api.get(f"/job/jobs/{name}").status_code == 200  # the good one went in


def test_a_connection_reads_answers_in_turn_on_one_socket(api_master: MasterProcess) -> None:
    name = f"load_{uuid.uuid4().hex[:8]}"
    connection = Connection(api_master.url, authorization=api_master.authorization)
    try:
        status, answer = connection.post_json("/job/register", json.dumps(body(name)).encode())
        assert (status, answer) == (204, b"")
        for _ in range(3):
            status, answer = connection.get(f"/job/jobs/{name}")
            assert status == 200 and json.loads(answer)["jobName"] == name
        status, answer = connection.get(f"/job/jobs/{name}_missing")
        assert status == 404 and "message" in json.loads(answer)
    finally:
        connection.close()
