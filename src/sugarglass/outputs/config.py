"""The ``[[outputs]]`` tables (where the levels go besides the run's own files) and the
``[safety]`` table (the limits every hardware output obeys)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat


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
    """A framed binary packet per tick to a serial port (see docs/outputs.md)."""

    kind: Literal["serial"]
    port: str = Field(min_length=1)
    baud: int = Field(default=115200, gt=0)
    rate_hz: float = Field(default=10.0, ge=0.0, description="frames a second at most; 0 sends as fast as ticks come")
    retry_seconds: float = Field(default=2.0, gt=0.0, description="first wait before reopening a lost port; doubles to 60 s")
    heartbeat_ms: int = Field(default=500, ge=20, le=60_000,
                              description="the last frame is sent again after this long without one, so the receiver's watchdog hears the host")


class SacnOutput(_Output):
    """sACN (ANSI E1.31, DMX over UDP) for grids on DMX dimmers or LED drivers: one universe,
    one channel per element (8-bit) or two (16-bit, coarse then fine), from ``start_channel``."""

    kind: Literal["sacn"]
    universe: int = Field(default=1, ge=1, le=63999)
    host: str | None = Field(default=None, description="a node's address; none: the universe's multicast group 239.255.x.y")
    port: int = Field(default=5568, ge=1, le=65535)
    channels_per_element: Literal[1, 2] = 1
    start_channel: int = Field(default=1, ge=1, le=512)
    priority: int = Field(default=100, ge=0, le=200)
    rate_hz: float = Field(default=30.0, gt=0.0, le=44.0, description="packets a second at most (DMX refreshes at 44 Hz)")
    heartbeat_ms: int = Field(default=800, ge=20, le=2_000,
                              description="unchanged levels are sent again this often; E1.31 nodes drop a source after 2.5 s of silence")


OutputConfig = Annotated[LevelsFileOutput | OscOutput | SerialOutput | SacnOutput, Field(discriminator="kind")]


class SafetyConfig(BaseModel):
    """Limits on what the hardware outputs are sent; levels over them are lowered, never raised.

    ``element_power_w`` is the electrical draw of one element at the full level, which is what a
    supply's budget is about; the canvas's ``element_power_w`` is the heat the plate takes in, an
    estimate tuned for the painting's look, so the two are kept apart. Left out, it is the
    canvas's figure, which keeps a work without hardware consistent; a real grid gives its
    datasheet's. The plate temperature is predicted with the canvas's thermal model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_power_w: PositiveFloat = Field(default=60.0, description="all elements together; 60 W is a 12 V 5 A supply")
    element_power_w: PositiveFloat | None = Field(default=None, description="one element at the full level; none: the canvas's")
    max_on_seconds: PositiveFloat = Field(default=7200.0, description="an element on longer than this without a rest is switched off")
    min_rest_seconds: float = Field(default=300.0, ge=0.0, description="how long it then stays off (at least one tick)")
    max_plate_c: float = Field(default=40.0, gt=0.0, le=80.0, description="highest plate temperature the model may predict")
