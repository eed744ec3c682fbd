"""Bad input is refused before any work starts, and the message names the option."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from sugarglass.society import Society, SocietyConfig, resolve_rules
from sugarglass.society.config import SocietyConfigError


def test_options_override_the_preset():
    config = SocietyConfig(preset="mesa-g1mt", options={"agents": 120, "trade": False})
    assert config.rules.agents == 120
    assert config.rules.trade is False
    assert config.rules.look == "diamond"  # the rest still from the preset


@pytest.mark.parametrize("preset", ["book", "book-replacement", "mesa-g1mt", "conversions-2019"])
def test_every_preset_validates(preset):
    assert SocietyConfig(preset=preset).rules.agents > 0


def test_unknown_preset_is_named():
    with pytest.raises(ValidationError, match="unknown preset 'sugarscape-3000'"):
        SocietyConfig(preset="sugarscape-3000")


def test_unknown_option_is_named():
    with pytest.raises(ValidationError, match="'visoin'"):
        SocietyConfig(options={"visoin": [1, 3]})


def test_negative_vision_is_named():
    with pytest.raises(SocietyConfigError, match="option 'vision'.*at least 1"):
        resolve_rules("book", {"vision": [-1, 4]})


def test_wrong_type_is_named():
    with pytest.raises(SocietyConfigError, match="option 'look'"):
        resolve_rules("book", {"look": "hexagon"})


def test_more_agents_than_cells():
    with pytest.raises(ValidationError, match="option 'agents': 2501 agents do not fit on 2500"):
        SocietyConfig(options={"agents": 2501})


def test_more_agents_than_cells_in_a_file(tmp_path: Path):
    (tmp_path / "map.csv").write_text("1,2\n3,4\n")
    config = SocietyConfig(landscape={"kind": "csv", "path": "map.csv"}, options={"agents": 5})
    with pytest.raises(SocietyConfigError, match="option 'agents'"):
        Society.from_config(config, seed=1, base_dir=tmp_path)


def test_unknown_top_level_key():
    with pytest.raises(ValidationError, match="preset_name"):
        SocietyConfig(preset_name="book")


def test_landscape_field_that_does_not_apply():
    with pytest.raises(ValidationError, match="'path'.*do not apply to kind 'classic'"):
        SocietyConfig(landscape={"kind": "classic", "path": "x.csv"})


def _society(tmp_path: Path, kind: str, **landscape: object) -> Society:
    config = SocietyConfig(landscape={"kind": kind, **landscape}, options={"agents": 2})
    return Society.from_config(config, seed=1, base_dir=tmp_path)


def test_csv_with_a_hole(tmp_path: Path):
    (tmp_path / "holes.csv").write_text("1,2,3\n4,,6\n")
    with pytest.raises(SocietyConfigError, match="row 2, column 2: hole"):
        _society(tmp_path, "csv", path="holes.csv")


def test_csv_with_ragged_rows(tmp_path: Path):
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(SocietyConfigError, match="row 2: wrong shape"):
        _society(tmp_path, "csv", path="ragged.csv")


def test_spice_map_of_another_shape(tmp_path: Path):
    (tmp_path / "sugar.csv").write_text("1,2\n3,4\n")
    (tmp_path / "spice.csv").write_text("1,2,3\n3,4,5\n")
    with pytest.raises(SocietyConfigError, match="'spice_path': wrong shape"):
        _society(tmp_path, "csv", path="sugar.csv", spice_path="spice.csv")


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(SocietyConfigError, match="no such file"):
        _society(tmp_path, "csv", path="nowhere.csv")


def test_png_with_a_transparent_hole(tmp_path: Path):
    from matplotlib import image

    pixels = np.ones((4, 5, 4))
    pixels[2, 3, 3] = 0.0
    image.imsave(tmp_path / "map.png", pixels)
    with pytest.raises(SocietyConfigError, match="hole \\(transparent pixel\\) at row 3, column 4"):
        _society(tmp_path, "png", path="map.png")


def test_png_grey_levels_become_capacities(tmp_path: Path):
    from matplotlib import image

    grey = np.array([[0.0, 0.5], [1.0, 0.25]])
    image.imsave(tmp_path / "map.png", grey, cmap="gray", vmin=0, vmax=1)
    society = _society(tmp_path, "png", path="map.png", scale=4.0)
    np.testing.assert_allclose(society.sugar_capacity.reshape(2, 2), grey * 4, atol=0.02)
