"""The Sugarscape engine: agents with sugar, spice and trade on a lattice (Epstein & Axtell).

Plain arrays in, plain arrays out: `Society` is built from a `SocietyConfig` and a seed,
stepped with optional per-tick `TickParams`, and read through its arrays; `Metrics` records a
row a tick; `simulate` runs a society and writes its metrics and plots.
"""

from sugarglass.society.config import (
    LandscapeConfig,
    Rules,
    SocietyConfig,
    SocietyConfigError,
    resolve_rules,
)
from sugarglass.society.engine import Society, TickParams, TickStats
from sugarglass.society.landscape import Landscape, load_landscape
from sugarglass.society.metrics import COLUMNS, Metrics, measure
from sugarglass.society.presets import PRESETS
from sugarglass.society.simulate import simulate

__all__ = [
    "COLUMNS", "Landscape", "LandscapeConfig", "Metrics", "PRESETS", "Rules", "Society",
    "SocietyConfig", "SocietyConfigError", "TickParams", "TickStats", "load_landscape",
    "measure", "resolve_rules", "simulate",
]
