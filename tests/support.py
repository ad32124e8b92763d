"""Test helpers: the package's real-process helpers (``elasticjob.dev.processes``) and ZooKeeper snapshots.

Test masters require credentials by default (the ``api_users`` fixture): call them through
``master.http()``, ``master.get()``/``post()``, ``auth=master.auth`` or, for a CLI child, ``master.env()``.
``ELASTICJOB_TEST_AUTH=0`` runs the suite without auth files, as before.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from elasticjob.dev.processes import (
    AgentProcess,
    ApiUsers,
    ChildProcess,
    MasterProcess,
    build_tarball,
    wait_until,
)

__all__ = [
    "AgentProcess", "ApiUsers", "ChildProcess", "MasterProcess", "TcpProxy", "build_tarball",
    "suite_auth_enabled", "wait_until", "zk_tree",
]


def suite_auth_enabled() -> bool:
    """Whether test masters start with an auth file: yes unless ``ELASTICJOB_TEST_AUTH=0``."""
    return os.environ.get("ELASTICJOB_TEST_AUTH", "1").strip().lower() not in {"0", "false", "no", "off"}


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


class TcpProxy:
    """A loopback TCP forwarder to ``target`` (host, port) that a test can cut and restore, to drop one
    client's ZooKeeper connection while others keep theirs."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Close every forwarded connection and refuse new ones until ``restore``."""
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        self._open.set()

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
