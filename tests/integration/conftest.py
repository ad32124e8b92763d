"""Fixtures for API tests: one real master process per test module, talking to the real ZooKeeper."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kazoo.client import KazooClient

from tests.support import ApiUsers, MasterProcess


@pytest.fixture(scope="module")
def api_master(
    zk_hosts: str, tmp_path_factory: pytest.TempPathFactory, api_users: ApiUsers | None
) -> Iterator[MasterProcess]:
    master = MasterProcess(zk_hosts, f"api-{uuid.uuid4().hex[:10]}", Path(tmp_path_factory.mktemp("master")),
                           auth=api_users)
    master.start()
    yield master
    master.stop()


@pytest.fixture(scope="module")
def api(api_master: MasterProcess) -> Iterator[httpx.Client]:
    """One HTTP client per module (building one per test costs more than most of the tests)."""
    with api_master.http() as client:
        yield client


@pytest.fixture
def root(api_master: MasterProcess) -> str:
    """The master's ZooKeeper root."""
    return f"/{api_master.namespace}"


@pytest.fixture
def client(zk_hosts: str) -> Iterator[KazooClient]:
    """A ZooKeeper client of the test's own (its watches and connection are the test's to break)."""
    made = KazooClient(hosts=zk_hosts, timeout=10)
    made.start(timeout=15)
    yield made
    made.stop()
    made.close()
