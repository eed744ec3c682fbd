"""The `[canvas]` table of a work file: the plate, the liquid crystal and the output.

Defaults are the spec's engineering estimates for the 2019 piece (a 60 x 80 cm, 1 mm aluminium
spreader plate behind an R25C5W film), tuned so that 2019-like levels give the photograph's look.
Every field is explained, with its unit and why it has its default, in `docs/canvas.md`. An
impossible option fails here, as a pydantic error naming the option, before anything renders.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from sugarglass.errors import SugarglassError

LEVEL_MAX = 3000.0
"""Every readout yields levels in 0..LEVEL_MAX; 0 is "off"."""

VideoFormat = Literal["mp4", "webm", "gif"]


class CanvasInputError(SugarglassError, ValueError):
    """Levels handed to the canvas cannot drive it; the message names the level and why."""


class CanvasConfig(BaseModel):
    """The painting: element grid, heated plate, liquid-crystal grade, grain and output."""

    model_config = ConfigDict(extra="forbid")

    # the element grid and the plate's discretisation
    columns: PositiveInt = 6
    rows: PositiveInt = 8
    cells_per_pitch: int = Field(default=12, ge=4, le=64)
    pitch_mm: PositiveFloat = 100.0
    element_mm: PositiveFloat = 40.0  # diameter of an element's round footprint
    # heat flow
    diffusivity_mm2_s: PositiveFloat = 80.0
    cooling_tau_s: PositiveFloat | None = 180.0  # None: an insulated plate that never cools
    seconds_per_tick: PositiveFloat = 60.0
    ambient_c: float = 22.0
    start_c: float | None = None  # plate temperature at the start; None: ambient
    # drive: level -> heating power
    element_power_w: float = Field(default=1.9, ge=0.0)  # heat into the plate at the full level 3000
    plate_heat_capacity_j_m2k: PositiveFloat = 2430.0  # per area: 1 mm aluminium, 2700 kg/m3 x 900 J/kg K
    drive_gamma: PositiveFloat = 1.0
    signed: bool = False
    signed_midpoint: float = Field(default=1500.0, gt=0.0, lt=LEVEL_MAX)
    # the liquid crystal
    event_c: float = 25.0
    bandwidth_c: PositiveFloat = 5.0
    clearing_above_blue_c: PositiveFloat = 4.0
    hysteresis: bool = False
    hysteresis_shift: float = Field(default=0.4, ge=0.0, le=1.0)  # fraction of the band
    # the picture
    grain: float = Field(default=0.0, ge=0.0, le=1.0)
    width: PositiveInt = 720
    height: PositiveInt = 960
    frames_per_tick: PositiveInt = 4
    fps: PositiveInt = 24
    format: VideoFormat = "mp4"
    quality: int = Field(default=20, ge=0, le=51)  # H.264 CRF (VP9 gets it + 11); lower is better
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = "superfast"  # x264; docs/canvas.md says why

    @model_validator(mode="after")
    def _even_size(self) -> CanvasConfig:
        if self.format != "gif":
            for name in ("width", "height"):
                if getattr(self, name) % 2:
                    raise ValueError(f"{name} must be even for {self.format} video (4:2:0 chroma), got {getattr(self, name)}")
        if self.element_mm > self.pitch_mm:
            raise ValueError(f"element_mm ({self.element_mm}) must not exceed pitch_mm ({self.pitch_mm})")
        return self

    @property
    def elements(self) -> int:
        return self.columns * self.rows

    @property
    def spread_mm(self) -> float:
        """Lateral spread length sqrt(diffusivity * tau): how far a hot spot's halo reaches."""
        if self.cooling_tau_s is None:
            return float("inf")
        return (self.diffusivity_mm2_s * self.cooling_tau_s) ** 0.5
