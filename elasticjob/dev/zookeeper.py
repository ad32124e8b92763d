"""Run a real ZooKeeper server for development and tests.

Sources, in order: an installed ZooKeeper (Debian's ``zookeeper`` package: ``/usr/share/java/zookeeper.jar``;
or a tarball install under ``$ZOOKEEPER_HOME``), then Docker through testcontainers when a Docker engine is
reachable. The server binds to loopback on the given port and keeps its data in its own directory; ``stop()``
ends only the process this object started.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Protocol

DEBIAN_JAR = "/usr/share/java/zookeeper.jar"
_MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
_SLF4J_BINDING = "/usr/share/java/slf4j-simple.jar"  # logs to the server's log file instead of nowhere

INSTALL_HINT = (
    "ZooKeeper is not installed. Install it (Debian/Ubuntu: `apt-get install zookeeper`; elsewhere unpack "
    "Apache ZooKeeper and set ZOOKEEPER_HOME), or point ELASTICJOB_ZK at a running server (host:port)."
)


class ZooKeeperNotFound(RuntimeError):
    pass


class ZooKeeperServer(Protocol):
    @property
    def hosts(self) -> str: ...

    def stop(self) -> None: ...


def ruok(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a ZooKeeper server answers the ``ruok`` four-letter word with ``imok``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"ruok")
            return sock.recv(16) == b"imok"
    except OSError:
        return False


def find_classpath() -> str | None:
    """The classpath of an installed ZooKeeper, or ``None``."""
    home = os.environ.get("ZOOKEEPER_HOME")
    if home:
        jars = sorted(glob.glob(os.path.join(home, "lib", "*.jar")) + glob.glob(os.path.join(home, "*.jar")))
        if jars:
            return os.pathsep.join(jars)
    if os.path.exists(DEBIAN_JAR):
        parts = [DEBIAN_JAR]  # its manifest's Class-Path names the other jars
        if os.path.exists(_SLF4J_BINDING):
            parts.append(_SLF4J_BINDING)
        return os.pathsep.join(parts)
    return None


def java_binary() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return os.path.join(java_home, "bin", "java")
    return shutil.which("java")


class LocalZooKeeper:
    """One ZooKeeper server process (standalone, or one member of an ensemble when ``peers`` is given).

    ``peers`` maps server id -> (host, quorum port, election port) for every member of the ensemble.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        host: str = "127.0.0.1",
        tick_ms: int = 500,
        server_id: int | None = None,
        peers: dict[int, tuple[str, int, int]] | None = None,
        heap_mb: int = 256,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.heap_mb = heap_mb  # 100,000 jobs (200,000 znodes and their watches) need about 1 GB
        self.port = port
        self.host = host
        self.tick_ms = tick_ms
        self.server_id = server_id
        self.peers = peers or {}
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def hosts(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "zookeeper.log"

    def write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"tickTime={self.tick_ms}",
            "initLimit=20",
            "syncLimit=10",
            f"dataDir={self.data_dir / 'data'}",
            f"clientPort={self.port}",
            f"clientPortAddress={self.host}",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
            f"maxSessionTimeout={max(self.tick_ms * 20, 60_000)}",
        ]
        if self.peers:
            if self.server_id is None:
                raise ValueError("an ensemble member needs a server_id")
            (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
            (self.data_dir / "data" / "myid").write_text(f"{self.server_id}\n")
            for sid, (peer_host, quorum, election) in sorted(self.peers.items()):
                lines.append(f"server.{sid}={peer_host}:{quorum}:{election}")
        config = self.data_dir / "zoo.cfg"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self, wait: float = 60.0) -> LocalZooKeeper:
        classpath = find_classpath()
        java = java_binary()
        if classpath is None:
            raise ZooKeeperNotFound(INSTALL_HINT)
        if java is None:
            raise ZooKeeperNotFound("ZooKeeper needs Java: install a JRE (Debian: default-jre-headless)")
        config = self.write_config()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [
                java,
                f"-Xmx{self.heap_mb}m",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                classpath,
                _MAIN_CLASS,
                str(config),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches our supervisor, which stops us in order
        )
        if wait:
            self.wait_ready(wait)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ZooKeeper exited with {self.process.returncode}; see {self.log_path}")
            if ruok(self.host, self.port) and (not self.peers or self._serving()):
                return
            time.sleep(0.1)
        raise TimeoutError(f"ZooKeeper on {self.hosts} not ready after {timeout:.0f}s; see {self.log_path}")

    def _serving(self) -> bool:
        """For an ensemble member: true once it has joined a quorum (``srvr`` shows its mode)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                sock.sendall(b"srvr")
                data = sock.recv(4096)
        except OSError:
            return False
        return b"Mode: leader" in data or b"Mode: follower" in data

    def stop(self, kill: bool = False) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


class DockerZooKeeper:
    """ZooKeeper in a container through testcontainers: the fallback where a Docker engine exists."""

    def __init__(self, image: str = "zookeeper:3.8") -> None:
        from testcontainers.core.container import DockerContainer  # optional dependency

        self._container = DockerContainer(image).with_exposed_ports(2181)
        self._hosts = ""

    @property
    def hosts(self) -> str:
        return self._hosts

    def start(self, wait: float = 90.0) -> DockerZooKeeper:
        self._container.start()
        host = self._container.get_container_host_ip()
        port = int(self._container.get_exposed_port(2181))
        deadline = time.monotonic() + wait
        while not ruok(host, port):
            if time.monotonic() > deadline:
                raise TimeoutError("ZooKeeper container did not become ready")
            time.sleep(0.2)
        self._hosts = f"{host}:{port}"
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._container.stop()


def docker_available() -> bool:
    """True if testcontainers is importable and a Docker engine answers."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any failure means no usable engine
        return False
    return True


def start_zookeeper(data_dir: Path, port: int) -> ZooKeeperServer:
    """Start a ZooKeeper from the first source that works; raise ``ZooKeeperNotFound`` with a hint."""
    if find_classpath() is not None:
        return LocalZooKeeper(data_dir, port).start()
    if docker_available():
        return DockerZooKeeper().start()
    raise ZooKeeperNotFound(INSTALL_HINT)
