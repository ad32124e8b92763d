"""Process logging: one structured line per event, to stderr."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s level=%(levelname)s proc=%(processName)s logger=%(name)s %(message)s"


def setup_logging(level: str = "INFO", process: str | None = None) -> None:
    if process:
        import multiprocessing

        multiprocessing.current_process().name = process
    logging.basicConfig(level=level.upper(), format=FORMAT, stream=sys.stderr, force=True)
    # kazoo logs every reconnect attempt at WARNING with a traceback; keep its lines short.
    logging.getLogger("kazoo.client").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # One line per HTTP request made by the CLI or dev supervisor is noise on a user's terminal.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic tells its plugins and dialect at every start; elasticjob.history.upgrade says what it changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)
