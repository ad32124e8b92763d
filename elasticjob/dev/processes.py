"""Real ``elasticjob`` processes for tests and benchmarks: masters and agents as children of the caller.

A master is started on port 0 for both listeners and reports the ports it bound in
``DATA_DIR/master.json``, so two processes can never be handed the same port. Every child is ended only
through its own pid.

A master given ``ApiUsers`` (an auth file of one user per role, with known secrets) requires credentials;
``MasterProcess.auth``, ``http()``, ``get()``/``post()`` and ``env()`` carry the admin's, and are the same
calls without credentials for a master without an auth file, so one test body serves both.

Given ``config=PATH``, a master or an agent is started as a deployment starts it: its settings are written
to that TOML file (``--config``: keys are the long flags without their dashes) and its command line is
``elasticjob master --config PATH`` (or ``agent``), plus ``extra`` flags if any, which override the file.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from argon2 import PasswordHasher

T = TypeVar("T")
ConfigValue = str | int | float | bool | list[str]


def toml_text(settings: Mapping[str, ConfigValue]) -> str:
    """``settings`` (``--config`` keys -> values) as TOML: one ``key = value`` line each, in order.

    Only the types flags take: strings, integers, numbers, booleans, arrays of strings. Strings are
    written as TOML basic strings (JSON's escaping is valid TOML for them)."""
    lines = []
    for key, value in settings.items():
        lines.append(f"{key} = {_toml_value(key, value)}")
    return "\n".join(lines) + "\n"


def command_flags(settings: Mapping[str, ConfigValue]) -> list[str]:
    """The same ``settings`` as command-line flags: ``--key value``, ``--key`` for a true switch (a false
    one is left out), ``--key item`` for each item of an array."""
    args: list[str] = []
    for key, value in settings.items():
        if isinstance(value, bool):
            args += [f"--{key}"] if value else []
        elif isinstance(value, list):
            for item in value:
                args += [f"--{key}", item]
        else:
            args += [f"--{key}", str(value)]
    return args


def _toml_value(key: str, value: ConfigValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    raise TypeError(f"{key}: a flag's value is a string, a number, a boolean or an array of strings, "
                    f"not {value!r}")


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.1, message: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns a truthy value; return it, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s (last value: {last!r})")


class ChildProcess:
    """A real ``elasticjob`` child process with its output in a log file; ended only by its pid."""

    name = "process"

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "elasticjob", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

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


# Argon2id at its cheapest: the master verifies whatever parameters a hash names, and the tests' secrets
# guard nothing, so each master's first check of a credential costs a millisecond instead of ~150 ms
# (hundreds of masters per suite run).
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True)
class ApiUsers:
    """An auth file (``elasticjob master --auth-file``) of one user per role, named after the role, all
    with ``password``; the admin also has the bearer ``token``. Made once by ``write``, shared by every
    master that is given it."""

    path: Path
    password: str = "test password 0123"
    token: str = "test-admin-token-0123456789"

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @classmethod
    def write(cls, directory: Path) -> ApiUsers:
        """Write ``directory/auth.toml`` and return its users."""
        made = cls(directory / "auth.toml")
        password = _CHEAP_HASHER.hash(made.password)
        lines = []
        for role in (cls.ADMIN, cls.OPERATOR, cls.VIEWER):
            lines += ["[[users]]", f'name = "{role}"', f'role = "{role}"', f'password_hash = "{password}"']
            if role == cls.ADMIN:
                lines.append(f'token_hash = "{_CHEAP_HASHER.hash(made.token)}"')
            lines.append("")
        directory.mkdir(parents=True, exist_ok=True)
        made.path.write_text("\n".join(lines))
        return made

    def basic(self, user: str = ADMIN) -> httpx.BasicAuth:
        """HTTP Basic as ``user`` (``ADMIN``, ``OPERATOR`` or ``VIEWER``)."""
        return httpx.BasicAuth(user, self.password)

    def authorization(self, user: str = ADMIN) -> str:
        """The ``Authorization`` header's value for HTTP Basic as ``user``."""
        return "Basic " + base64.b64encode(f"{user}:{self.password}".encode()).decode()

    def env(self, user: str = ADMIN) -> dict[str, str]:
        """The CLI's and the Python client's environment variables for ``user``."""
        return {"ELASTICJOB_USER": user, "ELASTICJOB_PASSWORD": self.password}


class MasterProcess(ChildProcess):
    """``elasticjob master`` on free ports of its own choosing (port 0), learnt from its ``master.json``.

    ``allow_file_urls`` (default on): tests and benchmarks register apps from local tarballs. ``auth``:
    start with that auth file (default none, as benchmarks and ``elasticjob dev`` run it); the helpers
    below then send its admin's credentials. ``settings``: more flags, as ``--config`` keys and values
    (``{"history-url": URL}``). ``config``: write every setting to this TOML file and start with
    ``--config`` it (and ``extra``) alone, instead of flags."""

    def __init__(
        self, zk_hosts: str, namespace: str, work_dir: Path, *extra: str, session_timeout: float = 4.0,
        allow_file_urls: bool = True, auth: ApiUsers | None = None,
        settings: Mapping[str, ConfigValue] | None = None, config: Path | None = None,
    ) -> None:
        super().__init__(work_dir / "master.log")
        if auth is not None and ("--auth-file" in extra or "auth-file" in (settings or {})):
            raise ValueError("give the auth file either as auth= or as --auth-file, not both")
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.work_dir = work_dir
        self.users = auth
        self.extra = list(extra)
        self.allow_file_urls = allow_file_urls
        self.settings = dict(settings or {})
        self.config = config
        self.session_timeout = session_timeout
        self.http_port = 0
        self.grpc_port = 0

    def all_settings(self) -> dict[str, ConfigValue]:
        """Every flag this master starts with but ``extra``, as ``--config`` keys and values."""
        made: dict[str, ConfigValue] = {
            "zk": self.zk_hosts, "namespace": self.namespace, "http": "127.0.0.1:0", "grpc": "127.0.0.1:0",
            "data-dir": str(self.data_dir), "zk-session-timeout": self.session_timeout,
        }
        if self.allow_file_urls:
            made["allow-file-urls"] = True
        if self.users is not None:
            made["auth-file"] = str(self.users.path)
        return {**made, **self.settings}

    def command(self) -> list[str]:
        """The arguments of ``elasticjob`` this master starts with (``start`` writes ``config`` first)."""
        if self.config is not None:
            return ["master", "--config", str(self.config), *self.extra]
        return ["master", *command_flags(self.all_settings()), *self.extra]

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def auth(self) -> httpx.BasicAuth | None:
        """The admin's HTTP Basic credentials for httpx's ``auth=``; None without an auth file."""
        return self.users.basic() if self.users is not None else None

    @property
    def authorization(self) -> str | None:
        """The admin's ``Authorization`` header value, for clients other than httpx; None without an auth
        file."""
        return self.users.authorization() if self.users is not None else None

    def http(self, timeout: float = 15, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on this master's URL with the admin's credentials (``auth=`` overrides)."""
        kwargs.setdefault("auth", self.auth)
        return httpx.Client(base_url=self.url, timeout=timeout, **kwargs)

    def get(self, path: str, timeout: float = 15, **kwargs: Any) -> httpx.Response:
        """``GET path`` with the admin's credentials (one request, no client to close)."""
        kwargs.setdefault("auth", self.auth)
        return httpx.get(self.url + path, timeout=timeout, **kwargs)

    def post(self, path: str, timeout: float = 15, **kwargs: Any) -> httpx.Response:
        """``POST path`` with the admin's credentials."""
        kwargs.setdefault("auth", self.auth)
        return httpx.post(self.url + path, timeout=timeout, **kwargs)

    def env(self, user: str = ApiUsers.ADMIN) -> dict[str, str]:
        """``ELASTICJOB_URL`` and, with an auth file, ``user``'s credentials: for a CLI child process."""
        return {"ELASTICJOB_URL": self.url, **(self.users.env(user) if self.users is not None else {})}

    def start(self, wait: float = 30.0) -> MasterProcess:
        """Start and learn the bound ports; with ``wait`` also wait until it answers ``/ping``."""
        (self.data_dir / "master.json").unlink(missing_ok=True)
        if self.config is not None:
            _write_config(self.config, self.all_settings())
        self.spawn(*self.command())
        self._learn_ports(max(wait, 30.0))
        if wait:
            self.wait_ready(wait)
        return self

    def _learn_ports(self, timeout: float) -> None:
        path = self.data_dir / "master.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"master exited with {self.process.returncode}:\n{self.log()}")
            try:
                found = json.loads(path.read_text())
            except (OSError, ValueError):
                found = None
            if found and found.get("pid") == self.process.pid:
                self.http_port = int(found["http"].rpartition(":")[2])
                self.grpc_port = int(found["grpc"].rpartition(":")[2])
                return
            time.sleep(0.05)
        raise TimeoutError(f"master did not report its addresses in {path}:\n{self.log()}")

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


class AgentProcess(ChildProcess):
    """``elasticjob agent`` with its own work dir; ``allow_file_urls``, ``settings`` and ``config`` as
    ``MasterProcess``'s (``extra``: flags on the command line)."""

    def __init__(self, zk_hosts: str, namespace: str, work_dir: Path, *, cpus: float, mem: float,
                 attributes: str = "", agent_id: str | None = None, session_timeout: float = 4.0,
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 allow_file_urls: bool = True, settings: Mapping[str, ConfigValue] | None = None,
                 config: Path | None = None) -> None:
        super().__init__(work_dir.parent / f"{work_dir.name}.log")
        self.env = env
        self.zk_hosts = zk_hosts
        self.namespace = namespace
        self.work_dir = work_dir
        self.cpus = cpus
        self.mem = mem
        self.attributes = attributes
        self.agent_id = agent_id
        self.session_timeout = session_timeout
        self.extra = list(extra)
        self.allow_file_urls = allow_file_urls
        self.settings = dict(settings or {})
        self.config = config

    def all_settings(self) -> dict[str, ConfigValue]:
        """Every flag this agent starts with but ``extra``, as ``--config`` keys and values."""
        made: dict[str, ConfigValue] = {
            "zk": self.zk_hosts, "namespace": self.namespace, "work-dir": str(self.work_dir),
            "cpus": float(self.cpus), "mem": float(self.mem), "zk-session-timeout": self.session_timeout,
            "kill-grace": 2.0,
        }
        if self.allow_file_urls:
            made["allow-file-urls"] = True
        if self.attributes:
            made["attributes"] = self.attributes
        if self.agent_id:
            made["id"] = self.agent_id
        return {**made, **self.settings}

    def command(self) -> list[str]:
        """The arguments of ``elasticjob`` this agent starts with (``start`` writes ``config`` first)."""
        if self.config is not None:
            return ["agent", "--config", str(self.config), *self.extra]
        return ["agent", *command_flags(self.all_settings()), *self.extra]

    def start(self) -> AgentProcess:
        if self.config is not None:
            _write_config(self.config, self.all_settings())
        self.spawn(*self.command(), env=self.env)
        return self


def _write_config(path: Path, settings: Mapping[str, ConfigValue]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text(settings))


def build_tarball(source: dict[str, str | bytes], target: Path, executable: tuple[str, ...] = ()) -> Path:
    """Write a .tar.gz whose members are ``source`` (name -> content); ``executable`` members get mode 755."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for name, content in sorted(source.items()):
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name in executable else 0o644
            archive.addfile(info, io.BytesIO(data))
    return target
