"""Shared by the benchmarks: register a one-script app and a job running it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from elasticjob.dev.processes import build_tarball


def register_script_job(client: httpx.Client, workdir: Path, name: str, script: str, **job: Any) -> None:
    """Build a tarball holding ``run.sh`` = ``script``, register it as app ``name`` and a job ``name``
    (0.1 CPU, 16 MB per shard; ``job`` overrides or adds fields such as ``cron``)."""
    tarball = build_tarball({"run.sh": script}, workdir / f"{name}.tar.gz", executable=("run.sh",))
    app = {
        "appName": name,
        "appURL": tarball.as_uri(),
        "bootstrapScript": "./run.sh",
        "cpuCount": 0.1,
        "memoryMB": 16,
    }
    client.post("/app", json=app).raise_for_status()
    body = {"jobName": name, "appName": name, "shardingTotalCount": 1, "cpuCount": 0.1, "memoryMB": 16, **job}
    client.post("/job/register", json=body).raise_for_status()
