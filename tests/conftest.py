"""Shared fixtures: one real ZooKeeper server for the session, a fresh namespace per test, the auth file
every test master starts with (``api_users``; none with ``ELASTICJOB_TEST_AUTH=0``), and a PostgreSQL
server (``postgres_server``, ``postgres_database``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from elasticjob.common.net import free_port
from elasticjob.dev.zookeeper import DockerZooKeeper, LocalZooKeeper, docker_available, find_classpath
from tests.postgres import PostgresServer, PostgresUnavailable, create_database, drop_database
from tests.support import ApiUsers, MasterProcess, suite_auth_enabled


@pytest.fixture(scope="session")
def zk_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ELASTICJOB_TEST_ZK`` if set; else a local ZooKeeper (Debian package); else Docker via testcontainers."""
    external = os.environ.get("ELASTICJOB_TEST_ZK")
    if external:
        yield external
        return
    if find_classpath() is None and docker_available():
        container = DockerZooKeeper().start()
        yield container.hosts
        container.stop()
        return
    if find_classpath() is None:
        pytest.fail(
            "no ZooKeeper for the tests: install Debian's zookeeper package (make test does) "
            "or set ELASTICJOB_TEST_ZK=host:port"
        )
    server = LocalZooKeeper(tmp_path_factory.mktemp("zookeeper"), free_port()).start()
    yield server.hosts
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Admin URL of a PostgreSQL server (``tests/postgres.py``): ``ELASTICJOB_TEST_POSTGRES_URL``, else one
    started for this session (of this xdist worker) and stopped after it."""
    external = os.environ.get("ELASTICJOB_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    server = PostgresServer()
    try:
        yield server.start()
    except PostgresUnavailable as exc:  # `make test` installs the driver and the server: a setup failure
        pytest.fail(str(exc))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A database of this module's own on the server (dropped afterwards)."""
    database_url = create_database(postgres_server)
    yield database_url
    drop_database(postgres_server, database_url)


@pytest.fixture(scope="session")
def api_users(tmp_path_factory: pytest.TempPathFactory) -> ApiUsers | None:
    """The auth file (an admin, an operator and a viewer) that test masters start with, written once per
    session; None when ``ELASTICJOB_TEST_AUTH=0`` runs the suite without auth."""
    return ApiUsers.write(tmp_path_factory.mktemp("auth")) if suite_auth_enabled() else None


@pytest.fixture
def shard_dir() -> Iterator[Path]:
    """A directory the shards of a test may write to, whoever they run as: an agent running as root runs them
    as nobody (``--run-as``), who can neither enter pytest's ``tmp_path`` (under a 0700 directory) nor write
    there. World-writable, in the system's temporary directory, removed after the test."""
    made = Path(tempfile.mkdtemp(prefix="elasticjob-shards-"))
    made.chmod(0o777)
    yield made
    shutil.rmtree(made, ignore_errors=True)


@pytest.fixture
def namespace() -> str:
    """A namespace of its own for each test, so tests never see each other's znodes."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def zk(zk_hosts: str) -> Iterator[KazooClient]:
    """One ZooKeeper client for the whole session (kazoo clients are thread-safe)."""
    client = KazooClient(hosts=zk_hosts, timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def master_factory(zk_hosts: str, tmp_path: Path, api_users: ApiUsers | None) -> Iterator:  # type: ignore[type-arg]
    """Start masters as real processes, with the session's auth file unless ``auth=False``; every one
    started is stopped after the test."""
    started: list[MasterProcess] = []

    def start(namespace: str, *extra: str, wait: float = 30.0, session_timeout: float = 4.0,
              auth: bool = True) -> MasterProcess:
        master = MasterProcess(
            zk_hosts, namespace, tmp_path / f"m{len(started)}", *extra, session_timeout=session_timeout,
            auth=api_users if auth else None,
        )
        started.append(master)
        return master.start(wait=wait)

    yield start
    for master in started:
        master.stop()
