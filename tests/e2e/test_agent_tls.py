"""The master–agent link over TLS with a join token, against real master and agent processes.

An agent holding the token and trusting the master's CA registers and runs shards; one without the token
(or with a wrong one), one trusting another CA, and — with mutual TLS — one without a client certificate
or with a certificate of another CA never hold a stream on the leader, never get a task, and say why in
their logs. A master refuses to expose plaintext or tokenless gRPC beyond loopback, and names the flag
of a bad certificate or key.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from elasticjob.common.net import free_port
from elasticjob.protocol import agent_pb2 as pb
from elasticjob.protocol import agent_pb2_grpc as pb_grpc
from elasticjob.security.jointoken import token_metadata
from tests.e2e.conftest import Cluster
from tests.support import AgentProcess, build_tarball, wait_until


def _elasticjob(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "elasticjob", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def _certs(directory: Path, *extra: str) -> Path:
    """A CA, master and agent certificates and a join token, made by ``elasticjob certs``."""
    done = _elasticjob("certs", str(directory), "--hosts", "127.0.0.1,localhost", *extra)
    assert done.returncode == 0, done.stderr
    return directory


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    return _certs(tmp_path / "pki")


@pytest.fixture
def other_pki(tmp_path: Path) -> Path:
    """A second, unrelated CA with its own certificates: trusted by nobody here."""
    return _certs(tmp_path / "other-pki")


def _master_tls(pki: Path, *, mutual: bool = False) -> tuple[str, ...]:
    args = ("--grpc-tls-cert", str(pki / "master.pem"), "--grpc-tls-key", str(pki / "master-key.pem"),
            "--agent-token-file", str(pki / "join-token"))
    return (*args, "--grpc-client-ca", str(pki / "ca.pem")) if mutual else args


def _agent_tls(pki: Path, *, token: Path | None = None, client_cert: Path | None = None) -> tuple[str, ...]:
    """An agent's flags: trust ``pki``'s CA, present ``token`` (default: ``pki``'s) and, for mutual TLS,
    the client certificate of ``client_cert``'s PKI."""
    args = ("--master-ca", str(pki / "ca.pem"), "--join-token-file", str(token or pki / "join-token"))
    if client_cert is not None:
        args += ("--tls-cert", str(client_cert / "agent.pem"), "--tls-key", str(client_cert / "agent-key.pem"))
    return args


def _connected(cluster: Cluster) -> float:
    """The leader's ``elasticjob_connected_agents``: the agent streams it holds."""
    for line in cluster.masters[0].get("/metrics", timeout=5).text.splitlines():
        if line.startswith("elasticjob_connected_agents "):
            return float(line.split()[1])
    raise AssertionError("no elasticjob_connected_agents metric")


def _refused(agent: AgentProcess, reason: str, times: int = 2) -> None:
    """Until ``agent``'s log says ``times`` times that the master refused it, giving ``reason``."""
    wait_until(lambda: agent.log().count(reason) >= times, 40, interval=0.3,
               message=f"{agent.log_path.name} says {reason!r} {times} times")
    assert "connected to leader" not in agent.log()


def _run_shards(cluster: Cluster, tmp_path: Path, job: str = "hello", shards: int = 2) -> list[dict[str, Any]]:
    """Register an app and a job of ``shards`` shards, trigger it, return its executions once all
    finished."""
    tarball = build_tarball({"run.sh": "#!/bin/sh\necho shard $ELASTICJOB_SHARDING_ITEM\n"},
                            tmp_path / f"{job}.tar.gz", executable=("run.sh",))
    with cluster.api as client:
        app = {"appName": job, "appURL": tarball.as_uri(), "bootstrapScript": "./run.sh", "cpuCount": 0.1,
               "memoryMB": 32}
        assert client.post("/app", json=app).status_code == 204
        body = {"jobName": job, "appName": job, "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": shards,
                "cpuCount": 0.1, "memoryMB": 32}
        assert client.post("/job/register", json=body).status_code == 204
        headers = {"Content-Type": "text/plain"}
        assert client.post("/job/trigger", content=job.encode(), headers=headers).status_code == 204

        def finished() -> list[dict[str, Any]]:
            rows = client.get("/job/events/executions", params={"jobName": job, "per_page": 100}).json()["rows"]
            done = [r for r in rows if r["state"] == "FINISHED"]
            return done if len(done) == shards else []

        return wait_until(finished, 60, interval=0.3, message=f"{shards} shards of {job} FINISHED")


def _agent_of(row: dict[str, Any]) -> str:
    return row["taskId"].split("@-@")[3]


def test_an_agent_with_the_token_and_the_ca_registers_and_runs_shards_over_tls(
    cluster: Cluster, pki: Path, tmp_path: Path
) -> None:
    master = cluster.start_master(*_master_tls(pki))
    assert "(TLS, join token)" in master.log()
    agent = cluster.start_agent(agent_id="trusted", extra=_agent_tls(pki))
    # The token may come from the environment instead of a file.
    from_env = cluster.start_agent(agent_id="from-env", extra=("--master-ca", str(pki / "ca.pem")),
                                   env={"ELASTICJOB_JOIN_TOKEN": _token(pki)})
    cluster.wait_agents(2)
    assert "gRPC TLS, join token" in agent.log() and "gRPC TLS, join token" in from_env.log()
    rows = _run_shards(cluster, tmp_path, shards=4)
    assert sorted(r["shardingItem"] for r in rows) == [0, 1, 2, 3]
    assert {_agent_of(r) for r in rows} <= {"trusted", "from-env"}
    assert all(r["success"] for r in rows)
    # The link really is TLS: a plaintext client gets no stream at all.
    with grpc.insecure_channel(f"127.0.0.1:{master.grpc_port}") as channel:
        call = pb_grpc.AgentGatewayStub(channel).Connect(iter([pb.AgentMessage(register=_register("plain"))]),
                                                         metadata=token_metadata(_token(pki)), timeout=5)
        with pytest.raises(grpc.RpcError) as refused:
            next(call)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _connected(cluster) == 2


def test_agents_without_the_join_token_are_refused_and_never_get_a_task(
    cluster: Cluster, pki: Path, tmp_path: Path
) -> None:
    cluster.start_master(*_master_tls(pki))
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token-0123456789\n")
    tokenless = cluster.start_agent(agent_id="tokenless", extra=("--master-ca", str(pki / "ca.pem")))
    guesser = cluster.start_agent(agent_id="guesser", extra=_agent_tls(pki, token=wrong))
    for agent in (tokenless, guesser):
        _refused(agent, "refused this agent: no valid join token")
    assert _connected(cluster) == 0
    assert "refused an agent stream from" in cluster.masters[0].log()

    # A stream without the token is ended before the master reads its Register or sends anything.
    inbox: queue.Queue[pb.MasterMessage] = queue.Queue()
    channel = grpc.secure_channel(f"127.0.0.1:{cluster.masters[0].grpc_port}",
                                  grpc.ssl_channel_credentials((pki / "ca.pem").read_bytes()))
    with channel:
        call = pb_grpc.AgentGatewayStub(channel).Connect(iter([pb.AgentMessage(register=_register("hand"))]),
                                                         timeout=10)
        with pytest.raises(grpc.RpcError) as refused:
            for message in call:
                inbox.put(message)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "join token" in (refused.value.details() or "")
    assert inbox.empty()

    # Shards triggered now wait for an agent that may run them: the refused ones get none.
    trusted = cluster.start_agent(agent_id="trusted", extra=_agent_tls(pki))
    rows = _run_shards(cluster, tmp_path)
    assert {_agent_of(r) for r in rows} == {"trusted"}
    assert _connected(cluster) == 1
    for agent in (tokenless, guesser):
        assert "connected to leader" not in agent.log()
        sandboxes = agent.work_dir / "sandboxes"
        assert not sandboxes.exists() or not any(sandboxes.iterdir())
    assert "connected to leader" in trusted.log()


def test_an_agent_that_trusts_another_ca_refuses_the_master(
    cluster: Cluster, pki: Path, other_pki: Path
) -> None:
    cluster.start_master(*_master_tls(pki))
    # The right token, but it does not trust the master's certificate: it must not send it anything.
    agent = cluster.start_agent(agent_id="suspicious", extra=("--master-ca", str(other_pki / "ca.pem"),
                                                              "--join-token-file", str(pki / "join-token")))
    _refused(agent, "refused this agent: its certificate is not signed by the CA of --master-ca")
    assert _connected(cluster) == 0
    assert "refused an agent stream" not in cluster.masters[0].log()  # its token never reached the master


def test_a_tls_agent_refuses_a_plaintext_master(cluster: Cluster, pki: Path) -> None:
    cluster.start_master()
    agent = cluster.start_agent(agent_id="careful", extra=_agent_tls(pki))
    _refused(agent, "refused this agent: it does not serve TLS (no --grpc-tls-cert)")
    assert _connected(cluster) == 0


def test_mutual_tls_admits_only_agents_with_a_client_certificate_of_its_ca(
    cluster: Cluster, pki: Path, other_pki: Path, tmp_path: Path
) -> None:
    master = cluster.start_master(*_master_tls(pki, mutual=True))
    assert "(TLS, client certificates, join token)" in master.log()
    certified = cluster.start_agent(agent_id="certified", extra=_agent_tls(pki, client_cert=pki))
    cluster.wait_agents(1)
    assert "gRPC TLS, client certificate, join token" in certified.log()
    anonymous = cluster.start_agent(agent_id="anonymous", extra=_agent_tls(pki))
    forged = cluster.start_agent(agent_id="forged", extra=_agent_tls(pki, client_cert=other_pki))
    for agent in (anonymous, forged):
        _refused(agent, "closed the connection during the TLS handshake (does it require a client certificate")
    assert _connected(cluster) == 1
    rows = _run_shards(cluster, tmp_path, shards=3)
    assert {_agent_of(r) for r in rows} == {"certified"}


def test_a_master_refuses_plaintext_or_tokenless_grpc_beyond_loopback(pki: Path, tmp_path: Path) -> None:
    base = ("master", "--zk", "127.0.0.1:9", "--data-dir", str(tmp_path / "data"), "--grpc", "0.0.0.0:0")
    tls = ("--grpc-tls-cert", str(pki / "master.pem"), "--grpc-tls-key", str(pki / "master-key.pem"),
           "--advertise-host", "localhost")
    token = ("--agent-token-file", str(pki / "join-token"))
    expected = {
        (): "without TLS (--grpc-tls-cert and --grpc-tls-key) and a join token (--agent-token-file):",
        tls: "without a join token (--agent-token-file):",
        token: "without TLS (--grpc-tls-cert and --grpc-tls-key):",
    }
    for flags, missing in expected.items():
        done = _elasticjob(*base, *flags)
        assert done.returncode == 2, done.stderr
        assert "--grpc 0.0.0.0:0 is reachable from other hosts " + missing in done.stderr, done.stderr
        assert "or --insecure" in done.stderr


def test_bad_tls_files_and_tokens_are_named_by_their_flag(pki: Path, other_pki: Path, tmp_path: Path) -> None:
    master = ("master", "--zk", "127.0.0.1:9", "--data-dir", str(tmp_path / "data"))
    cert, key = str(pki / "master.pem"), str(pki / "master-key.pem")
    cases = [
        (("--grpc-tls-cert", str(tmp_path / "missing.pem"), "--grpc-tls-key", key),
         "--grpc-tls-cert", "cannot read it"),
        (("--grpc-tls-cert", key, "--grpc-tls-key", key), "--grpc-tls-cert", "not a PEM certificate"),
        (("--grpc-tls-cert", cert, "--grpc-tls-key", str(other_pki / "master-key.pem")),
         "--grpc-tls-key", "does not belong to the certificate of --grpc-tls-cert"),
        (("--grpc-tls-cert", cert), "--grpc-tls-key", "go together"),
        (("--grpc-tls-cert", cert, "--grpc-tls-key", key, "--advertise-host", "master-1.example"),
         "--advertise-host", "covers localhost, 127.0.0.1, but agents are told to reach this master at "
         "master-1.example"),
        (("--agent-token-file", str(tmp_path / "nope")), "--agent-token-file", "cannot read it"),
    ]
    short = tmp_path / "short-token"
    short.write_text("short\n")
    cases.append((("--agent-token-file", str(short)), "--agent-token-file", "use 16 or more"))
    for flags, flag, message in cases:
        done = _elasticjob(*master, *flags)
        assert done.returncode == 2, (flags, done.stderr)
        assert flag in done.stderr and message in done.stderr, (flags, done.stderr)

    agent = ("agent", "--zk", "127.0.0.1:9", "--work-dir", str(tmp_path / "agent"), "--cpus", "0.1",
             "--mem", "16")
    agent_cases = [
        (("--master-ca", str(tmp_path / "missing.pem")), "--master-ca", "cannot read it"),
        (("--tls-cert", str(pki / "agent.pem"), "--tls-key", str(pki / "agent-key.pem")),
         "--master-ca", "need --master-ca"),
        (("--master-ca", str(pki / "ca.pem"), "--tls-cert", str(pki / "agent.pem"),
          "--tls-key", str(pki / "master-key.pem")), "--tls-key", "does not belong to the certificate"),
        (("--join-token-file", str(short)), "--join-token-file", "use 16 or more"),
    ]
    for flags, flag, message in agent_cases:
        done = _elasticjob(*agent, *flags)
        assert done.returncode == 2, (flags, done.stderr)
        assert flag in done.stderr and message in done.stderr, (flags, done.stderr)
    env_token = _elasticjob(*agent, env={"PATH": "/usr/bin:/bin", "ELASTICJOB_JOIN_TOKEN": "has spaces in it!!"})
    assert env_token.returncode == 2 and "ELASTICJOB_JOIN_TOKEN" in env_token.stderr


def test_elasticjob_certs_refuses_to_overwrite_without_force(pki: Path) -> None:
    before = (pki / "ca.pem").read_bytes()
    again = _elasticjob("certs", str(pki))
    assert again.returncode == 2 and "--force" in again.stderr
    assert (pki / "ca.pem").read_bytes() == before
    forced = _elasticjob("certs", str(pki), "--force", "--hosts", "master-1,10.0.0.5", "--days", "30")
    assert forced.returncode == 0, forced.stderr
    assert (pki / "ca.pem").read_bytes() != before
    assert {p.name: p.stat().st_mode & 0o777 for p in pki.iterdir()} == {
        "ca.pem": 0o644, "ca-key.pem": 0o600, "master.pem": 0o644, "master-key.pem": 0o600,
        "agent.pem": 0o644, "agent-key.pem": 0o600, "join-token": 0o600,
    }


def test_elasticjob_dev_tls_runs_its_agents_over_mutual_tls(zk_hosts: str, namespace: str, tmp_path: Path) -> None:
    http_port = free_port()
    data_dir = tmp_path / "dev"
    dev = subprocess.Popen(
        [sys.executable, "-m", "elasticjob", "dev", "--tls", "--no-examples", "--zk", zk_hosts, "--namespace",
         namespace, "--http-port", str(http_port), "--grpc-port", str(free_port()), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        metrics = f"http://127.0.0.1:{http_port}/metrics"

        def connected() -> bool:
            try:
                return "elasticjob_connected_agents 2.0" in httpx.get(metrics, timeout=2).text
            except httpx.HTTPError:
                return False

        wait_until(connected, 60, interval=0.3, message="the dev cluster's two agents connected")
        assert "(TLS, client certificates, join token)" in (data_dir / "master-1.log").read_text()
        for name in ("agent-1.log", "agent-2.log"):
            assert "gRPC TLS, client certificate, join token" in (data_dir / name).read_text()
        assert (data_dir / "tls" / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    finally:
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0


def _register(agent_id: str) -> pb.Register:
    return pb.Register(agent_id=agent_id, hostname="hand", total=pb.Resources(cpus=1, mem_mb=64),
                       incarnation=str(time.monotonic()))


def _token(pki: Path) -> str:
    return (pki / "join-token").read_text().strip()
