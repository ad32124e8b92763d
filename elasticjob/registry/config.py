"""Reads of apps and jobs as models. Writes are composed by the service layer as transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from elasticjob.model import App, Job
from elasticjob.registry.layout import Layout
from elasticjob.registry.store import JsonStore


M = TypeVar("M", App, Job)


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A model with the znode version it was read at."""

    model: M
    version: int


class ConfigReader:
    """Typed, versioned reads of ``/config`` and the disable markers."""

    def __init__(self, store: JsonStore, layout: Layout) -> None:
        self.store = store
        self.layout = layout

    def app(self, name: str) -> Stored[App] | None:
        found = self.store.get(self.layout.app(name))
        return None if found is None else Stored(_load(App, found.value), found.version)

    def job(self, name: str) -> Stored[Job] | None:
        found = self.store.get(self.layout.job(name))
        return None if found is None else Stored(_load(Job, found.value), found.version)

    def apps(self) -> list[App]:
        values = self.store.get_all(self.layout.apps)
        return [_load(App, v.value) for _, v in sorted(values.items())]

    def jobs(self) -> list[Job]:
        values = self.store.get_all(self.layout.jobs)
        return [_load(Job, v.value) for _, v in sorted(values.items())]

    def jobs_of_app(self, app_name: str) -> list[Job]:
        return [job for job in self.jobs() if job.effective_app_name == app_name]

    def job_disabled(self, name: str) -> bool:
        return self.store.exists(self.layout.disabled_job(name))

    def app_disabled(self, name: str) -> bool:
        return self.store.exists(self.layout.disabled_app(name))


def _load(model: type[M], value: object) -> M:
    # Stored values were validated strictly when written; reading them back is lax so that enum values
    # stored as strings load without a JSON round trip.
    return model.model_validate(value, strict=False)
