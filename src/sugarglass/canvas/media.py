"""Writers for the painting: PNG stills, and MP4 (H.264), WebM (VP9) or GIF video through PyAV.

Every writer writes to a hidden temporary file beside the target and renames it into place only
when the file is complete, so an interrupted or failed run never leaves a half-written painting
under the final name. Encoder settings are fixed (thread counts included), so the same frames
give the same bytes on every run. Metadata goes where the format keeps it: PNG text chunks, MP4
`mdta` tags, Matroska tags; GIF has no place for it.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

import av
import numba
import numpy as np
from PIL import Image, PngImagePlugin

from .config import VideoFormat

_CODECS = {"mp4": "libx264", "webm": "libvpx-vp9", "gif": "gif"}


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _check_frame(frame: np.ndarray, width: int | None = None, height: int | None = None) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame is an (height, width, 3) uint8 RGB array, got {frame.shape} {frame.dtype}")
    if width is not None and frame.shape[:2] != (height, width):
        raise ValueError(f"frame is {frame.shape[1]} x {frame.shape[0]}, the video is {width} x {height}")
    return np.ascontiguousarray(frame)


def write_png(path: Path | str, frame: np.ndarray, metadata: dict[str, str] | None = None) -> Path:
    """Write an RGB frame as PNG; `metadata` becomes text chunks (iTXt, so any Unicode is kept)."""
    path = Path(path)
    frame = _check_frame(frame)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_itxt(str(key), str(value))
    partial = _partial(path)
    try:
        Image.fromarray(frame, "RGB").save(partial, format="PNG", pnginfo=info, optimize=False, compress_level=6)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


@numba.njit(parallel=True, cache=True)
def _rgb_to_yuv420(rgb, out):
    """BT.709 limited-range Y'CbCr 4:2:0 planes, one after another in `out`; chroma from 2 x 2 means.

    Fixed point (coefficients x 2^16), which keeps the inner loops integer and vectorised.
    """
    h, w = rgb.shape[0], rgb.shape[1]
    cb = h * w
    cr = cb + (h // 2) * (w // 2)
    for i in numba.prange(h // 2):
        for di in range(2):
            y = 2 * i + di
            for x in range(w):
                r = np.int32(rgb[y, x, 0])
                g = np.int32(rgb[y, x, 1])
                b = np.int32(rgb[y, x, 2])
                out[y * w + x] = np.uint8((11966 * r + 40254 * g + 4064 * b + 1081344) >> 16)
        for j in range(w // 2):
            r = np.int32(0)
            g = np.int32(0)
            b = np.int32(0)
            for di in range(2):
                for dj in range(2):
                    r += rgb[2 * i + di, 2 * j + dj, 0]
                    g += rgb[2 * i + di, 2 * j + dj, 1]
                    b += rgb[2 * i + di, 2 * j + dj, 2]
            q = i * (w // 2) + j
            # on the 2 x 2 sum, hence >> 18 (a quarter of 2^-16); the offset is 128.5, rounding
            out[cb + q] = np.uint8((-6596 * r - 22189 * g + 28784 * b + 33685504) >> 18)
            out[cr + q] = np.uint8((28784 * r - 26145 * g - 2639 * b + 33685504) >> 18)


def rgb_to_yuv420(frame: np.ndarray) -> np.ndarray:
    """An even-sized RGB frame as a yuv420p buffer of shape (3h/2, w), the layout PyAV takes."""
    h, w, _ = frame.shape
    out = np.empty(h * w * 3 // 2, dtype=np.uint8)
    _rgb_to_yuv420(frame, out)
    return out.reshape(h * 3 // 2, w)


def default_palette() -> np.ndarray:
    """A fixed 256-colour palette (6 x 7 x 6 colour cube plus greys) for GIFs without their own."""
    levels_rb = np.linspace(0, 255, 6)
    levels_g = np.linspace(0, 255, 7)
    cube = np.array([(r, g, b) for r in levels_rb for g in levels_g for b in levels_rb])
    greys = np.linspace(0, 255, 256 - len(cube) + 2)[1:-1]
    return np.rint(np.vstack([cube, np.repeat(greys[:, None], 3, axis=1)])).astype(np.uint8)


class VideoWriter:
    """Write RGB frames to `path` as `format` ("mp4" H.264, "webm" VP9, or "gif") at `fps`.

    Use as a context manager; the file appears under its name only after a clean exit.
    `quality` is x264's CRF (VP9 gets it + 11), `preset` x264's speed preset; `palette` (up to 256 RGB rows) is used for GIF
    frames, which are mapped to it with Floyd-Steinberg dithering.
    """

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        fps: int,
        format: VideoFormat,
        metadata: dict[str, str] | None = None,
        quality: int = 20,
        palette: np.ndarray | None = None,
        preset: str = "veryfast",
    ):
        if format not in _CODECS:
            raise ValueError(f"unknown video format {format!r}; known: {', '.join(_CODECS)}")
        if width < 1 or height < 1 or fps < 1:
            raise ValueError(f"video size and fps must be positive, got {width} x {height} at {fps} fps")
        if format != "gif" and (width % 2 or height % 2):
            raise ValueError(f"{format} video needs an even width and height, got {width} x {height}")
        self.path = Path(path)
        self.width, self.height, self.fps, self.format = width, height, fps, format
        self.metadata = dict(metadata or {})
        self.quality = quality
        self.preset = preset
        self.frames = 0
        colours = default_palette() if palette is None else np.asarray(palette, dtype=np.uint8)[:256]
        self._palette_image = Image.new("P", (1, 1))
        self._palette_image.putpalette(colours.reshape(-1).tolist())
        argb = np.zeros((256, 4), dtype=np.uint8)
        argb[:, 0] = 255
        argb[: len(colours), 1:] = colours
        self._argb = argb
        self._container: av.container.OutputContainer | None = None

    def __enter__(self) -> Self:
        partial = _partial(self.path)
        options = {"fflags": "+bitexact"}  # no random ids or dates in the container
        if self.format == "mp4":
            options["movflags"] = "+use_metadata_tags"
        container = av.open(str(partial), mode="w", format=self.format, options=options)
        if self.format != "gif":
            container.metadata.update({str(k): str(v) for k, v in self.metadata.items()})
        stream = container.add_stream(_CODECS[self.format], rate=self.fps)
        stream.time_base = Fraction(1, self.fps)
        stream.width, stream.height = self.width, self.height
        context = stream.codec_context
        if self.format == "gif":
            stream.pix_fmt = "pal8"
        else:
            stream.pix_fmt = "yuv420p"
            context.thread_count = 2  # fixed, so the bytes do not depend on the machine's cores
            context.colorspace = 1  # BT.709, the matrix rgb_to_yuv420 uses
            context.color_primaries = 1
            context.color_trc = 1
            context.color_range = 1  # limited ("MPEG") range
        if self.format == "mp4":
            # x264's macroblock tree makes the bytes differ from run to run; off, it repeats
            stream.options = {"preset": self.preset, "crf": str(self.quality), "x264-params": "mbtree=0"}
        elif self.format == "webm":
            stream.options = {
                "crf": str(self.quality + 11),
                "b": "0",
                "deadline": "realtime",
                "cpu-used": "8",
                "row-mt": "1",
                "tile-columns": "1",
            }
        self._container, self._stream = container, stream
        return self

    def write(self, frame: np.ndarray) -> None:
        """Encode one (height, width, 3) uint8 RGB frame."""
        if self._container is None:
            raise RuntimeError("VideoWriter.write outside its `with` block")
        frame = _check_frame(frame, self.width, self.height)
        if self.format == "gif":
            image = Image.fromarray(frame, "RGB").quantize(palette=self._palette_image, dither=Image.Dither.FLOYDSTEINBERG)
            video = av.VideoFrame.from_ndarray((np.asarray(image), self._argb), format="pal8")
        else:
            video = av.VideoFrame.from_ndarray(rgb_to_yuv420(frame), format="yuv420p")
            video.colorspace, video.color_range = 1, 1
        video.pts = self.frames
        video.time_base = Fraction(1, self.fps)
        for packet in self._stream.encode(video):
            self._container.mux(packet)
        self.frames += 1

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        partial = _partial(self.path)
        container, self._container = self._container, None
        try:
            if kind is None:
                for packet in self._stream.encode():
                    container.mux(packet)
            container.close()
            if kind is None:
                os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)
