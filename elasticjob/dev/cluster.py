"""``elasticjob dev``: ZooKeeper, a master, two agents and the example apps and jobs on one machine.

A supervisor, not a scheduler: it starts each process, prints where to look, and on Ctrl-C (or when one
of them dies) stops everything it started, in reverse order, by pid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from elasticjob.common.net import free_port, port_in_use
from elasticjob.dev.examples import TarballServer, build_tarballs, examples_available, register_examples
from elasticjob.dev.zookeeper import ZooKeeperServer, start_zookeeper
from elasticjob.security.secrets import hash_secret

log = logging.getLogger(__name__)


class AlreadyRunning(RuntimeError):
    pass


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while the cluster was starting."""


@dataclass
class DevOptions:
    data_dir: Path
    http_port: int = 8899
    grpc_port: int = 8898
    zk: str | None = None  # an existing ZooKeeper; otherwise one is started
    namespace: str = "elasticjob"
    masters: int = 1
    agents: int = 2
    agent_cpus: float = 1.0
    agent_mem_mb: float = 1024.0
    examples: bool = True
    apps_port: int = 8900
    extra_master_args: list[str] = field(default_factory=list)
    auth: bool = False  # masters with an auth file: one admin, its password in DATA_DIR/admin-password
    tls: bool = False  # gRPC over mutual TLS with a join token, from certificates made in data_dir/tls


AUTH_FILE = "auth.toml"
PASSWORD_FILE = "admin-password"


def dev_admin(data_dir: Path) -> tuple[str, str]:
    """The dev cluster's one user, ``admin``: its password made once (DATA_DIR/admin-password, 0600) and
    its hash in DATA_DIR/auth.toml for the masters."""
    password_file = data_dir / PASSWORD_FILE
    if not password_file.exists():
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(12) + "\n")
    password = password_file.read_text().strip()
    (data_dir / AUTH_FILE).write_text(
        f'[[users]]\nname = "admin"\nrole = "admin"\npassword_hash = "{hash_secret(password)}"\n'
    )
    return "admin", password


def _sigterm_when_parent_dies() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class DevCluster:
    def __init__(self, options: DevOptions) -> None:
        self.credentials: tuple[str, str] | None = None  # the admin's, with ``auth``
        self.options = options
        self.zookeeper: ZooKeeperServer | None = None
        self.tarballs: TarballServer | None = None
        self.example_jobs: list[str] = []
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.pidfile = options.data_dir / "dev.pid"
        self.stop_requested = threading.Event()

    def check_not_running(self) -> None:
        if self.pidfile.exists():
            try:
                pid = int(self.pidfile.read_text().strip())
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, PermissionError):
                self.pidfile.unlink(missing_ok=True)  # stale: its process is gone
            else:
                raise AlreadyRunning(
                    f"an ElasticJob dev cluster is already running (pid {pid}, "
                    f"data in {self.options.data_dir}); "
                    f"its API is at http://localhost:{self.options.http_port}/ — stop it with "
                    "Ctrl-C in its terminal first"
                )
        if port_in_use("127.0.0.1", self.options.http_port):
            raise AlreadyRunning(
                f"port {self.options.http_port} is already in use by another program; stop it or pass "
                "--http-port"
            )

    def start(self) -> None:
        self.options.data_dir.mkdir(parents=True, exist_ok=True)
        self.check_not_running()
        self.pidfile.write_text(f"{os.getpid()}\n")
        zk_hosts = self.options.zk
        if zk_hosts is None:
            port = 2181 if not port_in_use("127.0.0.1", 2181) else free_port()
            log.info("starting ZooKeeper on 127.0.0.1:%d", port)
            self.zookeeper = start_zookeeper(self.options.data_dir / "zookeeper", port)
            zk_hosts = self.zookeeper.hosts
        auth_args: list[str] = []
        if self.options.auth:
            self.credentials = dev_admin(self.options.data_dir)
            auth_args = ["--auth-file", str(self.options.data_dir / AUTH_FILE)]
        master_tls, agent_tls = self._tls_args() if self.options.tls else ([], [])
        for index in range(self.options.masters):
            http_port = self.options.http_port + 10 * index
            grpc_port = self.options.grpc_port + 10 * index
            self._spawn(
                f"master-{index + 1}",
                [
                    "master",
                    "--zk",
                    zk_hosts,
                    "--namespace",
                    self.options.namespace,
                    "--http",
                    f"127.0.0.1:{http_port}",
                    "--grpc",
                    f"127.0.0.1:{grpc_port}",
                    "--data-dir",
                    str(self.options.data_dir / f"master-{index + 1}"),
                    # One history for all masters, so it stays whole across leader changes.
                    "--history-url",
                    str(self.options.data_dir / "history.db"),
                    *auth_args,
                    *master_tls,
                    # One machine, one user: apps may come from local tarballs (the examples come over http).
                    "--allow-file-urls",
                    *self.options.extra_master_args,
                ],
            )
        api = f"http://127.0.0.1:{self.options.http_port}"
        apps_url = None
        if self.options.examples and examples_available():
            built = build_tarballs(self.options.data_dir / "apps")
            self.tarballs = TarballServer(self.options.data_dir / "apps", self.options.apps_port).start()
            apps_url = self.tarballs.base_url
            log.info("serving %s at %s", ", ".join(sorted(p.name for p in built.values())), apps_url)
        for index in range(self.options.agents):
            self._spawn(
                f"agent-{index + 1}",
                [
                    "agent",
                    "--zk",
                    zk_hosts,
                    "--namespace",
                    self.options.namespace,
                    "--work-dir",
                    str(self.options.data_dir / f"agent-{index + 1}"),
                    "--cpus",
                    str(self.options.agent_cpus),
                    "--mem",
                    str(self.options.agent_mem_mb),
                    "--attributes",
                    f"rack=r{index + 1}",
                    "--zk-session-timeout",
                    "6",
                    *agent_tls,
                    "--allow-file-urls",
                ],
            )
        self._wait_http(f"{api}/ping", 60)
        self._wait_http(f"{api}/leader", 60, self.credentials)
        if apps_url is not None:
            self._check_stop()
            self.example_jobs = register_examples(api, apps_url, self.credentials)

    def _tls_args(self) -> tuple[list[str], list[str]]:
        """The masters' and the agents' flags for mutual TLS and a join token, with the certificates of
        ``data_dir/tls`` (made there on the first ``--tls`` start, then reused)."""
        from elasticjob.security.certs import make_dev_certificates, write_files

        directory = self.options.data_dir / "tls"
        used = ("ca.pem", "master.pem", "master-key.pem", "agent.pem", "agent-key.pem", "join-token")
        if not all((directory / name).exists() for name in used):
            write_files(directory, make_dev_certificates(["127.0.0.1", "localhost"]).files(), force=True)
            log.info("made a development CA and certificates in %s", directory)

        def path(name: str) -> str:
            return str(directory / name)

        master = ["--grpc-tls-cert", path("master.pem"), "--grpc-tls-key", path("master-key.pem"),
                  "--grpc-client-ca", path("ca.pem"), "--agent-token-file", path("join-token")]
        agent = ["--master-ca", path("ca.pem"), "--tls-cert", path("agent.pem"), "--tls-key",
                 path("agent-key.pem"), "--join-token-file", path("join-token")]
        return master, agent

    def _spawn(self, name: str, args: list[str]) -> None:
        self._check_stop()
        log_path = self.options.data_dir / f"{name}.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "elasticjob", *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()  # the child holds its own descriptor
        self.children.append((name, process))
        log.info("started %s (pid %d), log: %s", name, process.pid, log_path)

    def _wait_http(self, url: str, timeout: float, auth: tuple[str, str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_stop()
            for name, process in self.children:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {process.returncode}; see its log in {self.options.data_dir}"
                    )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1, auth=auth).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")

    def handle_signals(self) -> None:
        """From now on Ctrl-C/SIGTERM ask for a stop (checked between start-up steps and while waiting).

        Also asks the kernel for a SIGTERM when our parent dies (Linux), so a ``make run`` that is killed
        without a terminal's Ctrl-C does not leave the cluster running.
        """
        _sigterm_when_parent_dies()

        def request_stop(_signum: int, _frame: object) -> None:
            self.stop_requested.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def _check_stop(self) -> None:
        if self.stop_requested.is_set():
            raise Interrupted("stop requested during start-up")

    def wait(self) -> int:
        """Block until a stop is requested (returns 0) or until a child dies (returns 1)."""
        while not self.stop_requested.wait(0.3):
            for name, process in self.children:
                if process.poll() is not None:
                    log.error("%s exited with %s; stopping the cluster", name, process.returncode)
                    return 1
        return 0

    def stop(self) -> None:
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in 10s; killing it", name)
                    process.kill()
                    process.wait(timeout=10)
        if self.tarballs is not None:
            self.tarballs.stop()
        if self.zookeeper is not None:
            self.zookeeper.stop()
        self.pidfile.unlink(missing_ok=True)
        log.info("dev cluster stopped")
