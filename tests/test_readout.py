"""Readouts: the society's arrays become 48 levels in 0..3000."""

from __future__ import annotations

import numpy as np

from sugarglass.readout import Readout, ReadoutConfig, agent_density, block_means, scale_levels
from sugarglass.society import Landscape, Society, resolve_rules


def world(agents: int = 60, seed: int = 1) -> Society:
    """A real society on a 50 x 50 landscape of random capacities, a few ticks old."""
    rng = np.random.default_rng(seed)
    sugar = rng.integers(0, 5, (50, 50)).astype(np.float32)
    society = Society(resolve_rules("book", {"agents": agents}), Landscape(sugar, sugar[:, ::-1].copy()), seed)
    for _ in range(3):
        society.step()
    return society


def test_scale_levels_is_the_2019_rule():
    levels = scale_levels(np.array([10.0, 20.0, 30.0, 40.0, 24.0, 25.0]), 1500)
    assert list(levels) == [0, 0, 2000, 3000, 0, 1500]
    assert list(scale_levels(np.array([5.0, 5.0]), 1500)) == [0, 0]
    assert list(scale_levels(np.array([np.nan, 1.0, 3.0]), 0)) == [0, 0, 3000]


def test_tracked_agents_follow_ids_and_adopt_a_successor():
    w = world(agents=200)
    readout = Readout(ReadoutConfig())
    readout.tracked = np.sort(w.ids[w.alive])[:48]
    levels = readout(w)
    assert levels.shape == (48,) and levels.dtype == np.uint16
    assert set(np.unique(levels)) <= {0} | set(range(1500, 3001))
    wealth = w.sugar_by_id(readout.tracked)
    assert levels[int(np.nanargmax(wealth))] == 3000
    gone = int(readout.tracked[5])
    w.alive[np.flatnonzero(w.ids == gone)] = False
    taken = set(readout.tracked.tolist())
    readout(w)
    successor = min(int(i) for i in w.ids[w.alive] if int(i) not in taken)
    assert readout.tracked[5] == successor, "the dead agent's element adopts the lowest free living id"


def test_blocks_cover_the_grid_in_row_major_order():
    grid = np.zeros((50, 50))
    grid[:6, :8] = 1.0  # the first block: rows 0..5, columns 0..7 of a 50 x 50 grid
    means = block_means(grid, 8, 6)
    assert means.shape == (48,) and means[0] == 1.0 and means[1:].sum() == 0
    x = np.array([0, 1, 49]); y = np.array([0, 0, 49])
    density = agent_density(x, y, 50, 50, 8, 6)
    assert density[0] > 0 and density[47] > 0 and density[1:47].sum() == 0


def test_resource_and_density_readouts_and_smoothing():
    w = world()
    for kind in ("resource-blocks", "density-blocks"):
        levels = Readout(ReadoutConfig(kind=kind, threshold=0))(w)
        assert levels.shape == (48,) and levels.max() == 3000 and levels.min() == 0
    smooth = Readout(ReadoutConfig(kind="resource-blocks", smoothing=0.5, threshold=0))
    first = smooth(w).astype(float)
    w.step()
    raw = Readout(ReadoutConfig(kind="resource-blocks", threshold=0))(w).astype(float)
    second = smooth(w).astype(float)
    assert np.all(np.abs(second - np.floor((first + raw) / 2)) <= 1)
