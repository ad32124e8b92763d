"""Protected state on a real cluster. ZooKeeper digest authentication: with ``--zk-auth`` every znode the masters and agents
create — configuration, queues, running tasks, the election, the agents' own — is readable and writable
by that identity only, so another ZooKeeper client can neither read nor alter the installation's state.
An agent's work dir (sandboxes, logs, app cache) is its user's alone."""

from __future__ import annotations

import pwd
import subprocess
from pathlib import Path

import httpx
import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

from tests.e2e.conftest import Cluster
from tests.support import AgentProcess, build_tarball, wait_until

SECRET = "elasticjob:zk-secret-123"


def _walk(client: KazooClient, path: str) -> list[str]:
    found = [path]
    for child in client.get_children(path):
        found.extend(_walk(client, f"{path}/{child}"))
    return found


def _run_one_shard(api: httpx.Client, tmp_path: Path, name: str, script: str) -> None:
    """Register an app and a one-shard job called ``name`` whose shard runs ``script``, and trigger it."""
    tarball = build_tarball({"bin/run.sh": script}, tmp_path / "app.tar.gz", executable=("bin/run.sh",))
    app = {"appName": name, "appURL": tarball.as_uri(), "bootstrapScript": "bin/run.sh", "cpuCount": 0.1,
           "memoryMB": 16}
    assert api.post("/app", json=app).status_code == 204
    job = {"jobName": name, "appName": name, "cron": "0 0 0 1 1 ? 2099", "shardingTotalCount": 1,
           "cpuCount": 0.1, "memoryMB": 64}
    assert api.post("/job/register", json=job).status_code == 204
    assert api.post("/job/trigger", content=name.encode()).status_code == 204


def test_other_zookeeper_clients_cannot_read_or_change_the_installation(
    cluster: Cluster, zk_hosts: str, tmp_path: Path
) -> None:
    zk = ("--zk-auth", SECRET)
    cluster.start_master(*zk)
    cluster.start_agent(agent_id="a1", extra=zk)
    cluster.wait_agents(1)
    with cluster.api as api:
        _run_one_shard(api, tmp_path, "guarded", "#!/bin/sh\nsleep 30\n")
        wait_until(lambda: api.get("/job/tasks/running").json(), 30, message="the shard runs")

    root = f"/{cluster.namespace}"
    owner = KazooClient(hosts=zk_hosts, auth_data=[("digest", SECRET)])
    owner.start(timeout=15)
    stranger = KazooClient(hosts=zk_hosts)
    stranger.start(timeout=15)
    wrong = KazooClient(hosts=zk_hosts, auth_data=[("digest", "elasticjob:guess")])
    wrong.start(timeout=15)
    try:
        znodes = _walk(owner, root)
        # Every kind of znode is there: configuration, queue, running task, election, the agent's own.
        for part in ("/config/job/guarded", "/state/ready/guarded", "/state/running/guarded/",
                     "/leader/election/", "/agents/a1"):
            assert any(part in z for z in znodes), (part, znodes)
        user, _, password = SECRET.partition(":")
        expected = [make_digest_acl(user, password, all=True)]
        for znode in znodes:
            acl, _ = owner.get_acls(znode)
            assert acl == expected, (znode, acl)
        for client in (stranger, wrong):
            for znode in (f"{root}/config/job/guarded", f"{root}/agents/a1"):
                with pytest.raises(NoAuthError):
                    client.get(znode)
                with pytest.raises(NoAuthError):
                    client.set(znode, b"{}")
                with pytest.raises(NoAuthError):
                    client.delete(znode)
            with pytest.raises(NoAuthError):
                client.create(f"{root}/config/job/intruder", b"{}")
    finally:
        for client in (owner, stranger, wrong):
            client.stop()
            client.close()
    # Nothing changed: the job is as registered and its shard still runs.
    with cluster.masters[0].http() as api:
        assert api.get("/job/jobs/guarded").json()["shardingTotalCount"] == 1
        assert api.get("/job/jobs/intruder").status_code == 404
        assert len(api.get("/job/tasks/running").json()) == 1


def test_an_agents_sandboxes_and_app_cache_are_its_users_alone(
    cluster: Cluster, tmp_path: Path, shard_dir: Path
) -> None:
    cluster.start_master()
    # The work dir under a directory every user may enter (pytest's tmp_path is not), so that what the
    # stranger below cannot read is kept from it by the agent's modes, nothing else.
    open_parent = shard_dir / "host"
    open_parent.mkdir(mode=0o755)
    agent = AgentProcess(cluster.zk_hosts, cluster.namespace, open_parent / "agent", cpus=1.0, mem=512,
                         agent_id="a1")
    cluster.agents.append(agent)
    agent.start()
    cluster.wait_agents(1)
    with cluster.api as api:
        _run_one_shard(api, tmp_path, "own", "#!/bin/sh\necho hi\n")
        wait_until(lambda: [r for r in api.get("/job/events/executions").json()["rows"]
                            if r["state"] == "FINISHED"], 30, message="the shard ran")
    work = agent.work_dir
    # Shards run as nobody (the agent is root): the path down to a sandbox is traversable, never listable.
    for directory in (work, work / "sandboxes"):
        assert directory.is_dir() and directory.stat().st_mode & 0o777 == 0o711, (directory, oct(directory.stat().st_mode))
    cache = work / "cache"
    assert cache.is_dir() and cache.stat().st_mode & 0o777 == 0o700
    (sandbox,) = (work / "sandboxes").iterdir()
    nobody = pwd.getpwnam("nobody")
    app = sandbox / "app"
    assert (app.stat().st_uid, app.stat().st_gid, app.stat().st_mode & 0o777) == (nobody.pw_uid, nobody.pw_gid,
                                                                                   0o700)
    assert (app / "bin" / "run.sh").stat().st_uid == nobody.pw_uid
    logs = sandbox / "logs"
    assert (logs.stat().st_uid, logs.stat().st_mode & 0o777) == (0, 0o700)  # the agent's: it writes them
    # Another unprivileged user reads neither the shard's files nor the app cache, nor lists the work dir —
    # though it reaches the work dir's parent and reads what is open to it there.
    stranger = ["setpriv", "--reuid=65533", "--regid=65533", "--clear-groups"]
    readable = open_parent / "readable"
    readable.write_text("open\n")
    readable.chmod(0o644)
    assert subprocess.run([*stranger, "cat", str(readable)], capture_output=True).returncode == 0
    assert subprocess.run([*stranger, "ls", str(open_parent)], capture_output=True).returncode == 0
    cached = next(p for p in cache.rglob("*") if p.is_file())
    for target in (app / "bin" / "run.sh", logs / "stdout", cached):
        assert subprocess.run([*stranger, "cat", str(target)], capture_output=True).returncode != 0, target
    assert subprocess.run([*stranger, "ls", str(work)], capture_output=True).returncode != 0
    assert subprocess.run([*stranger, "ls", str(work / "sandboxes")], capture_output=True).returncode != 0
