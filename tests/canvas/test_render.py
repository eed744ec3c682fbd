"""Frames: any size, soft everywhere, the 2019 look, checkpoints that resume exactly."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import rgb_to_hsv

from sugarglass.canvas import Canvas, CanvasConfig
from sugarglass.canvas.synthetic import levels_like_2019


def warm_canvas(ticks: int = 30, **options) -> Canvas:
    canvas = Canvas(CanvasConfig(**options), seed=4)
    for row in levels_like_2019(ticks, seed=2):
        canvas.step(row)
    return canvas


@pytest.mark.parametrize("size", [(1, 1), (61, 97), (720, 960), (1920, 1080)])
def test_renders_at_any_size_with_black_margins(size):
    canvas = warm_canvas()
    frame = canvas.render(*size)
    assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8
    if size == (1920, 1080):
        inner = 810  # the 3:4 plate fitted to the height
        assert (frame[:, : (1920 - inner) // 2] == 0).all() and (frame[:, (1920 + inner) // 2 :] == 0).all()
        assert frame[:, 960].any(axis=1).all()
    np.testing.assert_array_equal(frame, canvas.render(*size))  # a pure function of the state


def largest_jump(frame: np.ndarray) -> int:
    frame = frame.astype(np.int16)
    return max(np.abs(np.diff(frame, axis=0)).max(), np.abs(np.diff(frame, axis=1)).max())


def test_no_hard_edges():
    canvas = warm_canvas()
    frame = canvas.render(720, 960)
    assert largest_jump(frame) <= 10
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 300  # a smooth ramp, not a few flat tones
    # the same field drawn cell by cell (nearest neighbour) has the edges this test is for
    blocky = canvas.table.lookup(np.repeat(np.repeat(canvas.temperature, 10, axis=0), 10, axis=1))
    assert largest_jump(blocky) > 20


def colour_classes(frame: np.ndarray) -> dict[str, float]:
    hsv = rgb_to_hsv(frame.reshape(-1, 3) / 255.0)
    hue, value = hsv[:, 0] * 360, hsv[:, 2]
    black = value < 0.1
    return {
        "black": black.mean(),
        "olive": (~black & (hue < 80)).mean(),
        "green": (~black & (hue >= 80) & (hue < 175)).mean(),
        "blue": (~black & (hue >= 175)).mean(),
    }


def test_2019_levels_give_the_photographs_look():
    """The photograph: ~12 % black, ~38 % olive-brown, ~42 % green, the rest blue-violet spots."""
    shares = []
    for seed in (1, 2, 3):
        canvas = Canvas(CanvasConfig(), seed=seed)
        for tick, row in enumerate(levels_like_2019(300, seed=seed)):
            canvas.step(row)
            if tick >= 100 and tick % 10 == 0:
                shares.append(colour_classes(canvas.render(60, 80)))
    mean = {k: np.mean([s[k] for s in shares]) for k in shares[0]}
    assert 0.05 < mean["black"] < 0.22
    assert 0.28 < mean["olive"] < 0.50
    assert 0.30 < mean["green"] < 0.55
    assert 0.03 < mean["blue"] < 0.16


def test_frames_interpolate_a_tick_exactly():
    config = CanvasConfig(frames_per_tick=5)
    rows = levels_like_2019(3, seed=5)
    stepped, framed = Canvas(config), Canvas(config)
    for row in rows:
        frames = list(framed.frames(row, 40, 60))
        stepped.step(row)
        assert len(frames) == 5
        np.testing.assert_allclose(framed.temperature, stepped.temperature, atol=1e-10)
    assert not np.array_equal(frames[0], frames[-1])  # the plate moved within the tick
    np.testing.assert_array_equal(frames[-1], framed.render(40, 60))


def test_state_round_trip_continues_exactly():
    config = CanvasConfig(grain=0.05, hysteresis=True)
    rows = levels_like_2019(12, seed=6)
    whole = Canvas(config, seed=9)
    half = Canvas(config, seed=9)
    for row in rows[:6]:
        whole.step(row)
        half.step(row)
    state = {k: np.array(v) for k, v in half.state().items()}
    resumed = Canvas.from_state(state, config)
    for row in rows[6:]:
        whole.step(row)
        resumed.step(row)
    np.testing.assert_array_equal(whole.render(90, 120), resumed.render(90, 120))
    assert np.array_equal(whole.state()["film"], resumed.state()["film"])


def test_grain_is_seeded_and_moves_each_step():
    config = CanvasConfig(grain=0.05)
    a, b, c = (warm_canvas(5, grain=0.05) for _ in range(3))
    c = Canvas(config, seed=5)
    for row in levels_like_2019(5, seed=2):
        c.step(row)
    np.testing.assert_array_equal(a.render(90, 120), b.render(90, 120))
    assert not np.array_equal(a.render(90, 120), c.render(90, 120))  # another seed
    before = a.render(90, 120)
    a.step(np.zeros(48), ticks=0.0)  # same field, next step: new grain
    assert not np.array_equal(before, a.render(90, 120))
    clean = warm_canvas(5).render(90, 120).astype(float)
    assert 5 < np.abs(before - clean).mean() < 15  # about 0.05 x 255 of grain, on average


def test_a_state_saved_before_modes_were_kept_continues_from_its_temperature():
    """Checkpoints written before the plate was stepped in the DCT basis hold no "modes"."""
    config = CanvasConfig()
    rows = levels_like_2019(10, seed=7)
    whole = Canvas(config, seed=2)
    for row in rows[:5]:
        whole.step(row)
    state = {k: v for k, v in whole.state().items() if k != "modes"}
    resumed = Canvas.from_state(state, config)
    for row in rows[5:]:
        whole.step(row)
        resumed.step(row)
    np.testing.assert_allclose(resumed.temperature, whole.temperature, atol=1e-9)
    assert np.abs(resumed.render(90, 120).astype(int) - whole.render(90, 120)).max() <= 1
