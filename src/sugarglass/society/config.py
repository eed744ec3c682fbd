"""The `[society]` table of a work file: which preset, which landscape, which options changed.

Everything is checked here, before any work starts, and every error names the option it is
about: an artist who types `visoin = 3` or `vision = [-1, 4]` hears about it at once, not
after an hour of simulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from sugarglass.errors import SugarglassError
from sugarglass.society.presets import PRESET_LANDSCAPE, PRESETS

PresetName = Literal["book", "book-replacement", "mesa-g1mt", "conversions-2019"]
IntRange = tuple[int, int]


class SocietyConfigError(SugarglassError, ValueError):
    """A society option or landscape cannot be used; the message names which and why."""


def _check_range(name: str, value: IntRange, lowest: int) -> IntRange:
    low, high = value
    if low < lowest:
        raise ValueError(f"{name} must be at least {lowest}, got {list(value)}")
    if low > high:
        raise ValueError(f"{name} is [min, max] with min <= max, got {list(value)}")
    return value


class Rules(BaseModel):
    """Every option of the engine, all set: a preset with the work file's overrides applied.

    Ranges are inclusive integer ranges [min, max] from which each agent draws uniformly.
    `docs/society.md` explains each option and which source reads the rules which way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: PositiveInt
    endowment: IntRange
    metabolism: IntRange
    vision: IntRange
    max_age: IntRange
    torus: bool
    start_positions: Literal["distinct", "with-replacement"]
    start_fill: Literal["full", "random-2019"]
    look: Literal["rays", "diamond"]
    include_own_cell: bool
    tie_distance: Literal["manhattan", "euclidean"]
    move_goal: Literal["welfare", "most-sugar"]
    move_timing: Literal["sequential", "plan-then-move"]
    harvest: Literal["all", "sugar-all-spice-one"]
    metabolism_rule: Literal["subtract", "fraction"]
    metabolic_fraction: float = Field(ge=0.0, le=1.0)
    starvation: Literal["sugar-or-spice", "sugar-exactly-zero"]
    trade: bool
    trade_rule: Literal["bargain", "one-unit-2019"]
    trade_partners: Literal["adjacent", "look"]
    partner_order: Literal["random", "scan"]
    trade_quantities: Literal["real", "integer"]
    growback: float = Field(ge=0.0)
    growback_rule: Literal["constant", "sentiment-2019"]
    replacement: bool
    replacement_id: Literal["new", "same"]
    lifespan_rule: Literal["fixed", "sentiment-2019"]

    @field_validator("endowment")
    @classmethod
    def _endowment(cls, v: IntRange) -> IntRange:
        return _check_range("endowment", v, 0)

    @field_validator("metabolism")
    @classmethod
    def _metabolism(cls, v: IntRange) -> IntRange:
        return _check_range("metabolism", v, 1)

    @field_validator("vision")
    @classmethod
    def _vision(cls, v: IntRange) -> IntRange:
        return _check_range("vision", v, 1)

    @field_validator("max_age")
    @classmethod
    def _max_age(cls, v: IntRange) -> IntRange:
        return _check_range("max_age", v, 1)


def resolve_rules(preset: str, overrides: dict[str, Any]) -> Rules:
    """The preset's options with `overrides` applied, validated; errors name the option."""
    if preset not in PRESETS:
        raise SocietyConfigError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - set(Rules.model_fields))
    if unknown:
        raise SocietyConfigError(
            f"unknown society option(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(Rules.model_fields)}"
        )
    try:
        return Rules(**{**PRESETS[preset], **overrides})
    except ValidationError as err:
        problems = "; ".join(
            f"option {'.'.join(str(p) for p in e['loc'][:1])!r}: {e['msg']}" for e in err.errors()
        )
        raise SocietyConfigError(problems) from None


class LandscapeConfig(BaseModel):
    """Where the sugar and spice capacities come from.

    kind: `classic` (the two-peak 50 x 50 map, tiled), `uniform` (every cell the same capacity,
    the 2019 world), `png` (grey level times `scale`) or `csv` (numbers, comma- or
    space-separated). Left out, the preset chooses (classic; uniform for conversions-2019).
    Spice is the sugar map mirrored left to right unless `spice_path` gives its own file.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["classic", "uniform", "png", "csv"] | None = None
    tiles: tuple[PositiveInt, PositiveInt] | None = None  # [across, down]
    width: PositiveInt | None = None
    height: PositiveInt | None = None
    sugar_capacity: float = Field(default=9.0, ge=0.0)  # uniform only
    spice_capacity: float = Field(default=9.0, ge=0.0)  # uniform only
    path: Path | None = None
    spice_path: Path | None = None
    scale: float = Field(default=4.0, gt=0.0)  # png only: capacity of a white pixel

    def resolved_kind(self, preset: str) -> str:
        return self.kind or PRESET_LANDSCAPE[preset]

    def check_for(self, preset: str) -> None:
        """Refuse fields that the chosen kind would silently ignore."""
        kind = self.resolved_kind(preset)
        allowed = {
            "classic": {"kind", "tiles", "width", "height"},
            "uniform": {"kind", "width", "height", "sugar_capacity", "spice_capacity"},
            "png": {"kind", "tiles", "width", "height", "path", "spice_path", "scale"},
            "csv": {"kind", "tiles", "width", "height", "path", "spice_path"},
        }[kind]
        stray = sorted(self.model_fields_set - allowed)
        if stray:
            raise ValueError(
                f"landscape option(s) {', '.join(map(repr, stray))} do not apply to kind {kind!r}"
            )
        if kind in ("png", "csv") and self.path is None:
            raise ValueError(f"landscape 'path' is required for kind {kind!r}")
        if self.tiles is not None and (self.width is not None or self.height is not None):
            raise ValueError("landscape: give 'tiles' or 'width'/'height', not both")

    def shape_if_known(self, preset: str) -> tuple[int, int] | None:
        """(height, width) when it follows from the table alone, without reading a file."""
        kind = self.resolved_kind(preset)
        if kind not in ("classic", "uniform"):
            return None
        side = 50
        if self.tiles is not None:
            return side * self.tiles[1], side * self.tiles[0]
        return self.height or side, self.width or side


class SocietyConfig(BaseModel):
    """The `[society]` table: preset, default run length, landscape and option overrides."""

    model_config = ConfigDict(extra="forbid")

    preset: str = "book"
    steps: PositiveInt = 500
    landscape: LandscapeConfig = LandscapeConfig()
    options: dict[str, Any] = Field(default_factory=dict)

    _rules: Rules | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> SocietyConfig:
        self._rules = resolve_rules(self.preset, self.options)
        self.landscape.check_for(self.preset)
        shape = self.landscape.shape_if_known(self.preset)
        if shape is not None:
            check_fits(self._rules, shape[0] * shape[1])
        return self

    @property
    def rules(self) -> Rules:
        """The preset with overrides applied (already validated)."""
        assert self._rules is not None
        return self._rules


def check_fits(rules: Rules, cells: int) -> None:
    """At most one agent a cell at the start (unless starts may share) and while replacing."""
    if rules.agents > cells and (rules.start_positions == "distinct" or rules.replacement):
        raise SocietyConfigError(
            f"option 'agents': {rules.agents} agents do not fit on {cells} cells"
        )
