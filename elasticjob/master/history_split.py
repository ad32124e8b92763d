"""The warning of a master whose run history is private while other masters run in its installation.

Only the leader records the history, each master into its own ``--history-url``. With a SQLite file (the
default, in ``--data-dir``) every master has a history of its own: each holds the runs of the times it
led, and what ``/job/jobs/{name}/runs`` shows changes with every failover. A SQLite URL is private even
when masters of one host share its file: masters are meant to run on several hosts.

``HistorySplit`` is told the other masters by the election (``LeaderElection(on_members=...)``, from its
thread, whenever they change) and answers ``warnings()`` from memory: ``GET /leader`` reads no ZooKeeper
for it. Thread-safe.
"""

from __future__ import annotations

import logging
import threading

from elasticjob.history import history_url

log = logging.getLogger(__name__)

FLAG = "--history-url postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"


def is_private(url: str) -> bool:
    """Whether a history at ``url`` (a URL or file path, as ``--history-url``) is this host's alone."""
    return history_url(url).get_backend_name() == "sqlite"


def split_warning(url: str, namespace: str, others: int) -> str | None:
    """The warning for a master with history ``url`` while ``others`` other masters run (None: none)."""
    if others == 0 or not is_private(url):
        return None
    masters = "1 other master runs" if others == 1 else f"{others} other masters run"
    return (
        f"the run history is split: {masters} in namespace {namespace}, and this master records the "
        f"runs it leads in a private SQLite database ({url}); each master then shows only the runs of the "
        f"times it led, and the history changes with every failover. Give every master one shared "
        f"database: {FLAG}"
    )


class HistorySplit:
    """This master's history warning, kept current from the election's view of the other masters."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.namespace = namespace
        self._lock = threading.Lock()
        self._warning: str | None = None

    def masters_changed(self, others: frozenset[str]) -> None:
        """The other masters are now ``others`` (their election nodes): log the warning when it appears
        or changes, and a line when it goes."""
        warning = split_warning(self.url, self.namespace, len(others))
        with self._lock:
            before, self._warning = self._warning, warning
        if warning is not None and warning != before:
            log.warning("%s", warning)
        elif warning is None and before is not None:
            log.info("history: no other master runs now; the run history is no longer split")

    def warnings(self) -> list[str]:
        """What ``GET /leader`` says under ``warnings`` ([]: nothing, and the field is left out)."""
        with self._lock:
            return [] if self._warning is None else [self._warning]
