"""The heated plate: the 2-D heat equation with element sources and Newton cooling, solved exactly.

    dT/dt = alpha * laplacian(T) + q(x, y, t) - (T - T_ambient) / tau

on a grid of square cells with an insulated (Neumann) edge. The DCT-II diagonalises the
cell-centred 5-point Neumann Laplacian, so in that basis every mode is a scalar linear ODE
    du/dt = -a u + q,    a = alpha * lambda + 1 / tau,
whose solution over a step dt with the source held constant is exact:
    u(t + dt) = u(t) e^(-a dt) + q (1 - e^(-a dt)) / a.
No step is too large (a huge dt lands on the steady state), heat is conserved to rounding when
cooling is off, and N steps of dt/N give the same field as one step of dt, so the renderer can
sample any moment between two society ticks with no interpolation error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import fft

from .config import LEVEL_MAX, CanvasConfig, CanvasInputError


def check_levels(levels: np.ndarray, count: int, name: str = "levels") -> np.ndarray:
    """The levels as float64, or a CanvasInputError naming the first bad one and why."""
    array = np.asarray(levels)
    if array.shape != (count,):
        raise CanvasInputError(f"{name} must hold {count} levels (one per element), got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise CanvasInputError(f"{name} must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array) | (array < 0.0) | (array > LEVEL_MAX)
    if bad.any():
        i = int(np.argmax(bad))
        raise CanvasInputError(
            f"{name}[{i}] = {array[i]:g} is not a level in 0..{LEVEL_MAX:g} "
            f"({int(bad.sum())} bad level(s) in all)"
        )
    return array


def element_powers(levels: np.ndarray, config: CanvasConfig) -> np.ndarray:
    """Heat (W) each element puts into the plate at its level; negative when a Peltier cools.

    Unsigned: 0 is off and LEVEL_MAX is `element_power_w`, shaped by `drive_gamma` (2 suits a
    level that sets a Peltier's current, since Joule heating goes with its square). Signed: the
    midpoint is off, above it heats and below it cools with the same curve, as a Peltier can.
    """
    if config.signed:
        mid = config.signed_midpoint
        above = levels >= mid
        fraction = np.where(above, (levels - mid) / (LEVEL_MAX - mid), (levels - mid) / mid)
    else:
        fraction = levels / LEVEL_MAX
    return config.element_power_w * np.sign(fraction) * np.abs(fraction) ** config.drive_gamma


def footprints(config: CanvasConfig, oversample: int = 8) -> np.ndarray:
    """(elements, rows, cols) fraction of each cell covered by each element's round footprint.

    Cells are split `oversample` times each way so that a footprint smaller than a cell or not
    aligned with the grid still puts in exactly its area, with no stair-steps in the halo.
    """
    n = config.cells_per_pitch
    cell = config.pitch_mm / n
    radius = config.element_mm / 2.0
    sub = (np.arange(n * oversample) + 0.5) / oversample * cell  # sample positions within one pitch
    d = sub - config.pitch_mm / 2.0
    inside = (d[:, None] ** 2 + d[None, :] ** 2) <= radius**2
    tile = inside.reshape(n, oversample, n, oversample).mean(axis=(1, 3))
    out = np.zeros((config.elements, config.rows * n, config.columns * n))
    for e in range(config.elements):
        r, c = divmod(e, config.columns)
        out[e, r * n : (r + 1) * n, c * n : (c + 1) * n] = tile
    return out


def decay_rates(config: CanvasConfig) -> np.ndarray:
    """Per DCT mode, a = alpha * lambda + 1/tau (1/s): how fast each pattern fades."""
    n = config.cells_per_pitch
    cell = config.pitch_mm / n
    ny, nx = config.rows * n, config.columns * n
    ly = (2.0 - 2.0 * np.cos(np.pi * np.arange(ny) / ny)) / cell**2
    lx = (2.0 - 2.0 * np.cos(np.pi * np.arange(nx) / nx)) / cell**2
    cooling = 0.0 if config.cooling_tau_s is None else 1.0 / config.cooling_tau_s
    return config.diffusivity_mm2_s * (ly[:, None] + lx[None, :]) + cooling


@dataclass
class Plate:
    """The plate's fixed operators; temperatures are absolute (C), fields are (rows, cols)."""

    config: CanvasConfig
    rates: np.ndarray = field(init=False)  # (ny, nx) decay rate per mode
    source_modes: np.ndarray = field(init=False)  # (elements, ny * nx): C/s per W, in the DCT basis
    _factors: dict[float, tuple[np.ndarray, np.ndarray]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rates = decay_rates(self.config)
        shapes = footprints(self.config)
        cell_m2 = (self.config.pitch_mm / self.config.cells_per_pitch / 1000.0) ** 2
        # one watt spread over the footprint's area (as discretised, so the total is exact)
        shapes /= shapes.sum(axis=(1, 2), keepdims=True) * cell_m2 * self.config.plate_heat_capacity_j_m2k
        self.source_modes = fft.dctn(shapes, type=2, norm="ortho", axes=(1, 2)).reshape(len(shapes), -1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rates.shape

    def uniform(self, temperature: float) -> np.ndarray:
        return np.full(self.shape, float(temperature))

    def source(self, powers: np.ndarray) -> np.ndarray:
        """The source field q (C/s) for the elements' powers (W)."""
        return fft.idctn((powers @ self.source_modes).reshape(self.shape), type=2, norm="ortho")

    def _step_factors(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        if dt not in self._factors:
            x = self.rates * dt
            decay = np.exp(-x)
            with np.errstate(divide="ignore", invalid="ignore"):
                gain = np.where(x > 0.0, -np.expm1(-x) / np.where(x > 0.0, self.rates, 1.0), dt)
            if len(self._factors) > 16:
                self._factors.clear()
            self._factors[dt] = (decay, gain)
        return self._factors[dt]

    def modes(self, temperature: np.ndarray) -> np.ndarray:
        """A field (C) in the DCT basis, as a rise over ambient: the form `advance_modes` steps."""
        return fft.dctn(np.asarray(temperature, dtype=np.float64) - self.config.ambient_c, type=2, norm="ortho")

    def field(self, modes: np.ndarray) -> np.ndarray:
        """The field (C) of `modes`."""
        return fft.idctn(modes, type=2, norm="ortho") + self.config.ambient_c

    def source_modes_of(self, powers: np.ndarray) -> np.ndarray:
        """The source (C/s) of the elements' powers (W) in the DCT basis, (rows, cols)."""
        return (powers @ self.source_modes).reshape(self.shape)

    def advance_modes(self, modes: np.ndarray, source: np.ndarray, dt: float) -> None:
        """Step `modes` in place by `dt` seconds under `source` (from `source_modes_of`).

        A renderer that keeps its field in modes pays one inverse transform a frame instead of
        a transform each way, and the source once a tick instead of once a frame.
        """
        if not dt >= 0.0 or not np.isfinite(dt):
            raise CanvasInputError(f"plate time step must be a finite number of seconds >= 0, got {dt!r}")
        decay, gain = self._step_factors(float(dt))
        modes *= decay
        modes += source * gain

    def advance(self, temperature: np.ndarray, powers: np.ndarray, dt: float) -> np.ndarray:
        """The field after `dt` seconds with the elements held at `powers` (W); exact for any dt."""
        modes = self.modes(temperature)
        self.advance_modes(modes, self.source_modes_of(powers), dt)
        return self.field(modes)

    def steady(self, powers: np.ndarray) -> np.ndarray:
        """The field the plate settles to with the elements held at `powers` (W); needs cooling."""
        if self.config.cooling_tau_s is None:
            raise CanvasInputError("an insulated plate (cooling_tau_s = None) has no steady state under drive")
        modes = (powers @ self.source_modes).reshape(self.shape) / self.rates
        return fft.idctn(modes, type=2, norm="ortho") + self.config.ambient_c
