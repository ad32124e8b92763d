"""Helpers shared by the API test modules."""

from __future__ import annotations

import json
from typing import Any

from kazoo.client import KazooClient

from tests.support import zk_tree

# The leader's scheduler keeps its own bookkeeping in each job's ready queue and rewrites it at any moment
# (it creates the queue, moves its cron cursor when an instant passes while the job is disabled, notes why
# it waits).
SCHEDULER_OWNED = ("cursor", "reason", "lastFireTime")


def zk_state(zk: KazooClient, root: str) -> dict[str, bytes]:
    """``zk_tree`` of the master's root without the scheduler's bookkeeping.

    Everything a request can change (configs, disable markers, queued firings, the change marker) is
    compared byte for byte; a ready queue holding no firings counts as absent.
    """
    tree = zk_tree(zk, root)
    for path in [p for p in tree if p.startswith(f"{root}/state/ready/")]:
        value = json.loads(tree[path] or b"null")
        if isinstance(value, dict):
            kept = {k: v for k, v in value.items() if k not in SCHEDULER_OWNED}
            if kept == {"firings": []}:
                del tree[path]
            else:
                tree[path] = json.dumps(kept, sort_keys=True).encode()
    return tree


def app_body(name: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appName": name,
        "appURL": f"http://app_host:8080/{name}.tar.gz",
        "bootstrapScript": "bin/start.sh",
    }
    body.update(overrides)
    return body
