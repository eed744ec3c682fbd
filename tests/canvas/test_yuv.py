"""Frames painted straight into 4:2:0 planes equal RGB frames converted, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from sugarglass.canvas import Canvas, CanvasConfig
from sugarglass.canvas.synthetic import levels_like_2019
from sugarglass.canvas.yuv import new_buffer, planes, rgb_to_yuv420


def warm(**options) -> Canvas:
    canvas = Canvas(CanvasConfig(**options), seed=3)
    for row in levels_like_2019(25, seed=2):
        canvas.step(row)
    return canvas


@pytest.mark.parametrize("size", [(600, 800), (1920, 1080), (810, 1082), (62, 40), (2, 2)])
@pytest.mark.parametrize("grain", [0.0, 0.05])
def test_painted_planes_equal_the_converted_rgb_frame(size, grain):
    """Odd margins included: 1920 x 1080 puts the painting at an odd column, 810 x 1082 at an
    odd row, so chroma blocks straddle its edge on both sides."""
    width, height = size
    canvas = warm(width=width, height=height, grain=grain)
    painted = canvas.render_yuv420(new_buffer(height, width))
    converted = rgb_to_yuv420(canvas.render())
    np.testing.assert_array_equal(painted, converted)
    y, cb, cr = planes(painted, height, width)
    if width > 2:
        assert y.min() >= 16 and 0 < y.mean() and (cb.max() > 128 or cr.max() > 128)  # colour, not just black


def test_a_reused_buffer_holds_only_the_new_frame():
    canvas = warm(width=96, height=128)
    buffer = np.full((192, 96), 77, dtype=np.uint8)  # stale bytes everywhere, margins included
    canvas.render_yuv420(buffer)
    np.testing.assert_array_equal(buffer, rgb_to_yuv420(canvas.render()))


def test_black_is_black_in_limited_range():
    frame = np.zeros((4, 6, 3), dtype=np.uint8)
    y, cb, cr = planes(rgb_to_yuv420(frame), 4, 6)
    assert (y == 16).all() and (cb == 128).all() and (cr == 128).all()
    white = rgb_to_yuv420(np.full((4, 6, 3), 255, dtype=np.uint8))
    assert (planes(white, 4, 6)[0] == 235).all()


def test_the_wrong_buffer_is_refused():
    canvas = warm(width=96, height=128)
    with pytest.raises(ValueError, match=r"\(192, 96\)"):
        canvas.render_yuv420(np.zeros((128, 96), dtype=np.uint8))
