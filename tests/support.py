"""Test helpers that start real processes: masters (and later agents) as subprocesses on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from elasticjob.common.net import free_port


class ChildProcess:
    """A real ``elasticjob`` child process with its output in a log file; ended only by its pid."""

    name = "process"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self, *args: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "elasticjob", *args], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no goodbye, its ZooKeeper session must expire on its own."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class MasterProcess(ChildProcess):
    """``elasticjob master`` with its own free ports."""

    def __init__(
        self, zk_hosts: str, namespace: str, work_dir: Path, *extra: str, session_timeout: float = 4.0
    ) -> None:
        self.http_port = free_port()
        self.grpc_port = free_port()
        super().__init__(work_dir / f"master-{self.http_port}.log")
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.work_dir = work_dir
        self.extra = list(extra)
        self.session_timeout = session_timeout

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def start(self, wait: float = 30.0) -> MasterProcess:
        self.spawn(
            "master", "--zk", self.zk_hosts, "--namespace", self.namespace, "--http", self.address,
            "--grpc", f"127.0.0.1:{self.grpc_port}", "--data-dir", str(self.work_dir / "data"),
            "--zk-session-timeout", str(self.session_timeout), *self.extra,
        )
        if wait:
            self.wait_ready(wait)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"master exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"master on {self.address} not ready:\n{self.log()}")


def zk_tree(client: KazooClient, root: str) -> dict[str, bytes]:
    """Every znode below ``root`` with its data: compare before/after to prove nothing changed."""
    tree: dict[str, bytes] = {}
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            data, _ = client.get(path)
            children = client.get_children(path)
        except NoNodeError:
            continue
        tree[path] = data
        stack.extend(f"{path}/{child}" for child in children)
    return tree


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value; return it, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s (last value: {last!r})")


class AgentProcess(ChildProcess):
    """``elasticjob agent`` with its own work dir."""

    def __init__(self, zk_hosts: str, namespace: str, work_dir: Path, *, cpus: float, mem: float,
                 attributes: str = "", agent_id: str | None = None, session_timeout: float = 4.0) -> None:
        super().__init__(work_dir.parent / f"{work_dir.name}.log")
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.work_dir = work_dir
        self.cpus = cpus
        self.mem = mem
        self.attributes = attributes
        self.agent_id = agent_id
        self.session_timeout = session_timeout

    def start(self) -> AgentProcess:
        args = ["agent", "--zk", self.zk_hosts, "--namespace", self.namespace, "--work-dir", str(self.work_dir),
                "--cpus", str(self.cpus), "--mem", str(self.mem), "--zk-session-timeout",
                str(self.session_timeout), "--kill-grace", "2"]
        if self.attributes:
            args += ["--attributes", self.attributes]
        if self.agent_id:
            args += ["--id", self.agent_id]
        self.spawn(*args)
        return self


def build_tarball(source: dict[str, str | bytes], target: Path, executable: tuple[str, ...] = ()) -> Path:
    """Write a .tar.gz whose members are ``source`` (name -> content); ``executable`` members get mode 755."""
    import io
    import tarfile

    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for name, content in sorted(source.items()):
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name in executable else 0o644
            archive.addfile(info, io.BytesIO(data))
    return target
