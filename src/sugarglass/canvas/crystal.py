"""Thermochromic liquid crystal: temperature -> reflected colour, with optional hysteresis.

Below the event temperature the film is clear and the black backing shows. Through the band it
reflects red, orange, yellow, green, blue; past the blue start it turns violet, flashes bright
just before its clearing point, then is clear (black) again. Published hue calibrations are
smooth monotone polynomials with most of the band spent between green and blue; here a monotone
piecewise cubic (PCHIP) through control points of that shape stands in for them, so hue can
never run backwards. Brightness is highest mid-band, and zero at both ends so that nothing in the
painting has a hard edge. The whole response is baked into a 1-D table, looked up per pixel.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import CanvasConfig

# position in the band s = (T - event) / bandwidth  ->  hue in degrees; s = 1 is the blue start
_HUE_POINTS = ((0.0, 0.0), (0.1, 30.0), (0.24, 60.0), (0.42, 115.0), (0.72, 185.0), (1.0, 245.0))
_VIOLET_DEG = 285.0
# brightness through the band (the violet tail and clearing flash are added per grade)
_VALUE_POINTS = ((0.0, 0.0), (0.04, 0.12), (0.15, 0.36), (0.45, 0.75), (0.75, 0.72), (1.0, 0.68))
_SATURATION = 0.78
_GAIN = 0.85  # the film reflects only part of the light: even its brightest green is not white
TABLE_SIZE = 4096


def clearing_position(config: CanvasConfig) -> float:
    """Where the film clears, in band units (1 is the blue start)."""
    return 1.0 + config.clearing_above_blue_c / config.bandwidth_c


Curve = Callable[[np.ndarray], np.ndarray]


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    """The slope at an end point: the three-point one-sided estimate, kept from overshooting."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > 3.0 * abs(m0):
        return 3.0 * m0
    return d


def monotone_cubic(xs: tuple[float, ...], ys: tuple[float, ...]) -> Curve:
    """The monotone piecewise cubic through the points (PCHIP: Fritsch and Carlson's method).

    At each inner point the slope is 0 where the data turn or are flat, else the weighted
    harmonic mean of the two neighbouring secants (weights 2h_k + h_(k-1) and h_k + 2h_(k-1)),
    which keeps every piece within its points: the curve never runs backwards. Here rather
    than from scipy.interpolate, whose import alone took half a second of every run.
    """
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    h = np.diff(x)
    m = np.diff(y) / h
    d = np.zeros_like(y)
    w1, w2 = 2.0 * h[1:] + h[:-1], h[1:] + 2.0 * h[:-1]
    for k in np.flatnonzero(m[:-1] * m[1:] > 0.0):  # the same sign on both sides, neither flat
        d[k + 1] = 1.0 / ((w1[k] / m[k] + w2[k] / m[k + 1]) / (w1[k] + w2[k]))
    d[0], d[-1] = _end_slope(h[0], h[1], m[0], m[1]), _end_slope(h[-1], h[-2], m[-1], m[-2])
    bend = (d[:-1] + d[1:] - 2.0 * m) / h
    cubic, square = bend / h, (m - d[:-1]) / h - bend

    def curve(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        k = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(h) - 1)
        s = t - x[k]
        return ((cubic[k] * s + square[k]) * s + d[k]) * s + y[k]

    return curve


def _curves(config: CanvasConfig) -> tuple[Curve, Curve, float]:
    clear = clearing_position(config)
    tail = clear - 1.0
    hue = monotone_cubic(*zip(*_HUE_POINTS, (clear, _VIOLET_DEG)))
    flash = (
        (1.0 + 0.55 * tail, 0.5),
        (clear - 0.12 * tail, 0.95),
        (clear, 0.0),
    )
    value = monotone_cubic(*zip(*_VALUE_POINTS, *flash))
    return hue, value, clear


def hue_degrees(temperature: np.ndarray, config: CanvasConfig) -> np.ndarray:
    """Reflected hue (degrees: 0 red .. 235 blue .. 275 violet); NaN where the film is clear."""
    hue, _, clear = _curves(config)
    s = (np.asarray(temperature, dtype=np.float64) - config.event_c) / config.bandwidth_c
    out = hue(np.clip(s, 0.0, clear))
    return np.where((s > 0.0) & (s < clear), out, np.nan)


@dataclass(frozen=True)
class ColourTable:
    """RGB (0..255, float32) for colour temperatures low..high in equal steps; black outside."""

    rgb: np.ndarray  # (TABLE_SIZE, 3) float32
    low: float
    high: float

    @property
    def scale(self) -> float:
        """Table entries per degree C."""
        return (len(self.rgb) - 1) / (self.high - self.low)

    def lookup(self, temperature: np.ndarray) -> np.ndarray:
        """RGB uint8 for an array of colour temperatures (the slow path; frames use render.py)."""
        index = np.clip(np.rint((np.asarray(temperature) - self.low) * self.scale), 0, len(self.rgb) - 1)
        return np.clip(np.rint(self.rgb[index.astype(np.intp)]), 0, 255).astype(np.uint8)


def colour_table(config: CanvasConfig, size: int = TABLE_SIZE) -> ColourTable:
    """Bake the grade's response into a table spanning just past event .. clearing."""
    hue, value, clear = _curves(config)
    low = config.event_c - 0.02 * config.bandwidth_c
    high = config.event_c + (clear + 0.02) * config.bandwidth_c
    s = (np.linspace(low, high, size) - config.event_c) / config.bandwidth_c
    inside = (s > 0.0) & (s < clear)
    h = np.where(inside, hue(np.clip(s, 0.0, clear)), 0.0) / 360.0
    v = np.where(inside, np.clip(value(np.clip(s, 0.0, clear)), 0.0, 1.0), 0.0) * _GAIN
    rgb = np.array([colorsys.hsv_to_rgb(hh, _SATURATION, vv) for hh, vv in zip(h, v)], dtype=np.float32)
    return ColourTable(rgb=rgb * 255.0, low=low, high=high)


def play(memory: np.ndarray, temperature: np.ndarray, shift_c: float) -> np.ndarray:
    """Hysteresis as a play (backlash) operator: the film's colour temperature.

    Heating, the film shows the colour of its temperature; cooling, the colour lags, following a
    curve shifted by `shift_c` (the colour of a temperature that much higher), until the plate has
    cooled through the dead band. Continuous in the temperature, so it adds no edges.
    """
    return np.minimum(np.maximum(memory, temperature), temperature + shift_c)
