"""Small hand-built worlds for engine tests: place agents exactly, give cells exact sugar."""

from __future__ import annotations

import numpy as np

from sugarglass.society import Landscape, Society, resolve_rules
from sugarglass.society.space import rebuild_occupancy


def place(society: Society, cells: list[tuple[int, int]]) -> None:
    """Put agent k on (x, y) = cells[k]; every other agent is removed."""
    society.alive[:] = False
    for agent, (x, y) in enumerate(cells):
        society.alive[agent] = True
        society.cell[agent] = y * society.width + x
    rebuild_occupancy(society.cell, society.alive, society.head, society.next_in_cell)


def small_world(preset: str, sugar: np.ndarray, spice: np.ndarray | None = None,
                seed: int = 0, **options: object) -> Society:
    """A society on a hand-made landscape, with the preset's rules and some options changed."""
    sugar = np.asarray(sugar, dtype=np.float32)
    spice = np.asarray(spice if spice is not None else np.zeros_like(sugar), dtype=np.float32)
    rules = resolve_rules(preset, {"agents": 1, **options})
    return Society(rules, Landscape(sugar, spice), seed)
