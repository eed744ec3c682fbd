"""The classic map made in code, tiling, and the artist's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sugarglass.society import LandscapeConfig, load_landscape
from sugarglass.society.landscape import classic_tile


def test_classic_map_matches_the_books_map(mesa_map: Path):
    book = np.genfromtxt(mesa_map)
    ours = classic_tile()
    assert ours.shape == (50, 50)
    assert set(np.unique(ours)) == {0, 1, 2, 3, 4}
    assert (ours == book).mean() > 0.9
    # peaks: north-east and south-west quadrants; poor north-west and south-east corners
    assert ours[10, 38] == 4 and ours[34, 14] == 4
    assert ours[0, 0] == 0 and ours[49, 49] == 0


def test_spice_is_sugar_mirrored():
    land = load_landscape(LandscapeConfig(kind="classic"), "book")
    np.testing.assert_array_equal(land.spice_capacity, land.sugar_capacity[:, ::-1])


def test_tiles_and_crop():
    tiled = load_landscape(LandscapeConfig(tiles=(3, 2)), "book")
    assert (tiled.height, tiled.width) == (100, 150)
    np.testing.assert_array_equal(tiled.sugar_capacity[50:, 100:], classic_tile())
    cropped = load_landscape(LandscapeConfig(width=70, height=30), "book")
    assert (cropped.height, cropped.width) == (30, 70)
    np.testing.assert_array_equal(cropped.sugar_capacity[:, 50:], classic_tile()[:30, :20])


def test_space_separated_text_loads_as_csv(mesa_map: Path):
    land = load_landscape(LandscapeConfig(kind="csv", path=mesa_map), "mesa-g1mt")
    np.testing.assert_array_equal(land.sugar_capacity, np.genfromtxt(mesa_map))
    np.testing.assert_array_equal(land.spice_capacity, np.flip(np.genfromtxt(mesa_map), 1))


def test_2019_world_is_uniform():
    land = load_landscape(LandscapeConfig(), "conversions-2019")
    assert (land.height, land.width) == (50, 50)
    assert (land.sugar_capacity == 9).all()
