"""The painting as a running thing: plate state, film memory, frames, and whole-run rendering.

`Canvas` holds only plain arrays and counters (see `state()`), so a live installation can
checkpoint it and carry on. Each society tick holds the elements at that tick's levels for
`seconds_per_tick` of plate time; with `frames_per_tick` > 1 the plate is advanced in equal
sub-steps and each is drawn. The plate solver is exact at any step, so these in-between frames
are the true field at those moments, not blends of the two tick states.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np
from rich.progress import Progress

from .config import CanvasConfig, CanvasInputError
from .crystal import colour_table, play
from .media import VideoWriter, write_png
from .plate import Plate, check_levels, element_powers
from .render import Brush, grain_offset, grain_texture, layout


class Canvas:
    """The heated plate under its liquid-crystal film, rendered on demand."""

    def __init__(self, config: CanvasConfig | None = None, seed: int = 0):
        self.config = config or CanvasConfig()
        self.seed = int(seed)
        self.plate = Plate(self.config)
        self.table = colour_table(self.config)
        start = self.config.ambient_c if self.config.start_c is None else self.config.start_c
        self._field = self.plate.uniform(start)
        self._modes = self.plate.modes(self._field)  # the state the plate is stepped in
        self._film = self._field.copy()
        self.seconds = 0.0
        self.steps = 0
        self._grain: np.ndarray | None = None
        self._brushes: dict[tuple[int, int], Brush] = {}

    @property
    def temperature(self) -> np.ndarray:
        """The plate temperature (C), (rows * cells_per_pitch, columns * cells_per_pitch), a copy."""
        return self._field.copy()

    @property
    def colour_temperature(self) -> np.ndarray:
        """The temperature whose colour the film shows: the plate's, or its hysteresis-lagged one."""
        return (self._film if self.config.hysteresis else self._field).copy()

    def _advance(self, source: np.ndarray, seconds: float) -> None:
        """Step the plate `seconds` under `source` (the powers in the DCT basis)."""
        self.plate.advance_modes(self._modes, source, seconds)
        self._field = self.plate.field(self._modes)
        shift = self.config.hysteresis_shift * self.config.bandwidth_c
        self._film = play(self._film, self._field, shift)
        self.seconds += seconds
        self.steps += 1

    def _source(self, levels: np.ndarray) -> np.ndarray:
        return self.plate.source_modes_of(element_powers(check_levels(levels, self.config.elements), self.config))

    def step(self, levels: np.ndarray, ticks: float = 1.0) -> None:
        """Hold the elements at `levels` (one per element, 0..3000) for `ticks` society ticks."""
        if not (np.isfinite(ticks) and ticks >= 0.0):
            raise CanvasInputError(f"ticks must be a finite number >= 0, got {ticks!r}")
        self._advance(self._source(levels), ticks * self.config.seconds_per_tick)

    def sub_steps(self, levels_next: np.ndarray) -> Iterator[int]:
        """Advance one tick under `levels_next` in `frames_per_tick` equal exact steps, yielding
        after each (its number) so the caller can draw that moment; the last ends the tick."""
        source = self._source(levels_next)
        count = self.config.frames_per_tick
        for i in range(count):
            self._advance(source, self.config.seconds_per_tick / count)
            yield i

    def _brush(self, width: int | None, height: int | None) -> Brush:
        size = (width or self.config.width, height or self.config.height)
        if size not in self._brushes:
            if self.config.grain > 0.0 and self._grain is None:
                self._grain = grain_texture(self.seed)
            self._brushes[size] = Brush(layout(self.plate.shape, *size), self.table.rgb, self.table.low,
                                        self.table.scale, self._grain if self.config.grain > 0.0 else None)
        return self._brushes[size]

    def _shown(self) -> np.ndarray:
        return self._film if self.config.hysteresis else self._field

    def render(self, width: int | None = None, height: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """The painting now, as an RGB uint8 (height, width, 3) frame (config size by default).

        A pure function of the state: rendering twice gives the same frame; the grain moves on
        with each plate step. `out`, if given, is filled and returned.
        """
        return self._brush(width, height).rgb(self._shown(), grain_offset(self.seed, self.steps),
                                              self.config.grain * 255.0, out)

    def render_yuv420(self, out: np.ndarray) -> np.ndarray:
        """The painting now at the config size, into `out`: a (3h/2, w) yuv420p buffer.

        The same frame as `render()` converted by `yuv.rgb_to_yuv420`, drawn without the RGB step.
        """
        return self._brush(None, None).yuv420(self._shown(), out, grain_offset(self.seed, self.steps),
                                              self.config.grain * 255.0)

    def frames(self, levels_next: np.ndarray, width: int | None = None, height: int | None = None) -> Iterator[np.ndarray]:
        """Advance one tick under `levels_next`, yielding `frames_per_tick` frames along the way.

        The last frame shows the plate at the end of the tick.
        """
        for _ in self.sub_steps(levels_next):
            yield self.render(width, height)

    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to carry on exactly, as plain arrays (fits `np.savez`)."""
        return {
            "temperature": self._field.copy(),
            "modes": self._modes.copy(),
            "film": self._film.copy(),
            "seconds": np.array(self.seconds),
            "steps": np.array(self.steps, dtype=np.int64),
            "grain_seed": np.array(self.seed, dtype=np.int64),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], config: CanvasConfig) -> Canvas:
        """A canvas that continues from `state()`; the config must be the one it ran with.

        A state without "modes" (saved before the plate was stepped in them) continues from
        its temperature, which is the same field to rounding.
        """
        canvas = cls(config, seed=int(state["grain_seed"]))
        for name in ("temperature", "film", "modes"):
            if name in state and np.shape(state[name]) != canvas.plate.shape:
                raise CanvasInputError(
                    f"state {name!r} has shape {np.shape(state[name])}, this config's plate is {canvas.plate.shape}"
                )
        canvas._field = np.array(state["temperature"], dtype=np.float64)
        canvas._modes = (np.array(state["modes"], dtype=np.float64) if "modes" in state
                         else canvas.plate.modes(canvas._field))
        canvas._film = np.array(state["film"], dtype=np.float64)
        canvas.seconds = float(state["seconds"])
        canvas.steps = int(state["steps"])
        return canvas


def palette(config: CanvasConfig, colours: int = 256) -> np.ndarray:
    """A GIF palette along the film's colour ramp: black, then colours evenly spaced along it.

    Every colour the film shows lies on one curve through RGB, so spacing the palette by length
    along that curve covers the painting far better than any generic palette.
    """
    ramp = colour_table(config).rgb.astype(np.float64)
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ramp, axis=0), axis=1))])
    picks = np.searchsorted(along, np.linspace(0.0, along[-1], colours - 1)).clip(0, len(ramp) - 1)
    return np.vstack([np.zeros((1, 3)), np.rint(ramp[picks])]).astype(np.uint8)


def render_levels(
    levels: np.ndarray,
    config: CanvasConfig,
    out_dir: Path | str,
    seed: int,
    progress: Progress | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Run the canvas over per-tick levels (ticks, elements); write the video and the final still.

    Returns {"video": out_dir/painting.<format>, "png": out_dir/painting.png}. All levels are
    checked before anything is written; `metadata` goes into both files where the format allows.
    Frames are drawn straight into the encoder's buffers (yuv420p for mp4 and webm) while the
    encoder's thread encodes the ones before (`VideoWriter`).
    """
    array = np.asarray(levels)
    if array.ndim != 2 or array.shape[0] < 1:
        raise CanvasInputError(f"levels must be a (ticks, {config.elements}) array with at least one tick, got shape {array.shape}")
    for tick, row in enumerate(array):
        check_levels(row, config.elements, name=f"levels[tick {tick}]")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"video": out_dir / f"painting.{config.format}", "png": out_dir / "painting.png"}
    canvas = Canvas(config, seed=seed)
    threads = numba.get_num_threads()
    numba.set_num_threads(render_threads(threads))
    own = progress is None
    bar = progress or Progress(transient=True)
    task = bar.add_task("painting", total=len(array))
    with VideoWriter(
        paths["video"], config.width, config.height, config.fps, config.format, metadata=metadata,
        quality=config.quality, palette=palette(config), preset=config.preset,
    ) as video:
        if own:
            bar.start()
        try:
            for row in array:
                for _ in canvas.sub_steps(row):
                    buffer = video.buffer()
                    if video.layout == "yuv420p":
                        canvas.render_yuv420(buffer)
                    else:
                        canvas.render(out=buffer)
                    video.submit(buffer)
                bar.update(task, advance=1)
        finally:
            numba.set_num_threads(threads)
            if own:
                bar.stop()
    write_png(paths["png"], canvas.render(), metadata)
    return paths


def render_threads(available: int, encoder: int = 2) -> int:
    """Threads for the paint kernels while a video encodes: the cores the encoder leaves.

    On two cores that is one: measured, parallel kernels beside the encoder's two threads
    waited on each other (15 ms a 1080p frame, not 4); with more cores the frame is drawn on
    those the encoder does not use. Frames do not depend on it (rows are independent).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(available, cores - encoder))
