"""The example apps of ``examples/`` for the dev cluster: built into tarballs, served, registered."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def examples_available() -> bool:
    return (EXAMPLES_DIR / "build.py").exists()


def build_tarballs(outdir: Path) -> dict[str, Path]:
    """Run ``examples/build.py``'s ``build_all`` (the examples are source files, not part of the package)."""
    spec = importlib.util.spec_from_file_location("elasticjob_examples_build", EXAMPLES_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: dict[str, Path] = module.build_all(outdir)
    return result


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("apps server: " + format, *args)


class TarballServer:
    """Serves one directory over HTTP on loopback (the dev cluster's stand-in for an artifact store)."""

    def __init__(self, directory: Path, port: int) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="apps-http", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> TarballServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register_examples(api_url: str, apps_base_url: str, auth: tuple[str, str] | None = None) -> list[str]:
    """Register every app of ``examples/apps`` (pointing at ``apps_base_url``) and job of ``examples/jobs``
    (as ``auth``'s user, for masters with an auth file).

    Existing ones are left as they are (409 is fine). Returns the job names.
    """
    jobs = []
    with httpx.Client(base_url=api_url, timeout=10, auth=auth) as client:
        for path in sorted((EXAMPLES_DIR / "apps").glob("*.json")):
            app = json.loads(path.read_text())
            parts = urlsplit(app["appURL"])
            base = urlsplit(apps_base_url)
            app["appURL"] = urlunsplit((base.scheme, base.netloc, parts.path, "", ""))
            _expect(client.post("/app", json=app), path)
        for path in sorted((EXAMPLES_DIR / "jobs").glob("*.json")):
            job = json.loads(path.read_text())
            _expect(client.post("/job/register", json=job), path)
            jobs.append(job["jobName"])
    return jobs


def _expect(response: httpx.Response, source: Path) -> None:
    if response.status_code not in (204, 409):
        raise RuntimeError(f"registering {source.name} failed: HTTP {response.status_code} {response.text}")
