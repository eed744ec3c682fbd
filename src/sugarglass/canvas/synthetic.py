"""Levels with the 2019 output's statistics, to look at the canvas without running a society.

57 % of levels 0, the rest 1500..3000 (mean about 2130), about 26 % of elements switching
between off and on each tick: a two-state chain per element, its wealth drifting.
"""

from __future__ import annotations

import numpy as np


def levels_like_2019(ticks: int, seed: int = 1, on: float = 0.43, switch: float = 0.26) -> np.ndarray:
    rng = np.random.default_rng(seed)
    up, down = switch / (2 * (1 - on)), switch / (2 * on)
    state = rng.random(48) < on
    wealth = rng.beta(1.5, 2.0, 48)
    out = np.zeros((ticks, 48))
    for t in range(ticks):
        draw = rng.random(48)
        state = np.where(state, draw >= down, draw < up)
        wealth = np.clip(wealth + rng.normal(0.0, 0.05, 48), 0.0, 1.0)
        out[t] = np.where(state, 1500 + 1500 * wealth, 0.0)
    return out
