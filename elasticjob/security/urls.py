"""Which URLs a master accepts and an agent fetches: app archives (``appURL``) and artifacts.

Such a URL is chosen by whoever may write a job or app, and is fetched by an agent with the agent's own
rights, so it is a way into places its writer cannot reach: ``file:///etc/shadow`` copies an agent's local
file into a shard's sandbox, ``http://169.254.169.254/...`` reads a cloud host's metadata. ``UrlPolicy``
states once what a deployment allows:

* the schemes ``http`` and ``https`` always; ``file`` only when ``allow_file`` (``--allow-file-urls``):
  right for one machine (``elasticjob dev``, tests) or agents whose local files are meant to be served;
* with ``hosts`` (``--url-hosts HOST[,HOST...]``), an http(s) URL's host must be one of them (compared
  case-insensitively, without the port; a ``*.example.com`` entry takes every subdomain, not the domain).

The model validators (``model/app.py``) only check a URL's shape, which never changes; the policy is a
deployment's choice and is applied where URLs come in — the master's ``JobService`` on every write — and
where they are used — the agent's ``AppCache`` before every request, redirects included. Pure and immutable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOW_FILE_FLAG = "--allow-file-urls"
HOSTS_FLAG = "--url-hosts"


class UrlRefused(ValueError):
    """The URL is well-formed but this deployment does not allow it; the message names the flag."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_file: bool = False
    hosts: frozenset[str] | None = None  # None: any host

    @classmethod
    def from_flags(cls, allow_file: bool, hosts: str | Iterable[str] | None) -> UrlPolicy:
        """The policy of ``--allow-file-urls`` and ``--url-hosts`` (a comma-separated list, or a list);
        ``ValueError`` for an empty host list or an entry that is no host name."""
        if hosts is None:
            return cls(allow_file)
        entries = [h.strip().lower() for h in (hosts.split(",") if isinstance(hosts, str) else hosts)]
        if not entries or any(not h or "/" in h or ":" in h.removeprefix("[") or " " in h for h in entries):
            raise ValueError(f"{HOSTS_FLAG} takes host names separated by commas (e.g. "
                             f"artifacts.example.com,*.internal), got {hosts!r}")
        return cls(allow_file, frozenset(entries))

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("http", "https", "file") if self.allow_file else ("http", "https")

    def check(self, url: str) -> str:
        """``url`` if this deployment allows it; raises ``UrlRefused`` naming the flag that would allow it.
        ``""`` (no archive at all) is always allowed. Only the scheme and host are judged: the URL's shape
        is the model's to check."""
        if url == "":
            return url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file" and not self.allow_file:
            raise UrlRefused(f"file URLs are not allowed here (the master and agents need "
                             f"{ALLOW_FILE_FLAG}); use http or https")
        if scheme not in self.schemes:
            raise UrlRefused(f"scheme must be one of {', '.join(self.schemes)} (got {scheme or 'none'!r})")
        if scheme != "file" and self.hosts is not None and not self._host_allowed(parts.hostname or ""):
            allowed = ", ".join(sorted(self.hosts))
            raise UrlRefused(f"host {parts.hostname!r} is not in {HOSTS_FLAG} ({allowed})")
        return url

    def _host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        assert self.hosts is not None
        return any(host == entry or (entry.startswith("*.") and host.endswith(entry[1:]))
                   for entry in self.hosts)


DEFAULT = UrlPolicy()  # http and https from any host: what a master or agent allows without flags
PERMISSIVE = UrlPolicy(allow_file=True)  # every scheme, any host: one machine, tests
