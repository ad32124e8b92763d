"""Named resource sizes: what a shard of ``resourceSize`` XXS, XS, S, M or L gets (the hosted dialects'
``resource_size``). Each size doubles the one below it. Pure.

| size | cpuCount | memoryMB |
|------|----------|----------|
| XXS  | 0.125    | 64       |
| XS   | 0.25     | 128      |
| S    | 0.5      | 256      |
| M    | 1        | 512      |
| L    | 2        | 1024     |
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class ResourceSize(enum.StrEnum):
    XXS = "XXS"
    XS = "XS"
    S = "S"
    M = "M"
    L = "L"


class Resources(NamedTuple):
    cpu_count: float
    memory_mb: float


SIZES: dict[ResourceSize, Resources] = {
    ResourceSize.XXS: Resources(0.125, 64.0),
    ResourceSize.XS: Resources(0.25, 128.0),
    ResourceSize.S: Resources(0.5, 256.0),
    ResourceSize.M: Resources(1.0, 512.0),
    ResourceSize.L: Resources(2.0, 1024.0),
}


def resources_of(size: ResourceSize | str) -> Resources:
    """The CPU and memory of a size (``ValueError`` for a name not in the table)."""
    return SIZES[ResourceSize(size)]
