"""Writers: videos that decode, byte-identical reruns, metadata kept, no half-written files."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from sugarglass.canvas import CanvasConfig, VideoWriter, render_levels, write_png
from sugarglass.canvas.synthetic import levels_like_2019
from sugarglass.canvas.yuv import rgb_to_yuv420

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


def test_frames_come_out_in_the_order_written_through_the_encoding_thread(tmp_path):
    """More frames than buffers, some written as RGB and some drawn into free buffers."""
    shades = [int(v) for v in np.linspace(20, 230, 11)]
    with VideoWriter(tmp_path / "order.mp4", 64, 48, 10, "mp4", depth=2) as video:
        for i, shade in enumerate(shades):
            frame = np.full((48, 64, 3), shade, dtype=np.uint8)
            if i % 2:
                video.write(frame)
            else:
                buffer = video.buffer()
                buffer[:] = rgb_to_yuv420(frame)
                video.submit(buffer)
    frames, _ = decode(tmp_path / "order.mp4")
    assert [round(f.mean()) for f in frames] == pytest.approx(shades, abs=2)


def test_an_encoder_failure_reaches_the_caller_and_leaves_no_file(tmp_path):
    target = tmp_path / "painting.mp4"
    with pytest.raises(RuntimeError, match="encoding painting.mp4 failed"):  # x264 refuses to open
        with VideoWriter(target, 64, 48, 10, "mp4", preset="no-such-preset", depth=1) as video:
            for _ in range(4):
                video.write(np.zeros((48, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_a_buffer_of_another_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\(72, 64\) uint8"), VideoWriter(tmp_path / "v.mp4", 64, 48, 10, "mp4") as video:
        video.submit(np.zeros((48, 64, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_render_levels_repeats_its_frames_exactly_without_grain(tmp_path):
    """The demo's path: no grain, the default preset, frames drawn into the encoder's buffers."""
    levels = levels_like_2019(10, seed=4)
    config = CanvasConfig(**{**SMALL, "width": 120, "height": 160})
    a = render_levels(levels, config, tmp_path / "a", seed=2)
    b = render_levels(levels, config, tmp_path / "b", seed=2)
    assert a["video"].read_bytes() == b["video"].read_bytes()
    assert a["png"].read_bytes() == b["png"].read_bytes()
    frames_a, _ = decode(a["video"])
    frames_b, _ = decode(b["video"])
    assert len(frames_a) == 20 and all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b, strict=True))
