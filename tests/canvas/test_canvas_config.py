"""Bad input is refused with a message that names it."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from sugarglass.canvas import Canvas, CanvasConfig, CanvasInputError, render_levels
from sugarglass.canvas.synthetic import levels_like_2019


def test_defaults_are_the_spec_estimates():
    config = CanvasConfig()
    assert (config.columns, config.rows, config.elements) == (6, 8, 48)
    assert 100.0 <= config.spread_mm <= 140.0  # lateral spread about one element pitch
    assert 120.0 <= config.cooling_tau_s <= 240.0  # Newton cooling, 2-4 minutes
    assert config.pitch_mm**2 / config.diffusivity_mm2_s == pytest.approx(125.0)  # ~2 min per pitch
    assert (config.event_c, config.bandwidth_c) == (25.0, 5.0)  # R25C5W
    assert not config.hysteresis and config.grain == 0.0 and not config.signed


@pytest.mark.parametrize(
    "levels, words",
    [
        (np.r_[[-1.0], np.zeros(47)], ["levels[0] = -1 ", "0..3000"]),
        (np.r_[np.zeros(5), [3000.5], np.zeros(42)], ["levels[5] = 3000.5"]),
        (np.r_[np.zeros(47), [np.nan]], ["levels[47] = nan"]),
        (np.zeros(47), ["48 levels", "(47,)"]),
        (np.zeros((6, 8)), ["48 levels", "(6, 8)"]),
        (np.array(["1"] * 48), ["real numbers"]),
    ],
)
def test_bad_levels_are_named(levels, words):
    with pytest.raises(CanvasInputError) as error:
        Canvas().step(levels)
    for word in words:
        assert word in str(error.value)


def test_a_bad_tick_in_a_run_is_named_before_anything_is_written(tmp_path):
    levels = levels_like_2019(5)
    levels[3, 12] = 4000
    with pytest.raises(CanvasInputError, match=r"levels\[tick 3\]\[12\] = 4000"):
        render_levels(levels, CanvasConfig(width=32, height=32), tmp_path / "out", seed=0)
    assert not (tmp_path / "out").exists()
    with pytest.raises(CanvasInputError, match="ticks must be"):
        Canvas().step(np.zeros(48), ticks=-1)


@pytest.mark.parametrize(
    "options, name",
    [
        ({"bandwidth_c": 0.0}, "bandwidth_c"),
        ({"bandwidth_c": -2.0}, "bandwidth_c"),
        ({"width": 0}, "width"),
        ({"height": 0}, "height"),
        ({"format": "avi"}, "format"),
        ({"fps": 0}, "fps"),
        ({"cooling_tau_s": 0}, "cooling_tau_s"),
        ({"cells_per_pitch": 2}, "cells_per_pitch"),
        ({"hysteresis_shift": 1.5}, "hysteresis_shift"),
        ({"grain": -0.1}, "grain"),
        ({"width": 721}, "width"),
        ({"element_mm": 150.0}, "element_mm"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_impossible_options_are_pydantic_errors_naming_the_option(options, name):
    with pytest.raises(ValidationError) as error:
        CanvasConfig(**options)
    assert name in str(error.value)


def test_an_odd_size_is_fine_for_gif():
    assert CanvasConfig(format="gif", width=721).width == 721
