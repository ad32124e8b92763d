"""Reads of apps and jobs as models. Writes are composed by the service layer as transactions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import ValidationError

from elasticjob.model import App, DomainError, Job
from elasticjob.registry.layout import Layout
from elasticjob.registry.store import JsonStore, Versioned

log = logging.getLogger(__name__)

M = TypeVar("M", App, Job)


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A model with the znode version it was read at."""

    model: M
    version: int
    implied: bool = False  # an app created by a single-step job registration, not by POST /app


# Stored next to an implied app's fields (and never shown by the API): which job's registration created it.
IMPLIED_BY = "impliedBy"


class ConfigReader:
    """Typed, versioned reads of ``/config`` and the disable markers."""

    def __init__(self, store: JsonStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout

    def app(self, name: str) -> Stored[App] | None:
        found = self.store.get(self.layout.app(name))
        return None if found is None else _stored(App, name, found)

    def job(self, name: str) -> Stored[Job] | None:
        found = self.store.get(self.layout.job(name))
        return None if found is None else _stored(Job, name, found)

    def all_apps(self) -> dict[str, Stored[App]]:
        """Every app that loads, by name (a corrupt znode is logged and left out, never fatal)."""
        return self._all(App, self.layout.apps)

    def all_jobs(self) -> dict[str, Stored[Job]]:
        """Every job that loads, by name (a corrupt znode is logged and left out, never fatal)."""
        return self._all(Job, self.layout.jobs)

    def apps(self) -> list[App]:
        return [stored.model for _, stored in sorted(self.all_apps().items())]

    def jobs(self) -> list[Job]:
        return [stored.model for _, stored in sorted(self.all_jobs().items())]

    def _all(self, model: type[M], parent: str) -> dict[str, Stored[M]]:
        result: dict[str, Stored[M]] = {}
        for name, found in self.store.get_all(parent).items():
            try:
                result[name] = _stored(model, name, found)
            except CorruptConfig as exc:
                log.error("%s", exc)
        return result

    def jobs_of_app(self, app_name: str) -> list[Job]:
        return [job for job in self.jobs() if job.effective_app_name == app_name]

    def job_disabled(self, name: str) -> bool:
        return self.store.exists(self.layout.disabled_job(name))

    def app_disabled(self, name: str) -> bool:
        return self.store.exists(self.layout.disabled_app(name))


class CorruptConfig(DomainError):
    """A configuration znode holds something that is not a valid app or job (written by hand, or by
    another tool). Not the client's fault: the API answers 500 with this message."""


def _stored(model: type[M], name: str, found: Versioned) -> Stored[M]:
    # Stored values were validated strictly when written; reading them back is lax so that enum values
    # stored as strings load without a JSON round trip.
    value = found.value
    implied = isinstance(value, dict) and IMPLIED_BY in value
    if implied:
        value = {k: v for k, v in value.items() if k != IMPLIED_BY}
    try:
        return Stored(model.model_validate(value, strict=False), found.version, implied=implied)
    except ValidationError as exc:
        raise CorruptConfig(
            f"{model.__name__.lower()} '{name}' in ZooKeeper is not valid "
            f"({exc.error_count()} error(s)); fix or remove its znode"
        ) from None
