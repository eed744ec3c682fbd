"""Writers: videos that decode, byte-identical reruns, metadata kept, no half-written files."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from sugarglass.canvas import CanvasConfig, VideoWriter, render_levels, write_png
from sugarglass.canvas.synthetic import levels_like_2019

SMALL = {"width": 96, "height": 128, "frames_per_tick": 2, "fps": 12}


def decode(path):
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return frames, dict(container.metadata)


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_decodes_with_the_expected_frames_and_colours(tmp_path, fmt):
    levels = levels_like_2019(6)
    config = CanvasConfig(format=fmt, **SMALL)
    paths = render_levels(levels, config, tmp_path, seed=1, metadata={"title": "glass", "manifest": '{"n": 1}'})
    assert paths == {"video": tmp_path / f"painting.{fmt}", "png": tmp_path / "painting.png"}
    frames, metadata = decode(paths["video"])
    assert len(frames) == 6 * 2
    assert frames[-1].shape == (128, 96, 3)
    still = np.asarray(Image.open(paths["png"]).convert("RGB")).astype(float)
    assert np.abs(frames[-1] - still).mean() < 5.0  # the last frame is the still, colours intact
    assert {k.lower(): v for k, v in metadata.items()}["manifest"] == '{"n": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["painting.png", f"painting.{fmt}"])


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_same_seed_same_bytes_and_grain_follows_the_seed(tmp_path, fmt):
    levels = levels_like_2019(8)
    config = CanvasConfig(grain=0.04, format=fmt, **{**SMALL, "width": 240, "height": 320})
    a = render_levels(levels, config, tmp_path / "a", seed=3)
    b = render_levels(levels, config, tmp_path / "b", seed=3)
    c = render_levels(levels, config, tmp_path / "c", seed=4)
    for kind in ("video", "png"):
        assert a[kind].read_bytes() == b[kind].read_bytes()
        assert a[kind].read_bytes() != c[kind].read_bytes()


def test_gif_and_png_are_written_and_readable(tmp_path):
    config = CanvasConfig(format="gif", width=75, height=101, frames_per_tick=3, fps=10)
    paths = render_levels(levels_like_2019(4), config, tmp_path, seed=2)
    gif = Image.open(paths["video"])
    assert gif.format == "GIF" and gif.size == (75, 101) and gif.n_frames == 12
    gif.seek(11)
    still = Image.open(paths["png"])
    assert still.size == (75, 101)
    # the palette follows the film's colours, so the GIF keeps them closely
    assert np.abs(np.asarray(gif.convert("RGB"), float) - np.asarray(still.convert("RGB"), float)).mean() < 2.0


def test_png_metadata_goes_into_text_chunks(tmp_path):
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[1, 2] = (200, 100, 50)
    path = write_png(tmp_path / "still.png", frame, {"manifest": '{"sources": ["ünïcode"]}', "seed": "7"})
    image = Image.open(path)
    assert image.text == {"manifest": '{"sources": ["ünïcode"]}', "seed": "7"}
    np.testing.assert_array_equal(np.asarray(image), frame)


def test_a_failed_write_leaves_nothing_under_the_final_name(tmp_path):
    target = tmp_path / "painting.mp4"
    with pytest.raises(RuntimeError, match="power cut"), VideoWriter(target, 64, 48, 10, "mp4") as video:
        video.write(np.zeros((48, 64, 3), np.uint8))
        raise RuntimeError("power cut")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="64 x 48"), VideoWriter(target, 64, 48, 10, "mp4") as video:
        video.write(np.zeros((50, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="even"):
        VideoWriter(target, 63, 48, 10, "mp4")
