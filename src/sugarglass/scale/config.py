"""What the work file says about scale-out: the ``[scale]`` table and the ``parquet`` source kind.

Kept free of imports from the rest of Sugarglass but ``errors`` and ``consent``, so ``work.py``
can take both classes into its schema without an import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..consent import Consent
from ..errors import SugarglassError

SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


class ClusterError(SugarglassError, ValueError):
    """The Dask scheduler cannot be used: a malformed address, or nothing answers there (a
    ValueError too, so the work file's ``[scale]`` table reports a bad address under its key)."""


def check_address(address: str) -> str:
    """``tcp://host:port`` and the other schemes Dask speaks; anything else is refused here."""
    parts = urlsplit(address.strip())
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ClusterError(
            f"scheduler {address!r} is not a Dask scheduler address like 'tcp://host:8786' "
            f"(schemes: {', '.join(SCHEMES)})"
        )
    return address.strip()


class ScaleConfig(BaseModel):
    """The ``[scale]`` table of a work file: which Dask scheduler, how big a partition.

    ``scheduler`` left out means a local cluster on this machine, ``workers`` processes
    (default: one per core). ``--scheduler ADDRESS`` on the command line wins over the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheduler: str | None = None
    workers: int | None = Field(default=None, ge=1)
    partition_rows: int = Field(default=50_000, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0, le=300)

    @field_validator("scheduler")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)


class ParquetSource(BaseModel):
    """A Parquet file (or a folder of them) with one post a row, columns found by name as in a
    CSV. The fields are those of every file source; ``encoding`` is accepted and not used,
    since Parquet strings are UTF-8 by definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="the source's name in the store and in manifests")
    kind: Literal["parquet"]
    path: Path
    consent: Consent
    on_error: Literal["fail", "skip"] = "fail"
    encoding: str = "utf-8"
    description: str = ""
    text_column: str | None = None
    id_column: str | None = None
    time_column: str | None = None

    @property
    def location(self) -> str:
        """Where the source is read from, as the work file says it."""
        return str(self.path)
