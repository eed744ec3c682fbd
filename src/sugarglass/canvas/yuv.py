"""BT.709 limited-range Y'CbCr 4:2:0, the layout the H.264 and VP9 encoders take.

Fixed point (coefficients x 2^16) keeps the loops integer. Chroma is the mean of each 2 x 2
block, taken on the sum of its four pixels' terms (hence >> 18, a quarter of 2^-16); a black
pixel's terms are 0, so a block that straddles the painting's edge sums only its painted
pixels. The same constants serve the converter of RGB frames here and the paint kernel, which
writes these planes straight from the colour table (`render.paint_yuv420`), so both give the
same bytes for the same pixels.
"""

from __future__ import annotations

import numba
import numpy as np

LUMA = (11966, 40254, 4064)
LUMA_OFFSET = 1081344  # 16.5 x 2^16: the black level 16, and rounding
BLUE = (-6596, -22189, 28784)
RED = (28784, -26145, -2639)
CHROMA_OFFSET = 33685504  # 128.5 x 2^18: the zero level 128, and rounding, on a 2 x 2 sum
BLACK = (16, 128)  # Y' and Cb, Cr of black


@numba.njit(inline="always")
def luma(r, g, b):
    return np.uint8((LUMA[0] * r + LUMA[1] * g + LUMA[2] * b + LUMA_OFFSET) >> 16)


@numba.njit(inline="always")
def blue(r, g, b):
    return BLUE[0] * r + BLUE[1] * g + BLUE[2] * b


@numba.njit(inline="always")
def red(r, g, b):
    return RED[0] * r + RED[1] * g + RED[2] * b


@numba.njit(inline="always")
def chroma(total):
    """A chroma sample from the sum of the terms (`blue` or `red`) of a 2 x 2 block."""
    return np.uint8((total + CHROMA_OFFSET) >> 18)


CHROMA_BIAS = 1 << 23  # above any |Cb| or |Cr| term (28784 x 255 < 2^23)


def packed_chroma(blue_terms: np.ndarray, red_terms: np.ndarray) -> np.ndarray:
    """Each entry's Cb and Cr terms in one int64, each biased positive in 32 bits: a 2 x 2
    block's two sums are one sum of four loads (four such never carry, 4 x 2^24 < 2^32)."""
    return ((blue_terms.astype(np.int64) + CHROMA_BIAS) << 32) | (red_terms.astype(np.int64) + CHROMA_BIAS)


@numba.njit(inline="always")
def unpack_chroma(total):
    """The Cb and Cr samples of a block from the sum of its four `packed_chroma` entries."""
    return chroma((total >> 32) - 4 * CHROMA_BIAS), chroma((total & 0xFFFFFFFF) - 4 * CHROMA_BIAS)


def planes(buffer: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y', Cb and Cr planes of a (3h/2, w) yuv420p buffer (PyAV's layout)."""
    flat = buffer.reshape(-1)
    size, quarter = height * width, (height // 2) * (width // 2)
    return (flat[:size].reshape(height, width), flat[size : size + quarter].reshape(height // 2, width // 2),
            flat[size + quarter : size + 2 * quarter].reshape(height // 2, width // 2))


def new_buffer(height: int, width: int) -> np.ndarray:
    """A black (3h/2, w) yuv420p buffer."""
    buffer = np.empty((height * 3 // 2, width), dtype=np.uint8)
    y, cb, cr = planes(buffer, height, width)
    y[:] = BLACK[0]
    cb[:] = cr[:] = BLACK[1]
    return buffer


def colour_terms(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a float RGB colour table: each entry's Y' (uint8) and Cb, Cr terms (int32).

    The entries are rounded to bytes exactly as the RGB paint kernel rounds them, so a frame
    painted straight to planes equals the RGB frame converted here.
    """
    r, g, b = (np.asarray(rgb, dtype=np.float32) + np.float32(0.5)).astype(np.uint8).astype(np.int64).T
    y = (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b + LUMA_OFFSET) >> 16
    cb = BLUE[0] * r + BLUE[1] * g + BLUE[2] * b
    cr = RED[0] * r + RED[1] * g + RED[2] * b
    return y.astype(np.uint8), cb.astype(np.int32), cr.astype(np.int32)


@numba.njit(parallel=True, cache=True, nogil=True)
def _rgb_to_yuv420(rgb, y_plane, cb_plane, cr_plane):
    h, w = rgb.shape[0], rgb.shape[1]
    for i in numba.prange(h // 2):
        for di in range(2):
            row = 2 * i + di
            for x in range(w):
                y_plane[row, x] = luma(np.int32(rgb[row, x, 0]), np.int32(rgb[row, x, 1]), np.int32(rgb[row, x, 2]))
        for j in range(w // 2):
            cb = np.int32(0)
            cr = np.int32(0)
            for di in range(2):
                for dj in range(2):
                    r = np.int32(rgb[2 * i + di, 2 * j + dj, 0])
                    g = np.int32(rgb[2 * i + di, 2 * j + dj, 1])
                    b = np.int32(rgb[2 * i + di, 2 * j + dj, 2])
                    cb += blue(r, g, b)
                    cr += red(r, g, b)
            cb_plane[i, j] = chroma(cb)
            cr_plane[i, j] = chroma(cr)


def rgb_to_yuv420(frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """An even-sized RGB frame as a yuv420p buffer of shape (3h/2, w), into `out` if given."""
    h, w, _ = frame.shape
    if out is None:
        out = np.empty((h * 3 // 2, w), dtype=np.uint8)
    _rgb_to_yuv420(frame, *planes(out, h, w))
    return out
