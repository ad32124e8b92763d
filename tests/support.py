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


class MasterProcess:
    """``elasticjob master`` as a real child process with its own free ports; ended only by pid."""

    def __init__(self, zk_hosts: str, namespace: str, work_dir: Path, *extra: str,
                 session_timeout: float = 4.0) -> None:
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.work_dir = work_dir
        self.extra = list(extra)
        self.session_timeout = session_timeout
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / f"master-{self.http_port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def start(self, wait: float = 30.0) -> MasterProcess:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "elasticjob", "master", "--zk", self.zk_hosts,
                 "--namespace", self.namespace, "--http", self.address,
                 "--grpc", f"127.0.0.1:{self.grpc_port}", "--data-dir", str(self.work_dir / "data"),
                 "--zk-session-timeout", str(self.session_timeout), *self.extra],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
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

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no goodbye, its ZooKeeper session must expire on its own."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


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
