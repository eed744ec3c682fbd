"""The film's colour response: hue order, black outside the band, brightness, hysteresis."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from sugarglass.canvas import Canvas, CanvasConfig, colour_table, hue_degrees


@pytest.mark.parametrize("event, width", [(25.0, 5.0), (30.0, 1.0), (20.0, 20.0)])
def test_hue_rises_monotonically_through_the_band(event, width):
    config = CanvasConfig(event_c=event, bandwidth_c=width)
    clear = event + width + config.clearing_above_blue_c
    t = np.linspace(event + 1e-6, clear - 1e-6, 2001)
    hue = hue_degrees(t, config)
    assert np.all(np.diff(hue) > 0)
    assert hue[0] == pytest.approx(0.0, abs=0.1)  # red at the event temperature
    assert hue_degrees(event + width, config) == pytest.approx(245.0)  # blue at event + bandwidth
    assert 270.0 < hue[-1] <= 285.0  # violet just before clearing
    # most of the band is green to blue
    green_at = t[np.argmax(hue >= 120.0)]
    assert (green_at - event) / width < 0.5
    assert np.isnan(hue_degrees(np.array([event - 0.1, clear + 0.1]), config)).all()


def test_the_colour_table_hue_is_monotone_and_black_outside_the_band():
    config = CanvasConfig()
    table = colour_table(config)
    t = np.linspace(table.low, table.high, len(table.rgb))
    rgb = table.rgb / 255.0
    hsv = np.array([colorsys.rgb_to_hsv(*c) for c in rgb])
    inside = (t > config.event_c) & (t < config.event_c + config.bandwidth_c + config.clearing_above_blue_c)
    assert (rgb[~inside] == 0).all()
    visible = inside & (hsv[:, 2] > 0.02)
    hue = np.unwrap(hsv[visible, 0] * 2 * np.pi) * 180 / np.pi
    assert np.all(np.diff(hue) >= -0.5)
    assert hue[-1] - hue[0] > 270
    value = hsv[:, 2]
    blue = np.argmin(np.abs(t - (config.event_c + config.bandwidth_c)))
    mid = np.argmin(np.abs(t - (config.event_c + 0.5 * config.bandwidth_c)))
    assert value[mid] > value[blue] > value[np.argmin(np.abs(t - config.event_c - 0.05))]
    assert value[blue:].max() > value[blue] + 0.1  # the bright flash before clearing
    # no hard edge: entering and leaving the band, brightness changes gradually
    assert np.abs(np.diff(rgb, axis=0)).max() < 0.02


def test_hysteresis_lags_the_colour_on_cooling_only():
    levels = np.zeros(48)
    levels[20] = 3000
    plain = Canvas(CanvasConfig())
    lagged = Canvas(CanvasConfig(hysteresis=True, hysteresis_shift=0.4))
    for _ in range(10):
        plain.step(levels)
        lagged.step(levels)
    np.testing.assert_array_equal(plain.colour_temperature, plain.temperature)
    np.testing.assert_allclose(lagged.colour_temperature, lagged.temperature)  # heating: no lag
    hot = np.unravel_index(np.argmax(lagged.temperature), lagged.temperature.shape)
    peak = lagged.temperature[hot]
    lagged.step(np.zeros(48), ticks=0.02)
    shift = 0.4 * 5.0
    first = lagged.colour_temperature[hot]
    assert first == pytest.approx(peak) and lagged.temperature[hot] < peak - 0.1  # colour holds
    unlagged = Canvas.from_state(lagged.state(), CanvasConfig())  # same plate, no hysteresis
    assert np.abs(lagged.render(120, 160).astype(int) - unlagged.render(120, 160)).max() > 20
    for _ in range(10):
        lagged.step(np.zeros(48))
    lag = lagged.colour_temperature - lagged.temperature
    assert lag[hot] == pytest.approx(shift)  # cooled through the dead band: the shifted curve
    assert lag.min() >= 0.0 and lag.max() <= shift + 1e-12


def test_the_monotone_cubic_is_scipys_pchip():
    """The curve is computed here so that painting never imports scipy.interpolate (half a
    second); it must be the same PCHIP, turns, flat runs and uneven spacing included."""
    from scipy.interpolate import PchipInterpolator

    from sugarglass.canvas.crystal import monotone_cubic

    rng = np.random.default_rng(5)
    for _ in range(100):
        count = int(rng.integers(3, 9))
        x = np.cumsum(rng.random(count) + 0.01)
        y = rng.normal(size=count) * (rng.random(count) > 0.25)
        t = np.linspace(x[0], x[-1], 2001)
        np.testing.assert_allclose(monotone_cubic(tuple(x), tuple(y))(t), PchipInterpolator(x, y)(t), rtol=0, atol=1e-11)
