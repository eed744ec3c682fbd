"""Compile every kernel before the work that times or parallelises it.

Numba compiles a kernel on its first call (or loads it from the on-disk cache). A benchmark
that wants the compile apart from the run, or a sweep whose local workers must only read the
cache rather than race to write it, steps a tiny society of each preset and measures it once
here. It lives outside the engine because it needs both the engine and the metrics.
"""

from __future__ import annotations

import numpy as np

from sugarglass.society.config import resolve_rules
from sugarglass.society.engine import Society
from sugarglass.society.landscape import Landscape
from sugarglass.society.metrics import measure
from sugarglass.society.presets import PRESETS


def warm_up() -> None:
    """Step and measure a 20-agent society of every preset on a 12 x 12 world."""
    capacity = np.full((12, 12), 4.0, dtype=np.float32)
    for preset in PRESETS:
        society = Society(resolve_rules(preset, {"agents": 20}), Landscape(capacity, capacity), 0)
        society.step()
        measure(society)
