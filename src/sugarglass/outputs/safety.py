"""The safety limits: no hardware output is ever sent more than the ``[safety]`` table allows.

Three limits act on each tick's levels, in this order:

- on-time: an element on (any level but off) for ``max_on_seconds`` without a rest of
  ``min_rest_seconds`` is switched off until it has had that rest;
- power: when the elements together would draw more than ``max_power_w``, every element's drive
  is scaled by one factor, so the picture keeps its shape and only dims;
- plate temperature: the canvas's plate model predicts the field at the end of the tick; the
  elements whose own tile would pass ``max_plate_c`` are turned down just enough, and if that
  is not enough (heat from the neighbours), all heating together.

A limit only ever moves a level towards off, and rounds towards off. The model follows the
plate with the levels actually sent, for as long as they were actually held (a tick that ran
late counts as the ticks it lasted), so a limit reached once is held, not oscillated around.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np

from ..canvas.config import LEVEL_MAX, CanvasConfig
from .config import SafetyConfig
from .timing import Every

log = logging.getLogger("sugarglass.outputs")
COUNTERS = ("safety_limited_on_time", "safety_limited_power", "safety_limited_temperature")
MAX_CATCH_UP = 1000  # ticks of a stall counted one by one; a longer one has long settled the plate


class Limiter:
    """One tick's levels in, the levels the hardware may have out; ``counters`` say on how many
    ticks each limit lowered a level, ``metrics()`` adds the power and the predicted plate peak.

    ``seconds_per_tick`` is how long the hardware holds each tick's levels: the live loop's
    ``tick_seconds``, a batch run's ``canvas.seconds_per_tick``.
    """

    def __init__(self, config: SafetyConfig, canvas: CanvasConfig, seconds_per_tick: float, *,
                 log_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        from ..canvas.plate import Plate  # scipy: not imported by reading a work file

        if not (math.isfinite(seconds_per_tick) and seconds_per_tick > 0):
            raise ValueError(f"seconds_per_tick must be a positive number of seconds, got {seconds_per_tick!r}")
        self.config, self.canvas, self.seconds_per_tick = config, canvas, float(seconds_per_tick)
        self.count = canvas.elements
        self.element_power_w = canvas.element_power_w if config.element_power_w is None else config.element_power_w
        self.max_on_ticks = max(1, math.floor(config.max_on_seconds / seconds_per_tick + 1e-9))
        self.rest_ticks = max(1, math.ceil(config.min_rest_seconds / seconds_per_tick - 1e-9))
        if seconds_per_tick > config.max_on_seconds:
            log.warning("safety: a tick (%g s) is longer than max_on_seconds (%g s); an element may stay on one tick",
                        seconds_per_tick, config.max_on_seconds)
        self.off = int(round(canvas.signed_midpoint)) if canvas.signed else 0
        self._unit = canvas.model_copy(update={"element_power_w": 1.0})
        self.plate = Plate(canvas)
        ambient = self.plate.uniform(canvas.ambient_c)
        self._response = np.stack([  # (elements, cells): kelvin at the tick's end per watt
            (self.plate.advance(ambient, np.eye(self.count)[e], self.seconds_per_tick) - ambient).ravel()
            for e in range(self.count)])
        self._tiles = _tiles(canvas)
        self.temperature = self.plate.uniform(canvas.ambient_c if canvas.start_c is None else canvas.start_c)
        self.on_run = np.zeros(self.count, dtype=np.int64)
        self.off_run = np.zeros(self.count, dtype=np.int64)
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.power_w = 0.0
        self.plate_c = float(self.temperature.max())
        self._since = dict.fromkeys(COUNTERS, 0)
        self._log_due = Every(log_seconds, clock)
        self._clock = clock
        self._sent: np.ndarray | None = None  # the levels last let out, and when
        self._sent_at = 0.0

    @property
    def off_levels(self) -> np.ndarray:
        return np.full(self.count, self.off, dtype=np.uint16)

    def __call__(self, levels: np.ndarray) -> np.ndarray:
        from ..canvas.plate import check_levels

        raw = check_levels(levels, self.count)
        self._held_longer()
        out = raw.copy()
        resting = self.on_run >= self.max_on_ticks
        cut = resting & (raw != self.off)
        out[cut] = self.off
        drive = self._drive(out)
        scale = np.ones(self.count)
        power = float(np.abs(drive).sum()) * self.element_power_w
        if power > self.config.max_power_w:
            scale[drive != 0] = self.config.max_power_w / power
        base = self.plate.advance(self.temperature, np.zeros(self.count), self.seconds_per_tick).ravel()
        cooled = self._cool(self.canvas.element_power_w * drive * scale, base)
        lowered = (scale * cooled) < 1.0
        out[lowered] = self._levels(drive[lowered] * scale[lowered] * cooled[lowered])
        final = self._drive(out)
        lit = out != self.off
        self.on_run = np.where(lit, self.on_run + 1, np.where(self.off_run + 1 >= self.rest_ticks, 0, self.on_run))
        self.off_run = np.where(lit, 0, self.off_run + 1)
        self.temperature = (base + (self.canvas.element_power_w * final) @ self._response).reshape(self.plate.shape)
        self._sent, self._sent_at = out.copy(), self._clock()
        self.power_w = float(np.abs(final).sum()) * self.element_power_w
        self.plate_c = float(self.temperature.max())
        self._count(cut.any(), power > self.config.max_power_w, (cooled < 1.0).any())
        return out.astype(np.uint16)

    def _held_longer(self) -> None:
        """The last levels stayed on the hardware longer than one tick (a tick that ran late: a
        slow feed, a checkpoint's fsync) — the heartbeats kept them there — so their on-time and
        their heat are counted for every whole tick more they were held, before anything new."""
        if self._sent is None:
            return
        extra = min(MAX_CATCH_UP, math.floor((self._clock() - self._sent_at) / self.seconds_per_tick - 1 + 0.05))
        if extra < 1:
            return
        lit = self._sent != self.off
        powers = self.canvas.element_power_w * self._drive(self._sent)
        for _ in range(extra):
            self.on_run = np.where(lit, self.on_run + 1, np.where(self.off_run + 1 >= self.rest_ticks, 0, self.on_run))
            self.off_run = np.where(lit, 0, self.off_run + 1)
            base = self.plate.advance(self.temperature, np.zeros(self.count), self.seconds_per_tick).ravel()
            self.temperature = (base + powers @ self._response).reshape(self.plate.shape)

    def metrics(self) -> dict[str, float]:
        """The counters, the power drawn (W) and the predicted plate peak (C) after this tick."""
        return {**{k: float(v) for k, v in self.counters.items()},
                "safety_power_w": self.power_w, "safety_plate_c": self.plate_c}

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint needs so that a resumed run is limited as if it had never stopped."""
        return {"temperature": self.temperature.copy(), "on_run": self.on_run.copy(), "off_run": self.off_run.copy(),
                "counters": np.array([self.counters[k] for k in COUNTERS], dtype=np.int64)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.temperature = np.asarray(state["temperature"], dtype=np.float64).reshape(self.plate.shape)
        self.on_run = np.asarray(state["on_run"], dtype=np.int64).copy()
        self.off_run = np.asarray(state["off_run"], dtype=np.int64).copy()
        self.counters = {k: int(v) for k, v in zip(COUNTERS, state["counters"], strict=True)}
        self.plate_c = float(self.temperature.max())

    def _drive(self, levels: np.ndarray) -> np.ndarray:
        """Each element's signed share of its full power, on the canvas's drive curve."""
        from ..canvas.plate import element_powers

        return element_powers(levels, self._unit)

    def _levels(self, drive: np.ndarray) -> np.ndarray:
        """The levels for ``drive``, each rounded towards off so that no limit is overstepped."""
        fraction = np.sign(drive) * np.abs(drive) ** (1.0 / self.canvas.drive_gamma)
        if not self.canvas.signed:
            return np.maximum(np.floor(fraction * LEVEL_MAX - 1e-6), 0.0)
        mid = self.canvas.signed_midpoint
        heat = np.maximum(np.floor(mid + fraction * (LEVEL_MAX - mid) - 1e-6), self.off)
        cool = np.minimum(np.ceil(mid + fraction * mid + 1e-6), self.off)
        return np.where(fraction >= 0, heat, cool)

    def _cool(self, powers: np.ndarray, base: np.ndarray) -> np.ndarray:
        """A factor per element (1: untouched) on the heating powers that keeps the predicted
        plate at or under ``max_plate_c``. Each cell over the limit is laid to the element that
        heats it most, which is turned down by the factor that would bring the cell to just
        under the limit if all its heat were scaled alike; a few rounds settle neighbours that
        share a hot spot, so an element far from it keeps its level."""
        limit = self.config.max_plate_c
        heat = np.maximum(powers, 0.0)
        fixed = base + np.minimum(powers, 0.0) @ self._response
        scale = np.ones(self.count)
        for _ in range(16):
            share = (heat * scale)[:, None] * self._response
            rise = share.sum(axis=0)
            over = np.flatnonzero(fixed + rise > limit)
            if over.size == 0:
                return scale
            factor = np.ones(self.count)
            np.minimum.at(factor, share[:, over].argmax(axis=0),
                          np.clip((limit - 0.01 - fixed[over]) / rise[over], 0.0, 1.0))
            scale *= factor
        rise = (heat * scale) @ self._response
        if (fixed + rise).max() > limit:  # not settled: all heating down together
            room = np.divide(limit - fixed, rise, out=np.ones_like(rise), where=rise > 0)
            scale *= float(np.clip(room.min(), 0.0, 1.0))
        return scale

    def _count(self, on_time: bool, power: bool, temperature: bool) -> None:
        for name, hit in zip(COUNTERS, (on_time, power, temperature), strict=True):
            self.counters[name] += int(hit)
            self._since[name] += int(hit)
        if any(self._since.values()) and self._log_due():
            log.warning("safety: levels lowered on %d tick(s) for on-time, %d for power, %d for plate temperature "
                        "since the last such line (%.1f W of %.1f W allowed; plate %.1f C of %.1f C)",
                        *self._since.values(), self.power_w, self.config.max_power_w, self.plate_c, self.config.max_plate_c)
            self._since = dict.fromkeys(COUNTERS, 0)


def _tiles(canvas: CanvasConfig) -> np.ndarray:
    """(elements, cells of one pitch): the flat indices of the plate cells each element sits on."""
    n, nx = canvas.cells_per_pitch, canvas.columns * canvas.cells_per_pitch
    ys = np.arange(canvas.rows)[:, None] * n + np.arange(n)[None, :]
    xs = np.arange(canvas.columns)[:, None] * n + np.arange(n)[None, :]
    return (ys[:, None, :, None] * nx + xs[None, :, None, :]).reshape(canvas.elements, n * n)
