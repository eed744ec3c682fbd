"""From the coarse colour-temperature field to a frame of any size, RGB or yuv420p.

The plate is simulated coarse (about 8 mm cells); the picture is made by upsampling the
*temperature* smoothly (separable cubic convolution: across into a small buffer, then down,
fused into the paint kernels) and then looking each pixel up in the crystal's colour table.
For video the kernel writes the encoder's 4:2:0 planes directly from per-entry Y' and chroma
terms (`yuv.py`), the same bytes as painting RGB and converting, without the RGB frame.
Upsampling temperature rather than colour keeps the rings' order exact: between two samples
the colour passes through the hues in between, as the film does, instead of blending red and
blue into grey.

The painting keeps its aspect ratio inside the frame; any margin is the black of the backing.
Film grain is a fixed noise texture made from the seed, shifted per frame by an offset drawn
from (seed, frame index): seeded, reproducible and cheap, and resumable from two integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from . import yuv

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


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _across(field, index, weight, rows):
    for r in numba.prange(field.shape[0]):
        for j in range(index.shape[0]):
            rows[r, j] = (
                weight[j, 0] * field[r, index[j, 0]]
                + weight[j, 1] * field[r, index[j, 1]]
                + weight[j, 2] * field[r, index[j, 2]]
                + weight[j, 3] * field[r, index[j, 3]]
            )


@numba.njit(inline="always")
def _key(rows, j, r0, r1, r2, r3, w0, w1, w2, w3, low, scale, last):
    """The colour-table entry of painting pixel (row given by its taps, column j): the
    temperature resampled down, then rounded to the nearest entry and clamped to the table,
    written with min/max so that a row's loop vectorises."""
    v = w0 * rows[r0, j] + w1 * rows[r1, j] + w2 * rows[r2, j] + w3 * rows[r3, j]
    return np.int32(min(max((v - low) * scale + np.float32(0.5), np.float32(0.0)), last))


@numba.njit(inline="always")
def _grained(table, k, c, n):
    """One channel of entry k with grain n (0.5 of rounding included), as a byte."""
    return np.int32(np.uint8(min(max(table[k, c] + n, 0.0), 255.0)))


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _paint(out, rows, index, weight, top, left, table, low, scale, grain, oy, ox, amplitude):
    height = out.shape[0]
    inner_h, inner_w = index.shape[0], rows.shape[1]
    last = np.float32(table.shape[0] - 1)
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
            k = _key(rows, j, r0, r1, r2, r3, w0, w1, w2, w3, low, scale, last)
            if amplitude > 0.0:
                n = amplitude * grain[gy, (j + ox) % tile] + np.float32(0.5)
                for c in range(3):
                    out[y, left + j, c] = _grained(table, k, c, n)
            else:
                for c in range(3):
                    out[y, left + j, c] = np.uint8(table[k, c] + np.float32(0.5))


@numba.njit(inline="always")
def _block_terms(keys, ra, rb, c, inner_h, inner_w, table, chroma_of, grain, gya, gyb, ox, amplitude):
    """Cb and Cr samples of the 2 x 2 block whose top-left pixel is painting (ra, c), any part
    of it possibly outside the painting (black, adding nothing), grain or none."""
    cb = np.int64(0)
    cr = np.int64(0)
    total = np.int64(0)
    tile = grain.shape[0]
    for di in range(2):
        r = ra if di == 0 else rb
        if r < 0 or r >= inner_h:
            continue
        gy = gya if di == 0 else gyb
        for dj in range(2):
            col = c + dj
            if col < 0 or col >= inner_w:
                continue
            k = keys[r, col]
            if amplitude > 0.0:
                n = amplitude * grain[gy, (col + ox) % tile] + np.float32(0.5)
                red_, green, blue_ = _grained(table, k, 0, n), _grained(table, k, 1, n), _grained(table, k, 2, n)
                cb += yuv.blue(red_, green, blue_)
                cr += yuv.red(red_, green, blue_)
            else:
                total += chroma_of[k]
    if amplitude > 0.0:
        return yuv.chroma(cb), yuv.chroma(cr)
    # the missing pixels of the block are black: their packed terms are the bias alone
    count = (2 if 0 <= ra < inner_h else 0) + (2 if 0 <= rb < inner_h else 0)
    count = count * ((1 if 0 <= c < inner_w else 0) + (1 if 0 <= c + 1 < inner_w else 0)) // 2
    bias = np.int64(yuv.CHROMA_BIAS)
    return yuv.unpack_chroma(total + (4 - count) * ((bias << 32) | bias))


@numba.njit(parallel=True, cache=True, fastmath=True, nogil=True)
def _paint_yuv420(y_plane, cb_plane, cr_plane, keys, rows, index, weight, top, left, table, luma_of, chroma_of,
                  low, scale, grain, oy, ox, amplitude):
    """The frame straight into 4:2:0 planes: per chroma row, its two luma rows (each row's
    table entries into `keys` first, a loop that vectorises, then their Y'), then the chroma
    of each 2 x 2 block from those entries. Blocks wholly inside the painting take a path
    without tests; the few on its edge, and every block when there is grain, the general one."""
    inner_h, inner_w = index.shape[0], rows.shape[1]
    half_w = y_plane.shape[1] // 2
    last = np.float32(table.shape[0] - 1)
    tile = grain.shape[0]
    inside_from, inside_to = (left + 1) // 2, (left + inner_w) // 2  # blocks wholly inside, across
    margin_left, margin_right = left // 2, min(half_w, (left + inner_w + 1) // 2)  # blocks wholly black outside these
    for i in numba.prange(y_plane.shape[0] // 2):
        ra, rb = 2 * i - top, 2 * i + 1 - top
        gya, gyb = (ra + oy) % tile, (rb + oy) % tile
        for di in range(2):
            y = 2 * i + di
            r = ra if di == 0 else rb
            if r < 0 or r >= inner_h:
                y_plane[y, :] = yuv.BLACK[0]
                continue
            y_plane[y, :left] = yuv.BLACK[0]
            y_plane[y, left + inner_w :] = yuv.BLACK[0]
            r0, r1, r2, r3 = index[r, 0], index[r, 1], index[r, 2], index[r, 3]
            w0, w1, w2, w3 = weight[r, 0], weight[r, 1], weight[r, 2], weight[r, 3]
            row_keys = keys[r]
            for j in range(inner_w):
                row_keys[j] = _key(rows, j, r0, r1, r2, r3, w0, w1, w2, w3, low, scale, last)
            out = y_plane[y, left : left + inner_w]
            if amplitude > 0.0:
                gy = gya if di == 0 else gyb
                for j in range(inner_w):
                    k = row_keys[j]
                    n = amplitude * grain[gy, (j + ox) % tile] + np.float32(0.5)
                    out[j] = yuv.luma(_grained(table, k, 0, n), _grained(table, k, 1, n), _grained(table, k, 2, n))
            else:
                for j in range(inner_w):
                    out[j] = luma_of[row_keys[j]]
        if (ra < 0 or ra >= inner_h) and (rb < 0 or rb >= inner_h):
            cb_plane[i, :] = yuv.BLACK[1]
            cr_plane[i, :] = yuv.BLACK[1]
            continue
        fast = amplitude == 0.0 and ra >= 0 and rb < inner_h
        cb_plane[i, :margin_left] = yuv.BLACK[1]
        cr_plane[i, :margin_left] = yuv.BLACK[1]
        cb_plane[i, margin_right:] = yuv.BLACK[1]
        cr_plane[i, margin_right:] = yuv.BLACK[1]
        for jc in range(margin_left, margin_right):
            c = 2 * jc - left
            if fast and inside_from <= jc < inside_to:
                cb, cr = yuv.unpack_chroma(chroma_of[keys[ra, c]] + chroma_of[keys[ra, c + 1]]
                                           + chroma_of[keys[rb, c]] + chroma_of[keys[rb, c + 1]])
            else:
                cb, cr = _block_terms(keys, ra, rb, c, inner_h, inner_w, table, chroma_of, grain, gya, gyb, ox,
                                      amplitude)
            cb_plane[i, jc] = cb
            cr_plane[i, jc] = cr


class Brush:
    """A layout, the colour table and grain, and scratch buffers reused frame after frame.

    Paints a plate field as an RGB frame or straight into yuv420p planes (what the video
    encoders take), so a video frame is never made in RGB and converted.
    """

    def __init__(self, where: Layout, table: np.ndarray, low: float, scale: float, grain: np.ndarray | None = None):
        self.where = where
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.low, self.scale = np.float32(low), np.float32(scale)
        self.grain = grain if grain is not None else np.zeros((1, 1), np.float32)
        self.grained = grain is not None
        self.luma, blue, red = yuv.colour_terms(self.table)
        self.chroma = yuv.packed_chroma(blue, red)
        self._field: np.ndarray | None = None
        self.rows = np.empty((0, len(where.across_index)), dtype=np.float32)
        self.keys = np.empty((len(where.down_index), len(where.across_index)), dtype=np.int16)

    def _resample_across(self, field: np.ndarray) -> None:
        if self._field is None or self._field.shape != field.shape:
            self._field = np.empty(field.shape, dtype=np.float32)
            self.rows = np.empty((field.shape[0], len(self.where.across_index)), dtype=np.float32)
        self._field[:] = field
        _across(self._field, self.where.across_index, self.where.across_weight, self.rows)

    def _amplitude(self, amplitude: float) -> np.float32:
        return np.float32(amplitude if self.grained else 0.0)

    def rgb(self, field: np.ndarray, offset: tuple[int, int] = (0, 0), amplitude: float = 0.0,
            out: np.ndarray | None = None) -> np.ndarray:
        """An RGB uint8 (height, width, 3) frame of `field`, into `out` if given."""
        where = self.where
        if out is None:
            out = np.empty((where.height, where.width, 3), dtype=np.uint8)
        self._resample_across(field)
        _paint(out, self.rows, where.down_index, where.down_weight, where.top, where.left, self.table,
               self.low, self.scale, self.grain, offset[0], offset[1], self._amplitude(amplitude))
        return out

    def yuv420(self, field: np.ndarray, out: np.ndarray, offset: tuple[int, int] = (0, 0),
               amplitude: float = 0.0) -> np.ndarray:
        """The frame of `field` into `out`, a (3h/2, w) yuv420p buffer; width and height even."""
        where = self.where
        if where.width % 2 or where.height % 2 or out.shape != (where.height * 3 // 2, where.width):
            raise ValueError(f"a yuv420p frame needs an even size and a ({where.height * 3 // 2}, {where.width}) "
                             f"buffer, got {where.width} x {where.height} and {out.shape}")
        self._resample_across(field)
        _paint_yuv420(*yuv.planes(out, where.height, where.width), self.keys, self.rows, where.down_index,
                      where.down_weight, where.top, where.left, self.table, self.luma, self.chroma,
                      self.low, self.scale, self.grain, offset[0], offset[1], self._amplitude(amplitude))
        return out

