"""Readouts: the society's arrays become 48 levels in 0..3000."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sugarglass.readout import Readout, ReadoutConfig, agent_density, block_means, scale_levels
from sugarglass.society import Landscape, Society, SocietyConfig, resolve_rules


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


# Rules under which agents die often, so elements are handed on many times in a short run.
DYING = {
    "book": ({"agents": 120}, {"sugar_growback": 0.2, "spice_growback": 0.2}),
    "mesa-g1mt": ({"agents": 120}, {"sugar_growback": 0.2, "spice_growback": 0.2}),
    "book-replacement": ({"agents": 120, "max_age": [5, 15]}, {"max_age_min": 5, "max_age_max": 15}),
    "conversions-2019": ({}, {"compound": 0.3, "negative": 0.6, "max_age_min": 40, "max_age_max": 149}),
}


@pytest.mark.parametrize("preset", sorted(DYING))
def test_an_element_whose_agent_dies_is_handed_on_under_every_preset(preset):
    options, knobs = DYING[preset]
    society = Society.from_config(SocietyConfig(preset=preset, options=options), seed=3)
    params = replace(society.default_params(), **knobs)
    readout = Readout(ReadoutConfig())
    readout(society)
    handed = born = 0
    for _ in range(250):
        before = readout.tracked.copy()
        born += society.step(params).born
        living = set(society.ids[society.alive].tolist())
        levels = readout(society)
        after = readout.tracked
        assert len(set(after.tolist())) == len(after), "two elements never share an agent"
        changed = np.flatnonzero(after != before)
        assert all(int(before[k]) not in living for k in changed), "only the dead hand their element on"
        free = sorted(living - set(before.tolist()))
        assert sorted(after[changed].tolist()) == free[: len(changed)], "to the lowest living ids not yet shown"
        driven = [int(agent) in living for agent in after]
        assert sum(driven) == min(len(living), len(after)), "while there are agents, every element has one"
        assert all(levels[k] == 0 for k, alive in enumerate(driven) if not alive)
        handed += len(changed)
    if preset == "conversions-2019":
        assert born > 48, "agents died and were born again under their ids"
        assert handed == 0 and list(readout.tracked) == list(range(48)), "2019: agents 0..47 for good"
    else:
        assert handed >= 10, f"the run should hand elements on ({handed} times)"


def test_when_everyone_has_died_every_element_is_dark():
    society = world(agents=100)
    readout = Readout(ReadoutConfig(threshold=0))
    assert readout(society).max() == 3000
    society.alive[:] = False
    assert not readout(society).any()
