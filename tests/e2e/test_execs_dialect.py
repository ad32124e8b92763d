"""Seeds ``002``/``003``'s jobs-with-execs API (``/v1/jobs``, beside Metronome's) on a real cluster: every
request and response example of the seeds (``seeds/002_003_execs.json``, copied verbatim from them) sent
and answered — the values the server makes (ids, exec ids, times, the creator, durations, the default
region) compared by shape — then Metronome's jobs beside these, what the API refuses, and job groups."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from elasticjob.security.secrets import hash_secret
from tests.e2e.conftest import Cluster
from tests.support import wait_until

SEED = json.loads((Path(__file__).parent / "seeds" / "002_003_execs.json").read_text())
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# What the server makes up, by the field's path: compared by shape, not value.
GENERATED = re.compile(r"(?:results\[\d+\]\.|job\.)?(?:id|job|created_at|updated_at|started_at|ended_at"
                       r"|created_by|region_name|duration\.\w+)")
TRUNCATED = set(SEED["truncated"])


def _shape(where: str, example: Any, actual: Any) -> None:
    name = where.rsplit(".", 1)[-1]
    if name in ("created_at", "updated_at", "started_at", "ended_at"):
        assert isinstance(actual, str) and dt.datetime.fromisoformat(actual).tzinfo is not None, (where, actual)
        assert re.fullmatch(r".*\.\d{6}\+00:00", actual), (where, actual)  # the seed's microseconds, +00:00
    elif name == "id" and isinstance(example, str):
        assert isinstance(actual, str) and UUID.fullmatch(actual), (where, actual)
    else:
        assert type(actual) is type(example), (where, actual)


def like(example: Any, actual: Any, exact: bool = True, path: str = "", but: dict[str, Any] | None = None) -> None:
    """``actual`` has ``example``'s fields (``exact``: and no others) with its values — generated ones by
    shape; ``but``: the fields (by path) to compare with these values instead of the example's."""
    where = path.lstrip(".")
    if but and where in but:
        assert actual == but[where], (where, actual, but[where])
    elif isinstance(example, dict):
        assert isinstance(actual, dict), (where, actual)
        if exact:
            assert set(actual) == set(example), (where, sorted(set(actual) ^ set(example)))
        for key, value in example.items():
            assert key in actual, f"{where}: no {key!r} in {sorted(actual)}"
            like(value, actual[key], exact, f"{path}.{key}", but)
    elif isinstance(example, list) and not exact:  # a list the seed cut short: the items it shows
        assert isinstance(actual, list) and len(actual) >= len(example), (where, actual)
        for index, one in enumerate(example):
            like(one, actual[index], True, f"{path}[{index}]", but)
    elif isinstance(example, list):
        assert isinstance(actual, list) and len(actual) == len(example), (where, actual)
        for index, one in enumerate(example):
            like(one, actual[index], exact, f"{path}[{index}]", but)
    elif example is not None and GENERATED.fullmatch(where):
        _shape(where, example, actual)
    else:
        assert actual == example, (where, actual, example)


def _exec(api: httpx.Client, job_id: int, exec_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/jobs/{job_id}/execs/{exec_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _ended(api: httpx.Client, job_id: int, exec_id: str) -> dict[str, Any] | None:
    found = _exec(api, job_id, exec_id)
    return found if found["status"] in ("F", "E") else None


def test_the_seeds_examples_are_answered(cluster: Cluster) -> None:
    master = cluster.start_master()
    cluster.start_agent(cpus=2, mem=2048)
    cluster.wait_agents(1)
    with master.http() as api:
        # POST /v1/jobs with the seed's body: the seed's answer. The seed's example answers a job created with
        # a schedule (its request has none): those two fields are the request's here.
        sent = SEED["create_request"]
        unscheduled = {"schedule_mode": None, "is_schedule_active": False}
        created = api.post("/v1/jobs", json=sent)
        assert created.status_code == 201, created.text
        like(SEED["create_response"], created.json(), but=unscheduled)
        assert "not used" in created.headers["warning"]  # the image: kept and shown, not run
        job_id = created.json()["id"]
        assert created.json()["region_name"] == "default"  # none sent
        assert created.json()["created_by"]  # the suite's admin
        assert api.get(f"/job/jobs/chennanfei.{job_id}").json()["dialect"] == "execs"

        # GET /v1/jobs/{id}: the same job.
        got = api.get(f"/v1/jobs/{job_id}")
        assert got.status_code == 200, got.text
        like(SEED["get_response"], got.json(), but=unscheduled)
        assert got.json()["created_at"] == created.json()["created_at"]

        # PUT /v1/jobs/{id} with the seed's partial body: the seed's answer (the repo is kept).
        updated = api.put(f"/v1/jobs/{job_id}", json=SEED["update_request"])
        assert updated.status_code == 200, updated.text
        like(SEED["update_response"], updated.json())
        assert updated.json()["updated_at"] > created.json()["updated_at"]
        assert api.get(f"/job/jobs/chennanfei.{job_id}").json()["memoryMB"] == 128  # XS

        # GET /v1/jobs?namespace=: the seed's list counts 5 and shows the first (the updated job).
        for index in range(4):
            more = api.post("/v1/jobs", json={**sent, "name": f"more-{index}"})
            assert more.status_code == 201, more.text
            assert more.json()["id"] == job_id + index + 1  # the counter's next numbers
        listed = api.get("/v1/jobs", params={"namespace": "chennanfei"})
        assert listed.status_code == 200, listed.text
        like(SEED["list_response"], listed.json(), exact=False)
        assert set(listed.json()) == set(SEED["list_response"])
        assert all(set(job) == set(SEED["get_response"]) for job in listed.json()["results"])
        paged = api.get("/v1/jobs", params={"namespace": "chennanfei", "page_size": 2, "page": 2}).json()
        assert [j["id"] for j in paged["results"]] == [job_id + 2, job_id + 3]
        assert paged["next"].endswith("/v1/jobs?namespace=chennanfei&page_size=2&page=3"), paged
        assert paged["previous"].endswith("/v1/jobs?namespace=chennanfei&page_size=2"), paged

        # POST /v1/jobs/{id}/execs: the seed's answer, W (waiting). The seed's command, "/bin bash", is no
        # command a shell runs ("/bin" is a directory): the exec ends E.
        started = api.post(f"/v1/jobs/{job_id}/execs")
        assert started.status_code == 201, started.text
        like(SEED["exec_create_response"], started.json(), but={"job": job_id})
        failed = wait_until(lambda: _ended(api, job_id, started.json()["id"]), 60, message="the exec ended")
        assert failed["status"] == "E", failed

        # The seed's execs that finished (F) ran a command that succeeds: this job's now, two lines apart.
        command = "echo first; sleep 1.2; echo second"
        assert api.put(f"/v1/jobs/{job_id}", json={"command": command}).status_code == 200
        second = api.post(f"/v1/jobs/{job_id}/execs")
        assert second.status_code == 201 and second.json()["status"] == "W", second.text
        exec_id = second.json()["id"]
        done = wait_until(lambda: _ended(api, job_id, exec_id), 60, message="the exec ended")
        assert done["status"] == "F", done

        # GET /v1/jobs/{id}/execs: both, newest first.
        execs = api.get(f"/v1/jobs/{job_id}/execs")
        assert execs.status_code == 200, execs.text
        like(SEED["exec_list_response"], execs.json(), exact=False, but={"results[0].command": command})
        assert [e["id"] for e in execs.json()["results"]] == [exec_id, started.json()["id"]]
        assert set(execs.json()["results"][1]) == set(SEED["exec_create_response"])
        duration = execs.json()["results"][0]["duration"]
        assert duration["hours"] == 0 and duration["minutes"] == 0 and 1 <= duration["seconds"] <= 30

        # GET /v1/jobs/{id}/execs/{exec_id}: the exec with its job nested (runtime_vars as a JSON string).
        detail = _exec(api, job_id, exec_id)
        like(SEED["exec_get_response"], detail, exact=False,
             but={"command": command, "job.command": command, "job.id": job_id})
        assert set(detail) == set(SEED["exec_create_response"])  # the exec's fields, job nested
        assert json.loads(detail["job"]["runtime_vars"]) == {"DB_HOST": "127.0.0.1"}

        # GET .../execs/{exec_id}/logs?start_time=&end_time=: the lines, their times within the run's.
        logs = api.get(f"/v1/jobs/{job_id}/execs/{exec_id}/logs")
        assert logs.status_code == 200, logs.text
        lines = logs.json()
        assert [line["message"] for line in lines] == ["first", "second"], lines
        like(SEED["exec_logs_response"][:1], lines[:1], exact=False, but={"[0].message": "first",
                                                                         "[0].time": lines[0]["time"]})
        begin = int(dt.datetime.fromisoformat(detail["started_at"]).timestamp())
        end = int(dt.datetime.fromisoformat(detail["ended_at"]).timestamp())
        assert all(isinstance(line["time"], int) and begin - 1 <= line["time"] <= end + 1 for line in lines)
        first, last = lines[0]["time"], lines[1]["time"]
        assert last > first  # 1.2 s apart
        window = f"/v1/jobs/{job_id}/execs/{exec_id}/logs"
        assert [li["message"] for li in api.get(window, params={"start_time": last}).json()] == ["second"]
        assert [li["message"] for li in api.get(window, params={"end_time": first}).json()] == ["first"]
        assert api.get(window, params={"start_time": first, "end_time": last}).json() == lines
        assert api.get(window, params={"start_time": last + 1}).json() == []

        # DELETE /v1/jobs/{id}/execs/{exec_id}: 204, the record is gone.
        removed = api.delete(f"/v1/jobs/{job_id}/execs/{exec_id}")
        assert removed.status_code == 204 and removed.content == b"", removed.text
        assert api.get(f"/v1/jobs/{job_id}/execs/{exec_id}").status_code == 404
        assert api.get(f"/v1/jobs/{job_id}/execs").json()["count"] == 1

        # DELETE /v1/jobs/{id}: 204, the job is gone.
        deleted = api.delete(f"/v1/jobs/{job_id}")
        assert deleted.status_code == 204 and deleted.content == b"", deleted.text
        assert api.get(f"/v1/jobs/{job_id}").status_code == 404
        assert api.get(f"/job/jobs/chennanfei.{job_id}").status_code == 404
        assert api.get("/v1/jobs", params={"namespace": "chennanfei"}).json()["count"] == 4


def test_the_seeds_two_texts_differ_only_where_noted() -> None:
    """002 and 003 are the same API: their exec examples differ only in the image repository (002's
    ``index.alauda.io``, not the job's); 003 adds the logs."""
    for name in ("exec_list_response", "exec_get_response"):
        older, newer = json.dumps(SEED[f"{name}_002"]), json.dumps(SEED[name])
        assert older.replace("alauda.io", "alauda.cn") == newer
    assert len(SEED["verbatim"]["003"]) == len(SEED["verbatim"]["002"]) + 1


METRONOME_JOB = {"id": "metro.nightly", "description": "a Metronome job",
                 "run": {"cmd": "true", "cpus": 0.1, "mem": 32}}
EXECS_JOB = {"name": "每日报表", "namespace": "reports", "command": "true"}


def test_metronome_and_execs_jobs_share_v1_jobs(cluster: Cluster) -> None:
    master = cluster.start_master()
    with master.http() as api:
        metronome = api.post("/v1/jobs", json=METRONOME_JOB)
        assert metronome.status_code == 201, metronome.text
        assert metronome.json()["id"] == "metro.nightly" and "run" in metronome.json()
        execs = api.post("/v1/jobs", json=EXECS_JOB)
        assert execs.status_code == 201, execs.text
        number = execs.json()["id"]
        assert isinstance(number, int) and execs.json()["name"] == "每日报表"
        assert "warning" not in execs.headers  # no image: nothing to warn of
        assert execs.json()["resource_size"] == "XXS" and execs.json()["region_name"] == "default"

        # Each answers in its own shape; Metronome's list (no ?namespace=) is Metronome's.
        assert set(api.get("/v1/jobs/metro.nightly").json()) == {"id", "description", "labels", "run"}
        assert set(api.get(f"/v1/jobs/{number}").json()) == set(SEED["get_response"])
        assert set(api.get(f"/v1/jobs/reports.{number}").json()) == set(SEED["get_response"])
        listed = api.get("/v1/jobs")
        assert listed.status_code == 200 and isinstance(listed.json(), list)
        assert all({"id", "run"} <= set(job) for job in listed.json())
        assert {job["id"] for job in listed.json()} == {"metro.nightly", f"reports.{number}"}
        assert api.get("/v1/jobs", params={"embed": "activeRuns"}).status_code == 200
        only = api.get("/v1/jobs", params={"namespace": "reports"}).json()
        assert [job["id"] for job in only["results"]] == [number]
        assert api.get("/v1/jobs", params={"namespace": "metro"}).json()["count"] == 0  # not of this API

        # Metronome's writes are Metronome's; a Metronome error keeps its shape.
        again = api.put("/v1/jobs/metro.nightly", json={**METRONOME_JOB, "description": "changed"})
        assert again.status_code == 200 and again.json()["description"] == "changed", again.text
        bad = api.post("/v1/jobs", json={"id": "metro.bad", "run": {"cmd": "true", "cpus": 0.1, "mem": 1}})
        assert bad.status_code == 422 and bad.json()["message"] == "Object is not valid", bad.text
        assert bad.json()["details"][0]["path"] == "/run/mem"
        assert api.get("/v1/jobs/metro.nightly/execs").status_code == 404  # no execs of a Metronome job
        assert api.post(f"/v1/jobs/{number}/runs").status_code == 404  # Metronome knows no job "{number}"

        # An exec with runtime_vars of its own: on top of the job's, for it only.
        started = api.post(f"/v1/jobs/{number}/execs", json={"runtime_vars": {"DAY": "monday"}})
        assert started.status_code == 201, started.text
        assert started.json()["runtime_vars"] == {"DAY": "monday"} and started.json()["trigger_mode"] == "M"
        assert UUID.fullmatch(started.json()["id"]) and uuid.UUID(started.json()["id"]).version == 8
        assert api.get(f"/v1/jobs/{number}").json()["runtime_vars"] == {}
        # Not finished (no agent): its record cannot be deleted yet.
        kept = api.delete(f"/v1/jobs/{number}/execs/{started.json()['id']}")
        assert kept.status_code == 409, kept.text

        # A schedule: ISO 8601 repeating, on the native job.
        scheduled = api.put(f"/v1/jobs/{number}", json={"schedule_mode": "R/2099-01-01T00:00:00Z/PT1H"})
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["schedule_mode"] == "R/2099-01-01T00:00:00Z/PT1H"
        assert scheduled.json()["is_schedule_active"] is True
        native = api.get(f"/job/jobs/reports.{number}").json()
        assert native["cron"] == "R/2099-01-01T00:00:00Z/PT1H" and native["cronDialect"] == "ISO8601"

        # Numbers are given once, whichever master creates the job and however many at once.
        follower = cluster.start_master()
        with follower.http() as other, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: (api, other)[i % 2].post("/v1/jobs", json=EXECS_JOB), range(8)))
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        assert sorted(a.json()["id"] for a in answers) == list(range(number + 1, number + 9))
        for answer in answers:
            assert api.delete(f"/v1/jobs/{answer.json()['id']}").status_code == 204

        # Each goes as its dialect says: Metronome's DELETE answers the job, this one's 204.
        assert api.delete(f"/v1/jobs/{number}").status_code == 204
        gone = api.delete("/v1/jobs/metro.nightly")
        assert gone.status_code == 200 and gone.json()["id"] == "metro.nightly"
        assert api.get("/v1/jobs").json() == []


def test_what_this_api_refuses_changes_nothing(cluster: Cluster) -> None:
    master = cluster.start_master()
    with master.http() as api:
        job = api.post("/v1/jobs", json=EXECS_JOB)
        assert job.status_code == 201, job.text
        number = job.json()["id"]
        before = api.get("/job/jobs").json()
        bad_bodies = [
            ({"name": "x", "command": "true"}, "namespace"),
            ({**EXECS_JOB, "namespace": "a.b"}, "namespace"),
            ({**EXECS_JOB, "namespace": "with space"}, "namespace"),
            ({**EXECS_JOB, "resource_size": "XXL"}, "resource_size"),
            ({**EXECS_JOB, "runtime_vars": {"1A": "x"}}, "runtime_vars.1A"),
            ({**EXECS_JOB, "runtime_vars": {"A": 1}}, "runtime_vars.A"),
            ({**EXECS_JOB, "schedule_mode": "every hour"}, "schedule_mode"),
            ({**EXECS_JOB, "schedule_mode": "R1/2015-12-31T16:00:23.446Z/PT1H"}, "schedule_mode"),  # passed
            ({**EXECS_JOB, "is_schedule_active": "yes"}, "is_schedule_active"),
            ({**EXECS_JOB, "command": ""}, "command"),
            ({**EXECS_JOB, "email_enabled": True}, "email_enabled"),
        ]
        for body, field in bad_bodies:
            refused = api.post("/v1/jobs", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert set(refused.json()) == {"message", "details"}, refused.text
            assert field in {d["path"] for d in refused.json()["details"]}, (field, refused.json())
        bad_updates = [
            ({"namespace": "elsewhere"}, "namespace"),
            ({"name": None}, "name"),
            ({"resource_size": "XXXL"}, "resource_size"),
            ({"schedule_mode": "R/2015-01-01T00:00:00Z/PT1H/x"}, "schedule_mode"),
            ({"id": 7}, "id"),
        ]
        for body, field in bad_updates:
            refused = api.put(f"/v1/jobs/{number}", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert field in {d["path"] for d in refused.json()["details"]}, (field, refused.json())
        assert api.put(f"/v1/jobs/{number}", content=b"{").status_code == 422
        assert api.put(f"/v1/jobs/{number}", json={"namespace": "reports"}).status_code == 200  # its own
        # Execs: an id that is no exec of ours, bad parameters, bad bodies.
        missing = api.get(f"/v1/jobs/{number}/execs/64b2d045-2881-4293-9bcd-bdc04b953115")
        assert missing.status_code == 404 and set(missing.json()) == {"message", "details"}, missing.text
        assert api.get(f"/v1/jobs/{number}/execs/not-a-uuid").status_code == 404
        assert api.get(f"/v1/jobs/{number}/execs/20990101-0000-8000-8000-000100000000").status_code == 404
        assert api.get(f"/v1/jobs/{number + 1000}/execs").status_code == 404
        assert api.post(f"/v1/jobs/{number}/execs", json={"runtime_vars": {"A B": "x"}}).status_code == 422
        assert api.post(f"/v1/jobs/{number}/execs", json=["x"]).status_code == 422
        page = api.get(f"/v1/jobs/{number}/execs", params={"page_size": 0})
        assert page.status_code == 422 and page.json()["details"][0]["path"] == "page_size"
        some = "20990101-0000-8000-8000-000100000000"
        for params in ({"start_time": "soon"}, {"end_time": "1.5"}):
            refused = api.get(f"/v1/jobs/{number}/execs/{some}/logs", params=params)
            assert refused.status_code == 422, refused.text
            assert refused.json()["details"][0]["path"] == next(iter(params))
        assert api.get("/v1/jobs", params={"namespace": "a.b"}).status_code == 422
        assert api.get("/v1/jobs", params={"namespace": "reports", "page": "x"}).status_code == 422
        after = api.get("/job/jobs").json()
        assert after == before, (before, after)  # the job's configuration as it was (its metadata aside)
        # A refused creation takes no number: the next one is the next.
        assert api.post("/v1/jobs", json=EXECS_JOB).json()["id"] == number + 1


def _auth_file(tmp_path: Path, password: str) -> Path:
    hashed = hash_secret(password)
    path = tmp_path / "auth.toml"
    path.write_text(
        f'[[users]]\nname = "root"\nrole = "admin"\npassword_hash = "{hashed}"\n\n'
        f'[[users]]\nname = "mkt"\nrole = "admin"\npassword_hash = "{hashed}"\ngroups = ["marketing"]\n'
    )
    return path


def test_a_user_confined_to_a_group_sees_only_its_namespaces_execs_jobs(cluster: Cluster, tmp_path: Path) -> None:
    password = "a long enough password"
    master = cluster.start_master("--auth-file", str(_auth_file(tmp_path, password)))
    root = httpx.Client(base_url=master.url, timeout=15, auth=("root", password))
    mkt = httpx.Client(base_url=master.url, timeout=15, auth=("mkt", password))
    try:
        theirs = root.post("/v1/jobs", json={**EXECS_JOB, "namespace": "billing"})
        assert theirs.status_code == 201, theirs.text
        other = theirs.json()["id"]
        ours = mkt.post("/v1/jobs", json={**EXECS_JOB, "namespace": "marketing"})
        assert ours.status_code == 201, ours.text
        own = ours.json()["id"]
        assert ours.json()["created_by"] == "mkt"

        assert mkt.get(f"/v1/jobs/{own}").status_code == 200
        assert mkt.post(f"/v1/jobs/{own}/execs").status_code == 201
        # The other namespace's job does not exist for them, whatever they do with it.
        for method, path, body in (
            ("GET", f"/v1/jobs/{other}", None),
            ("PUT", f"/v1/jobs/{other}", {"name": "mine now"}),
            ("DELETE", f"/v1/jobs/{other}", None),
            ("POST", f"/v1/jobs/{other}/execs", None),
            ("GET", f"/v1/jobs/{other}/execs", None),
        ):
            refused = mkt.request(method, path, json=body)
            assert refused.status_code == 404, (method, path, refused.text)
        # By its native name the middleware refuses it, as every path that names a job of another group.
        assert mkt.get(f"/v1/jobs/billing.{other}").status_code == 403
        assert mkt.post("/v1/jobs", json={**EXECS_JOB, "namespace": "billing"}).status_code == 403
        assert mkt.get("/v1/jobs", params={"namespace": "billing"}).json()["count"] == 0
        assert [j["id"] for j in mkt.get("/v1/jobs", params={"namespace": "marketing"}).json()["results"]] \
            == [own]
        # A number that is no execs job is a Metronome id, checked as a name (in the default group).
        assert mkt.get("/v1/jobs/424242").status_code == 403
        # Nothing of theirs changed.
        kept = root.get(f"/v1/jobs/{other}")
        assert kept.status_code == 200 and kept.json()["name"] == EXECS_JOB["name"]
        assert root.get(f"/v1/jobs/{other}/execs").json()["count"] == 0
    finally:
        root.close()
        mkt.close()
