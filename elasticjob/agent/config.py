"""The agent's configuration and its checks against the host."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from elasticjob.agent.runas import Credentials
from elasticjob.model import check_agent_id
from elasticjob.registry import ZkConfig
from elasticjob.security.tls import ClientTls
from elasticjob.security.urls import UrlPolicy


def host_cpus() -> float:
    return float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def host_memory_mb() -> float:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    raise OSError("cannot read MemTotal from /proc/meminfo")


def parse_attributes(text: str) -> dict[str, str]:
    """``rack=a,zone=b`` -> ``{"rack": "a", "zone": "b"}``; ``ValueError`` for malformed pairs."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--attributes: {pair!r} is not key=value")
        result[key.strip()] = value.strip()
    return result


def agent_id_for(work_dir: Path, explicit: str | None) -> str:
    """An explicit id, else the one stored in the work dir, else a new ``{hostname}-{random}`` saved there."""
    if explicit:
        return check_agent_id(explicit)
    stored = work_dir / "agent-id"
    if stored.exists():
        return check_agent_id(stored.read_text().strip())
    host = "".join(c if c.isalnum() or c in "_.-" else "-" for c in socket.gethostname())[:100] or "agent"
    agent_id = check_agent_id(f"{host}-{uuid.uuid4().hex[:8]}")
    stored.write_text(agent_id + "\n")
    return agent_id


@dataclass(frozen=True)
class AgentConfig:
    zk: ZkConfig
    namespace: str
    work_dir: Path
    cpus: float
    mem_mb: float
    attributes: dict[str, str] = field(default_factory=dict)
    agent_id: str | None = None
    kill_grace_seconds: float = 10.0
    run_as: Credentials | None = None  # --run-as, resolved (agent/runas.py); None: the agent's own user
    heartbeat_seconds: float = 2.0
    sandbox_retention_seconds: float = 24 * 3600.0
    sandbox_max_bytes: int = 5 * 1024**3
    max_download_bytes: int = 512 * 1024**2
    max_unpacked_bytes: int = 1024**3
    app_revalidate_seconds: float = 60.0
    master_tls: ClientTls | None = None  # --master-ca (+ --tls-cert/--tls-key); None: plaintext gRPC
    join_token: str | None = field(default=None, repr=False)  # --join-token-file / ELASTICJOB_JOIN_TOKEN
    url_policy: UrlPolicy = UrlPolicy()  # what it fetches from (--allow-file-urls, --url-hosts)

    def check_host(self) -> None:
        """Refuse resources the host does not have (``ValueError`` with the numbers)."""
        if self.cpus <= 0 or self.mem_mb <= 0:
            raise ValueError("--cpus and --mem must be positive")
        if self.sandbox_retention_seconds <= 0 or self.sandbox_max_bytes <= 0:
            raise ValueError("--sandbox-retention and --sandbox-max-mb must be positive")
        if self.app_revalidate_seconds < 0:
            raise ValueError(
                f"--app-revalidate-seconds must not be negative (got {self.app_revalidate_seconds:g})"
            )
        if self.cpus > host_cpus():
            raise ValueError(f"--cpus {self.cpus:g} is more than this host has ({host_cpus():g})")
        if self.mem_mb > host_memory_mb():
            raise ValueError(
                f"--mem {self.mem_mb:g} MB is more than this host has ({host_memory_mb():.0f} MB)"
            )
