"""The Sugarscape engine: agents with sugar, spice and trade on a lattice (Epstein & Axtell).

Plain arrays in, plain arrays out: `Society` is built from a `SocietyConfig` and a seed,
stepped with optional per-tick `TickParams`, and read through its arrays; `Metrics` records a
row a tick; `save_society` / `load_society` checkpoint it; `simulate` runs a society and writes
its metrics and plots; `warm_up` compiles every kernel. Dependencies run one way: the engine
knows nothing of metrics, checkpoints or runs, and each of those reads the engine.
"""

from sugarglass.society.checkpoint import load_society, save_society
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
from sugarglass.society.warm import warm_up

__all__ = [
    "COLUMNS", "Landscape", "LandscapeConfig", "Metrics", "PRESETS", "Rules", "Society",
    "SocietyConfig", "SocietyConfigError", "TickParams", "TickStats", "load_landscape",
    "load_society", "measure", "resolve_rules", "save_society", "simulate", "warm_up",
]
