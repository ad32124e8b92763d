"""A throwaway PostgreSQL server for the tests, from the local ``initdb``/``pg_ctl`` (Debian's
``postgresql`` package, which ``make test`` installs), or ``ELASTICJOB_TEST_POSTGRES_URL`` (an admin URL).

The server listens on a free loopback port, keeps its data and socket in a temporary directory of its own
(so several pytest-xdist workers each run one), and is stopped by ``pg_ctl stop`` on its data directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url

from elasticjob.common.net import free_port


class PostgresUnavailable(RuntimeError):
    """No server can be had: no driver, no binaries, no user to run them as."""


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresServer:
    """One server; ``start()`` returns its admin URL, ``stop()`` stops it and removes its files."""

    def __init__(self) -> None:
        self.base: Path | None = None
        self._as_user: list[str] = []
        self._pg_ctl = ""

    @property
    def data(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    def start(self) -> str:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise PostgresUnavailable("the psycopg driver is not installed (make test installs it)") from None
        initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl; make test installs "
                                      "them) and no ELASTICJOB_TEST_POSTGRES_URL")
        self._pg_ctl = pg_ctl
        self.base = Path(tempfile.mkdtemp(prefix="elasticjob-pg-"))
        if os.geteuid() == 0:  # postgres refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and there is no 'postgres' user to run "
                                          "PostgreSQL as") from None
            self._as_user = ["runuser", "-u", "postgres", "--"]
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        port = free_port()
        options = f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self._as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run([*self._as_user, pg_ctl, "-D", str(self.data), "-o", options, "-l",
                        str(self.base / "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=120)
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self.base is None:
            return
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as_user, self._pg_ctl, "-D", str(self.data), "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)
        self.base = None


def _as_admin(admin_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on the server of ``admin_url``."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


def create_database(admin_url: str, prefix: str = "history") -> str:
    """A new empty database on the server of ``admin_url``; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _as_admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, database_url: str) -> None:
    _as_admin(admin_url, f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)')
