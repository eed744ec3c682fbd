"""The ``[[outputs]]`` tables: where the levels go besides the run's own files."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelsFileOutput(_Output):
    """Levels per tick to a file: JSON Lines, or the 2019 row format (48 integers a line,
    separated by commas, as the original wrote them for its element driver)."""

    kind: Literal["levels"]
    path: str = Field(min_length=1, description="relative to the run's output folder")
    format: Literal["jsonl", "rows-2019"] = "jsonl"


class OscOutput(_Output):
    """A bundle per tick over UDP: ``{prefix}/levels`` with one float per element (level / 3000,
    so 0..1), ``{prefix}/tick`` and ``{prefix}/metrics/<name>`` for each society metric."""

    kind: Literal["osc"]
    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)
    prefix: str = Field(default="/sugarglass", pattern=r"^(/[A-Za-z0-9_.-]+)+$")


class SerialOutput(_Output):
    """A framed binary packet per tick to a serial port (see docs/serial-frame.md)."""

    kind: Literal["serial"]
    port: str = Field(min_length=1)
    baud: int = Field(default=115200, gt=0)
    rate_hz: float = Field(default=10.0, ge=0.0, description="frames a second at most; 0 sends as fast as ticks come")
    retry_seconds: float = Field(default=2.0, gt=0.0, description="first wait before reopening a lost port; doubles to 60 s")


OutputConfig = Annotated[LevelsFileOutput | OscOutput | SerialOutput, Field(discriminator="kind")]
