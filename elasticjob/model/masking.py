"""Write-only secrets in a job's JSON: what the API shows in their place, and how an update that sends that
back keeps the stored value. Pure functions over the job's JSON object (a ``dict`` as stored).

Secrets are the places ``SECRET_FIELDS`` names — each webhook's ``secret`` — and the values of the
``environment`` keys a job's ``secretEnvironment`` names (``model.secrets``, which also has their update
rule). A reader sees ``MASK`` there; a writer who sends ``MASK`` back (a client that read the job, changed
something else and wrote it) keeps what was stored. Add a list place by adding a ``(list field, secret
field, key field)`` entry: the key field tells which stored entry an entry of the update is (a webhook is
its ``url``).
"""

from __future__ import annotations

import copy
from typing import Any

MASK = "******"

SECRET_FIELDS: tuple[tuple[str, str, str], ...] = (("webhooks", "secret", "url"),)
"""``(list field, secret field, key field)``: each entry of the list holds a secret, matched by the key."""


class MaskedSecretUnknown(ValueError):
    """An update sent ``MASK`` for a secret the stored job does not have (a new entry, or its key changed);
    ``path`` names the field (``webhooks.0.secret``)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: give the secret itself: no stored secret matches this entry")
        self.path = path


SECRET_ENVIRONMENT = "secretEnvironment"


def has_secrets(job: dict[str, Any]) -> bool:
    """Whether the job's JSON holds a secret (then it is shown masked)."""
    return SECRET_ENVIRONMENT in job or any(
        isinstance(job.get(field), list) and job[field] for field, _, _ in SECRET_FIELDS
    )


def masked(job: dict[str, Any]) -> dict[str, Any]:
    """The job's JSON as the API shows it: every secret replaced by ``MASK`` (a copy; ``job`` unchanged).
    Also for raw stored JSON that may not be a valid job (the registry browser): a ``secretEnvironment``
    that is not a list of strings masks the whole ``environment`` — what cannot be read as marks is not
    shown."""
    if not has_secrets(job):
        return job
    shown = copy.deepcopy(job)
    for field, secret, _key in SECRET_FIELDS:
        for entry in shown.get(field) or ():
            if isinstance(entry, dict) and secret in entry:
                entry[secret] = MASK
    environment = shown.get("environment")
    if SECRET_ENVIRONMENT in shown and isinstance(environment, dict):
        marks = shown[SECRET_ENVIRONMENT]
        readable = isinstance(marks, list) and all(isinstance(k, str) for k in marks)
        secret_keys = set(marks) if readable else set(environment)
        shown["environment"] = {k: MASK if k in secret_keys else v for k, v in environment.items()}
    return shown


def unmasked(update: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """``update`` with every ``MASK`` replaced by the secret of the stored entry with the same key (a copy).
    Raises :class:`MaskedSecretUnknown` for a ``MASK`` no stored entry matches."""
    if not any(_masks(update, field, secret) for field, secret, _ in SECRET_FIELDS):
        return update
    result = copy.deepcopy(update)
    for field, secret, key in SECRET_FIELDS:
        known = {
            entry.get(key): entry.get(secret)
            for entry in ((stored or {}).get(field) or ())
            if isinstance(entry, dict)
        }
        for index, entry in enumerate(result.get(field) or ()):
            if isinstance(entry, dict) and entry.get(secret) == MASK:
                value = known.get(entry.get(key))
                if not isinstance(value, str) or value == MASK:
                    raise MaskedSecretUnknown(f"{field}.{index}.{secret}")
                entry[secret] = value
    return result


def _masks(job: dict[str, Any], field: str, secret: str) -> bool:
    entries = job.get(field)
    return isinstance(entries, list) and any(isinstance(e, dict) and e.get(secret) == MASK for e in entries)
