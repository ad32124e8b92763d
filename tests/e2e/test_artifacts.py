"""A job's artifacts, fetched by a real agent process (driven by a stand-in leader) from a real HTTP server on
loopback: kept as files, made executable, unpacked into the working directory, cached or not, and the
failures a task reports when one cannot be installed."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from elasticjob.dev.standin import StandInMaster, script_task
from elasticjob.model import TaskState
from tests.e2e.test_agents import app, ended, start_agent, stdout_of
from tests.integration.test_agent_fetch import ArtifactServer, Resource, serving, statuses
from tests.support import build_tarball


@pytest.fixture
def server() -> Iterator[ArtifactServer]:
    with serving(ArtifactServer()) as state:
        yield state


@pytest.fixture
def standin(zk_hosts: str, namespace: str) -> Iterator[StandInMaster]:
    master = StandInMaster(zk_hosts, namespace).start()
    yield master
    master.stop()


def tarball(files: dict[str, str], executable: tuple[str, ...] = ()) -> bytes:
    path = Path(f"/tmp/ej-artifact-{os.getpid()}-{time.monotonic_ns()}.tgz")
    try:
        return build_tarball(dict(files), path, executable=executable).read_bytes()
    finally:
        path.unlink()


def escaping_tarball() -> bytes:
    """A tar.gz whose member climbs out of the directory it is unpacked into."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        data = b"owned\n"
        member = tarfile.TarInfo("../../escaped.txt")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return out.getvalue()


def task(task_id: str, command: str, app_url: str, artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    full = [{"extract": True, "executable": False, "cache": False, **a} for a in artifacts]
    return {**script_task(task_id, command, app_url), "artifacts": full}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_artifacts_are_kept_made_executable_or_unpacked_into_the_working_directory(
    standin: StandInMaster, server: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    server.resources["/app.tgz"] = Resource(app("#!/bin/sh\necho app\n", **{"conf/app.ini": "a=1\n"}), etag='"1"')
    server.resources["/bin/tool.sh"] = Resource(b"#!/bin/sh\necho tool ran\n", etag='"1"')
    server.resources["/data.tgz"] = Resource(tarball({"conf/data.ini": "d=2\n", "data/rows.csv": "1,2\n"}))
    server.resources["/kept.tgz"] = Resource(tarball({"inside.txt": "not unpacked\n"}))
    server.resources["/notes%20v1.txt"] = Resource(b"plain text, extract=true\n")
    artifacts = [
        {"uri": f"{server.url}/bin/tool.sh", "executable": True},
        {"uri": f"{server.url}/data.tgz", "cache": True},
        {"uri": f"{server.url}/kept.tgz", "extract": False},
        {"uri": f"{server.url}/notes%20v1.txt"},
    ]
    command = "./run.sh && ./tool.sh && cat conf/app.ini conf/data.ini data/rows.csv 'notes v1.txt'"
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        standin.launch(agent_id, [task("t0", command, f"{server.url}/app.tgz", artifacts)])
        final = ended(standin, ["t0"])["t0"].status
        assert final.state is TaskState.FINISHED, final
        assert stdout_of(work_dir, "t0") == "app\ntool ran\na=1\nd=2\n1,2\nplain text, extract=true\n"
        sandbox = work_dir / "sandboxes" / "t0" / "app"
        assert mode(sandbox / "tool.sh") == 0o755 and mode(sandbox / "notes v1.txt") == 0o644
        assert (sandbox / "kept.tgz").read_bytes() == server.resources["/kept.tgz"].body  # as downloaded
        assert not (sandbox / "inside.txt").exists()
        assert not (work_dir / "sandboxes" / "t0" / ".artifacts").exists()  # the scratch space is gone


def test_a_cached_artifact_is_downloaded_once_and_an_uncached_one_for_every_task(
    standin: StandInMaster, server: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    server.resources["/cached.tgz"] = Resource(tarball({"c.txt": "cached\n"}), etag='"1"')
    server.resources["/fresh.txt"] = Resource(b"fresh\n", etag='"1"')
    artifacts = [{"uri": f"{server.url}/cached.tgz", "cache": True}, {"uri": f"{server.url}/fresh.txt"}]
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        tasks = [task(f"t{i}", "cat c.txt fresh.txt", "", artifacts) for i in range(3)]
        standin.launch(agent_id, tasks)
        assert {r.status.state for r in ended(standin, [t["task_id"] for t in tasks]).values()} == {
            TaskState.FINISHED}
        assert {stdout_of(work_dir, t["task_id"]) for t in tasks} == {"cached\nfresh\n"}
        assert statuses(server, "/cached.tgz") == [200]
        assert statuses(server, "/fresh.txt") == [200, 200, 200]
        assert list((work_dir / "cache" / ".fresh").iterdir()) == []  # own downloads are deleted


def test_an_artifact_that_cannot_be_installed_fails_the_task_with_a_clear_message(
    standin: StandInMaster, server: ArtifactServer, zk_hosts: str, tmp_path: Path
) -> None:
    server.resources["/app.tgz"] = Resource(app("#!/bin/sh\necho app\n"), etag='"1"')
    server.resources["/evil.tgz"] = Resource(escaping_tarball())
    server.resources["/run.sh"] = Resource(b"#!/bin/sh\n")
    cases = {
        "missing": ([{"uri": f"{server.url}/missing.txt"}], "fetch", "cannot fetch artifact "
                    f"{server.url}/missing.txt: GET {server.url}/missing.txt: HTTP 404"),
        "evil": ([{"uri": f"{server.url}/evil.tgz"}], "unpack", f"refused the artifact archive {server.url}/evil.tgz"),
        "evil-cached": ([{"uri": f"{server.url}/evil.tgz", "cache": True}], "unpack",
                        f"refused the artifact archive {server.url}/evil.tgz"),
        "clash": ([{"uri": f"{server.url}/run.sh"}], "sandbox",
                  f"cannot install artifact {server.url}/run.sh: run.sh already exists in the working directory"),
    }
    work_dir = tmp_path / "agent"
    for agent_id in start_agent(standin, zk_hosts, work_dir):
        standin.launch(agent_id, [task(name, "touch ran", f"{server.url}/app.tgz", arts)
                                  for name, (arts, _, _) in cases.items()])
        final = ended(standin, list(cases))
        for name, (_, reason, message) in cases.items():
            status = final[name].status
            assert (status.state, status.reason) == (TaskState.FAILED, reason), status
            assert status.message.startswith(message), status.message
            assert not (work_dir / "sandboxes" / name / "app" / "ran").exists()
        assert not list(work_dir.rglob("escaped.txt"))
