"""From the coarse colour-temperature field to an RGB frame of any size.

The plate is simulated coarse (about 8 mm cells); the picture is made by upsampling the
*temperature* smoothly (separable cubic convolution as two small matrix products, so BLAS does
the work) and then looking each pixel up in the crystal's colour table. Upsampling temperature
rather than colour keeps the rings' order exact: between two samples the colour passes through
the hues in between, as the film does, instead of blending red and blue into grey.

The painting keeps its aspect ratio inside the frame; any margin is the black of the backing.
Film grain is a fixed noise texture made from the seed, shifted per frame by an offset drawn
from (seed, frame index): seeded, reproducible and cheap, and resumable from two integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

GRAIN_TILE = 1024


def cubic_taps(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Resampling `source` cell values to `target` pixels: 4 (indices, weights) per pixel.

    Keys' cubic convolution (a = -0.5, Catmull-Rom): C1-smooth, reproduces linear ramps, and
    keeps each cell's value at its centre. Edge cells repeat outward, matching the insulated
    plate's zero-gradient edge.
    """
    centres = (np.arange(target) + 0.5) * (source / target) - 0.5
    base = np.floor(centres).astype(np.int64)
    t = centres - base
    weights = np.stack(
        [
            ((-0.5 * t + 1.0) * t - 0.5) * t,
            (1.5 * t - 2.5) * t * t + 1.0,
            ((-1.5 * t + 2.0) * t + 0.5) * t,
            (0.5 * t - 0.5) * t * t,
        ],
        axis=1,
    )
    indices = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, source - 1)
    return indices, weights


@dataclass(frozen=True)
class Layout:
    """Where the painting sits in a width x height frame, and how to resample the plate to it.

    Four taps per pixel each way: across into a (plate rows, inner width) buffer, then down,
    fused into the paint kernel, so the full-size temperature image is never stored.
    """

    width: int
    height: int
    top: int
    left: int
    across_index: np.ndarray  # (inner width, 4) plate columns
    across_weight: np.ndarray  # (inner width, 4) float32
    down_index: np.ndarray  # (inner height, 4) plate rows
    down_weight: np.ndarray  # (inner height, 4) float32


def layout(plate_shape: tuple[int, int], width: int, height: int) -> Layout:
    """Fit the plate (cells are square) into the frame, centred, keeping its aspect ratio."""
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be at least 1 x 1, got {width} x {height}")
    rows, cols = plate_shape
    scale = min(width / cols, height / rows)
    inner_w = max(1, min(width, round(cols * scale)))
    inner_h = max(1, min(height, round(rows * scale)))
    across_index, across_weight = cubic_taps(cols, inner_w)
    down_index, down_weight = cubic_taps(rows, inner_h)
    return Layout(
        width=width,
        height=height,
        top=(height - inner_h) // 2,
        left=(width - inner_w) // 2,
        across_index=across_index,
        across_weight=across_weight.astype(np.float32),
        down_index=down_index,
        down_weight=down_weight.astype(np.float32),
    )


def grain_texture(seed: int) -> np.ndarray:
    """A GRAIN_TILE-square standard-normal texture, softened to a grain about 1.5 px across."""
    noise = np.random.default_rng([seed, 0x6A41]).standard_normal((GRAIN_TILE, GRAIN_TILE), dtype=np.float32)
    soft = (noise + 0.5 * (np.roll(noise, 1, 0) + np.roll(noise, 1, 1))) / np.sqrt(1.5)
    return soft.astype(np.float32)


def grain_offset(seed: int, frame_index: int) -> tuple[int, int]:
    """The texture offset for one frame: a pure function of seed and frame index."""
    oy, ox = np.random.default_rng([seed, 0x6A41, frame_index]).integers(0, GRAIN_TILE, size=2)
    return int(oy), int(ox)


@numba.njit(parallel=True, cache=True, fastmath=True)
def _across(field, index, weight, rows):
    for r in numba.prange(field.shape[0]):
        for j in range(index.shape[0]):
            rows[r, j] = (
                weight[j, 0] * field[r, index[j, 0]]
                + weight[j, 1] * field[r, index[j, 1]]
                + weight[j, 2] * field[r, index[j, 2]]
                + weight[j, 3] * field[r, index[j, 3]]
            )


@numba.njit(parallel=True, cache=True, fastmath=True)
def _paint(out, rows, index, weight, top, left, table, low, scale, grain, oy, ox, amplitude):
    height = out.shape[0]
    inner_h, inner_w = index.shape[0], rows.shape[1]
    last = table.shape[0] - 1
    tile = grain.shape[0]
    for y in numba.prange(height):
        i = y - top
        if i < 0 or i >= inner_h:
            out[y, :, :] = 0
            continue
        out[y, :left, :] = 0
        out[y, left + inner_w :, :] = 0
        r0, r1, r2, r3 = index[i, 0], index[i, 1], index[i, 2], index[i, 3]
        w0, w1, w2, w3 = weight[i, 0], weight[i, 1], weight[i, 2], weight[i, 3]
        gy = (i + oy) % tile
        for j in range(inner_w):
            v = w0 * rows[r0, j] + w1 * rows[r1, j] + w2 * rows[r2, j] + w3 * rows[r3, j]
            x = (v - low) * scale
            k = 0 if x < 0.0 else (last if x > last else int(x + 0.5))
            if amplitude > 0.0:
                n = amplitude * grain[gy, (j + ox) % tile] + np.float32(0.5)
                for c in range(3):
                    out[y, left + j, c] = np.uint8(min(max(table[k, c] + n, 0.0), 255.0))
            else:
                for c in range(3):
                    out[y, left + j, c] = np.uint8(table[k, c] + np.float32(0.5))


def paint(
    field: np.ndarray,
    where: Layout,
    table: np.ndarray,
    low: float,
    scale: float,
    grain: np.ndarray | None = None,
    offset: tuple[int, int] = (0, 0),
    amplitude: float = 0.0,
) -> np.ndarray:
    """An RGB uint8 frame of the plate `field`: resampled, looked up in `table`, grain added.

    Margins are black. `amplitude` is the grain's standard deviation in 0..255 units, the same
    on all three channels (luminance grain, as on film), over the painting only.
    """
    rows = np.empty((field.shape[0], len(where.across_index)), dtype=np.float32)
    _across(field.astype(np.float32), where.across_index, where.across_weight, rows)
    out = np.empty((where.height, where.width, 3), dtype=np.uint8)
    texture = grain if grain is not None else np.zeros((1, 1), np.float32)
    _paint(out, rows, where.down_index, where.down_weight, where.top, where.left, table,
           np.float32(low), np.float32(scale), texture, offset[0], offset[1],
           np.float32(amplitude if grain is not None else 0.0))
    return out
