"""An artifact: a file an agent fetches into a shard's working directory before the shard starts
(Metronome's ``run.artifacts``, the native job's ``artifacts``).

The agent fetches it as it fetches an app's archive (same URL schemes, size limits and timeouts; through
its cache when ``cache`` is true), then, with ``extract`` (and not ``executable``), unpacks it into the
working directory if it is a tar or zip archive (with the same path-safety checks as an app's archive);
otherwise it keeps the file as downloaded, named by the last segment of the URL's path, and ``executable``
makes it mode 0755. Mesos's fetcher has the same rules (``executable`` wins over ``extract``).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from elasticjob.model.app import check_app_url

MAX_ARTIFACTS = 64
MAX_URI_LENGTH = 4096
# Names of archives an agent unpacks (its unpacker reads the content; these are how their URLs end).
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".zip")


def file_name(uri: str) -> str:
    """The name an artifact's file gets in the working directory: the last segment of the URL's path,
    percent-decoded. ``ValueError`` when that is empty, ``.``, ``..``, or holds ``/`` or a NUL."""
    segment = urlsplit(uri).path.rsplit("/", 1)[-1]
    name = unquote(segment)
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"must end in a file name (the name the file gets in the sandbox); got {uri!r}")
    return name


def looks_like_archive(uri: str) -> bool:
    """True when the URL's file name ends like an archive the agent unpacks (``.tar.gz``, ``.zip``, ...)."""
    return urlsplit(uri).path.lower().endswith(ARCHIVE_SUFFIXES)


class Artifact(BaseModel):
    """One artifact: ``uri`` (http, https or file), ``extract`` (default true), ``executable`` (default
    false), ``cache`` (default false: a download of its own for every shard)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    uri: str = Field(max_length=MAX_URI_LENGTH)
    extract: bool = True
    executable: bool = False
    cache: bool = False

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        check_app_url(value)
        file_name(value)
        return value

    @property
    def unpacks(self) -> bool:
        """True when the agent unpacks it if it is an archive (``extract`` without ``executable``)."""
        return self.extract and not self.executable

    def to_spec(self) -> dict[str, object]:
        """The artifact as a launch carries it to the agent."""
        return {"uri": self.uri, "extract": self.extract, "executable": self.executable, "cache": self.cache}
