"""Webhooks on a real cluster: a master, an agent and a receiver on loopback written here, which checks
every delivery's signature itself (HMAC-SHA256 over ``f"{t}."`` + body, computed with ``hmac``, not with
ElasticJob's code)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Cluster
from tests.support import build_tarball, wait_until

SECRET = "s3cret-webhook-key-0123456789"
EVERY_SECOND = "* * * * * ?"
NEVER = "0 0 0 1 1 ? 2099"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """An HTTP receiver on ``port``: answers ``status`` to every POST and keeps what it got, each with
    whether its signature verified (with ``secret``) and how far its timestamp was from the clock."""

    def __init__(self, port: int, secret: str = SECRET, status: int = 200) -> None:
        self.port = port
        self.secret = secret
        self.status = status
        self.got: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                header = self.headers.get("X-ElasticJob-Signature", "")
                parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
                stamp = int(parts.get("t", "0"))
                expected = hmac.new(receiver.secret.encode(), f"{stamp}.".encode() + body,
                                    hashlib.sha256).hexdigest()
                receiver.got.append({
                    "body": json.loads(body), "signed": hmac.compare_digest(expected, parts.get("v1", "")),
                    "skew": abs(time.time() - stamp), "delivery": self.headers.get("X-ElasticJob-Delivery"),
                    "event": self.headers.get("X-ElasticJob-Event"),
                    "attempt": int(self.headers.get("X-ElasticJob-Attempt", "0")),
                    "status": receiver.status,
                })
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def accepted(self, event: str) -> list[dict[str, Any]]:
        return [g for g in self.got if g["event"] == event and 200 <= g["status"] < 300]


class Hanging:
    """Accepts connections and never answers (nor closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def stop(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def _start(cluster: Cluster, tmp_path: Path, *master: str) -> None:
    tarball = build_tarball({"bin/run.sh": "#!/bin/sh\necho shard $ELASTICJOB_SHARDING_ITEM\n"},
                            tmp_path / "hooks.tar.gz", executable=("bin/run.sh",))
    cluster.start_master(*master)
    cluster.start_agent(cpus=2, mem=1024)
    cluster.wait_agents(1)
    app = {"appName": "hooks", "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh",
           "cpuCount": 0.1, "memoryMB": 16}
    with cluster.api as client:
        assert client.post("/app", json=app).status_code == 204


def _job(name: str, hooks: list[dict[str, Any]], cron: str = NEVER, shards: int = 2) -> dict[str, Any]:
    return {"jobName": name, "appName": "hooks", "cron": cron, "shardingTotalCount": shards,
            "cpuCount": 0.1, "memoryMB": 16, "webhooks": hooks}


def _deliveries(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    answer = client.get(f"/job/jobs/{name}/webhooks/deliveries")
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Total-Count"] == str(len(answer.json()))
    return answer.json()


def _trigger(client: httpx.Client, name: str) -> None:
    answer = client.post("/job/trigger", content=name.encode(), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 204, answer.text


def test_every_run_end_arrives_signed_and_the_secret_is_never_shown(cluster: Cluster, tmp_path: Path) -> None:
    receiver = Receiver(free_port()).start()
    try:
        _start(cluster, tmp_path)
        with cluster.api as client:
            hooks = [{"url": receiver.url, "events": ["start", "end"], "secret": SECRET}]
            assert client.post("/job/register", json=_job("ticks", hooks, NEVER)).status_code == 204
            # A client that reads the job and writes it back (the secret masked) keeps the secret.
            shown = client.get("/job/jobs/ticks").json()
            assert shown["webhooks"] == [{"url": receiver.url, "events": ["start", "end"], "secret": "******"}]
            shown = {k: v for k, v in shown.items() if k not in ("nextFireTime", "lastFireTime",
                                                                  "pendingFirings", "missedFirings")}
            answer = client.put("/job/update", json=shown | {"cron": EVERY_SECOND})
            assert answer.status_code == 204, answer.text
            wait_until(lambda: len(receiver.accepted("run.ended")) >= 4, 60, message="4 run ends delivered")
            assert client.post("/job/ticks/disable").status_code == 204
            time.sleep(3)  # the last run ends, and its delivery goes out

            runs = [r for r in client.get("/job/jobs/ticks/runs", params={"per_page": 100}).json()["runs"]
                    if r["status"] in ("SUCCESS", "FAILED")]
            wait_until(lambda: len(receiver.accepted("run.ended")) >= len(runs), 15, message="every end")
            ended = receiver.accepted("run.ended")
            assert {g["body"]["runId"] for g in ended} == {r["runId"] for r in runs}
            for got in receiver.got:
                assert got["signed"] and got["skew"] < 30, got
                assert got["delivery"] == got["body"]["deliveryId"]
            by_id = {r["runId"]: r for r in runs}
            for got in ended:  # as the runs API shows them (the disable may make a last firing MISSED)
                body, run = got["body"], by_id[got["body"]["runId"]]
                assert body["event"] == "run.ended" and body["jobName"] == "ticks"
                assert (body["status"], body["reason"]) == (run["status"], run["reason"])
                assert body["finishedAt"] is not None and body["firingId"] == run["firingId"]
                if run["status"] == "SUCCESS":
                    assert body["shards"] == {"total": 2, "succeeded": 2, "failed": 0, "active": 0}
                else:
                    assert body["shards"] == {"total": 2, "succeeded": 0, "failed": 2, "active": 0}
            assert sum(g["body"]["status"] == "SUCCESS" for g in ended) >= 4
            started = {g["body"]["runId"] for g in receiver.accepted("run.started")}
            assert {r["runId"] for r in runs if r["startedAt"]} <= started
            assert all(g["body"]["status"] in ("STARTING", "ACTIVE") for g in receiver.accepted("run.started"))

            log = _deliveries(client, "ticks")
            assert len(log) == len(receiver.got)  # one delivery per run and event, each delivered once
            assert all(d["status"] == "DELIVERED" and d["attempts"] == 1 and d["lastStatus"] == 200
                       for d in log), log
            assert [d["createdAt"] for d in log] == sorted((d["createdAt"] for d in log), reverse=True)
            page = client.get("/job/jobs/ticks/webhooks/deliveries", params={"page": 1, "per_page": 2})
            assert page.json() == log[:2] and 'rel="next"' in page.headers["Link"]

            answers = [client.get(path).text for path in (
                "/job/jobs/ticks", "/job/jobs", "/api/job/jobs/ticks", "/job/jobs/ticks/webhooks/deliveries",
                "/cluster/registry?path=config/job/ticks", "/openapi.json",
            )]
            metrics = client.get("/metrics").text
        assert all(SECRET not in text for text in answers)
        assert 'elasticjob_webhook_delivery_attempts_total{outcome="delivered"}' in metrics
        assert "elasticjob_webhook_pending_deliveries 0.0" in metrics
        assert SECRET not in cluster.masters[0].log()
    finally:
        receiver.stop()


def test_deliveries_missed_while_the_receiver_was_down_arrive_later(cluster: Cluster, tmp_path: Path) -> None:
    receiver = Receiver(free_port())  # not listening yet: connections are refused
    _start(cluster, tmp_path)
    try:
        with cluster.api as client:
            hooks = [{"url": receiver.url, "secret": SECRET}]
            assert client.post("/job/register", json=_job("down", hooks)).status_code == 204
            _trigger(client, "down")
            time.sleep(1.5)
            _trigger(client, "down")

            def retried() -> bool:
                log = _deliveries(client, "down")
                return len(log) == 2 and all(d["attempts"] >= 2 and d["status"] == "PENDING" for d in log)

            wait_until(retried, 30, message="both deliveries tried at least twice")
            log = _deliveries(client, "down")
            assert all("ConnectError" in d["lastError"] and d["lastStatus"] is None for d in log), log
            assert all(d["nextAttemptAt"] is not None for d in log)
            receiver.start()
            wait_until(lambda: len(receiver.accepted("run.ended")) == 2, 30, message="both arrive")
            log = _deliveries(client, "down")
        assert all(d["status"] == "DELIVERED" and d["attempts"] >= 3 and d["deliveredAt"] for d in log), log
        assert all(g["signed"] and g["attempt"] >= 3 for g in receiver.got)
        assert {g["delivery"] for g in receiver.got} == {d["id"] for d in log}
    finally:
        receiver.stop()


def test_a_receiver_that_never_answers_delays_no_firing(cluster: Cluster, tmp_path: Path) -> None:
    hanging = Hanging()
    _start(cluster, tmp_path, "--webhook-timeout", "1", "--webhook-retry-for", "4")
    try:
        with cluster.api as client:
            hooks = [{"url": hanging.url, "events": ["start", "end"], "secret": SECRET}]
            assert client.post("/job/register", json=_job("hang", hooks, EVERY_SECOND, 1)).status_code == 204

            def finished() -> list[dict[str, Any]]:
                runs = client.get("/job/jobs/hang/runs", params={"per_page": 100}).json()["runs"]
                return [r for r in runs if r["status"] == "SUCCESS"]

            wait_until(lambda: len(finished()) >= 10, 60, message="10 runs")
            assert client.post("/job/hang/disable").status_code == 204
            runs = finished()
            for run in runs:  # each run started at its instant, though every delivery hangs
                instant = dt.datetime.strptime(run["runId"][:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
                started = dt.datetime.fromisoformat(run["startedAt"])
                assert dt.timedelta(0) <= started - instant < dt.timedelta(seconds=1.5), run
            instants = sorted(run["runId"][:14] for run in runs)
            assert len(set(instants)) == len(instants)
            seconds = [dt.datetime.strptime(i, "%Y%m%d%H%M%S") for i in instants]
            assert all((b - a).total_seconds() == 1 for a, b in zip(seconds[-8:], seconds[-7:], strict=False))

            def given_up() -> list[dict[str, Any]]:
                return [d for d in _deliveries(client, "hang") if d["status"] == "FAILED"]

            wait_until(lambda: len(given_up()) >= 4, 30, message="deliveries given up")
            failed = given_up()
        assert all(d["attempts"] >= 2 and "Timeout" in d["lastError"] and "gave up" in d["lastError"]
                   for d in failed), failed
        assert len(hanging.held) >= 8  # each attempt connected, and waited for an answer in vain
    finally:
        hanging.stop()


def test_pending_deliveries_are_sent_after_a_master_restart(cluster: Cluster, tmp_path: Path) -> None:
    receiver = Receiver(free_port(), status=503).start()
    _start(cluster, tmp_path)
    try:
        with cluster.api as client:
            assert client.post("/job/register", json=_job("restart", [{"url": receiver.url, "secret": SECRET}])
                               ).status_code == 204
            _trigger(client, "restart")
            wait_until(lambda: [d for d in _deliveries(client, "restart") if d["attempts"] >= 1], 30,
                       message="a first attempt, refused with 503")
            log = _deliveries(client, "restart")
        assert log[0]["status"] == "PENDING" and log[0]["lastStatus"] == 503 and log[0]["lastError"] == "HTTP 503"
        master = cluster.masters[0]
        master.stop()
        receiver.status = 200
        master.start()
        with cluster.api as client:
            wait_until(lambda: receiver.accepted("run.ended"), 30, message="delivered by the restarted master")
            log = _deliveries(client, "restart")
        assert log[0]["status"] == "DELIVERED" and log[0]["attempts"] >= 2
        assert receiver.accepted("run.ended")[0]["delivery"] == log[0]["id"]
        assert all(g["signed"] for g in receiver.got)
    finally:
        receiver.stop()


def test_bad_webhook_configurations_are_refused_and_change_nothing(cluster: Cluster) -> None:
    cluster.start_master("--url-hosts", "hooks.example.com")
    good = {"url": "https://hooks.example.com/a", "secret": SECRET}
    job = {"jobName": "conf", "appURL": "https://hooks.example.com/app.tar.gz", "bootstrapScript": "run.sh",
           "cron": NEVER, "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 16}
    cases = [
        ([{"url": "ftp://hooks.example.com/a", "secret": SECRET}], "webhooks.0.url"),
        ([{"url": "file:///etc/passwd", "secret": SECRET}], "webhooks.0.url"),
        ([{"url": "http://127.0.0.1:9/x", "secret": SECRET}], "webhooks.0.url"),  # not in --url-hosts
        ([{"secret": SECRET}], "webhooks.0.url"),
        ([{"url": "https://hooks.example.com/a", "secret": "short"}], "webhooks.0.secret"),
        ([{"url": "https://hooks.example.com/a"}], "webhooks.0.secret"),
        ([{"url": "https://hooks.example.com/b", "secret": "******"}], "webhooks.0.secret"),  # none stored
        ([good | {"events": ["finish"]}], "webhooks.0.events.0"),
        ([good, good], "webhooks"),
        ([{"url": f"https://hooks.example.com/{i}", "secret": SECRET} for i in range(9)], "webhooks"),
    ]
    with cluster.api as client:
        for hooks, path in cases:
            answer = client.post("/job/register", json=job | {"webhooks": hooks})
            assert answer.status_code == 422, (hooks, answer.text)
            assert path in [d["path"] for d in answer.json()["details"]], (hooks, answer.json())
            assert client.get("/job/jobs/conf").status_code == 404
        assert client.post("/job/register", json=job | {"webhooks": [good]}).status_code == 204
        before = client.get("/job/jobs/conf").json()
        for hooks, path in cases:
            answer = client.put("/job/update", json=job | {"webhooks": hooks})
            assert answer.status_code == 422, (hooks, answer.text)
            assert path in [d["path"] for d in answer.json()["details"]], (hooks, answer.json())
        assert client.get("/job/jobs/conf").json() == before
        assert client.get("/job/jobs/conf/webhooks/deliveries").json() == []
        assert client.get("/job/jobs/nope/webhooks/deliveries").status_code == 404
        plain = client.post("/job/register", json=job | {"jobName": "plain"})
        assert plain.status_code == 204 and "webhooks" not in client.get("/job/jobs/plain").json()
