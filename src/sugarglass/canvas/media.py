"""Writers for the painting: PNG stills, and MP4 (H.264), WebM (VP9) or GIF video through PyAV.

Every writer writes to a hidden temporary file beside the target and renames it into place only
when the file is complete, so an interrupted or failed run never leaves a half-written painting
under the final name. Encoder settings are fixed (thread counts included), so the same frames
give the same bytes on every run. Video is encoded on a thread of its own beside the caller's
drawing, fed frames in order through a small pool of buffers. Metadata goes where the format keeps it: PNG text chunks, MP4
`mdta` tags, Matroska tags; GIF has no place for it.
"""

from __future__ import annotations

import os
import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

import av
import numpy as np
from PIL import Image, PngImagePlugin

from . import yuv
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

    Encoding runs on a thread of its own, fed through a pool of `depth` frame buffers, so the
    caller draws the next frame while the last is encoded; with every buffer queued the caller
    waits. `write(frame)` takes an RGB frame; a renderer that can draw the encoder's layout
    itself takes a free buffer with `buffer()` (yuv420p (3h/2, w) for mp4 and webm, RGB for gif),
    fills it and hands it back with `submit(buffer)`. Frames are encoded in the order given, on
    one thread, so the bytes do not depend on how the two threads happen to interleave.
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
        depth: int = 4,
    ):
        if format not in _CODECS:
            raise ValueError(f"unknown video format {format!r}; known: {', '.join(_CODECS)}")
        if width < 1 or height < 1 or fps < 1:
            raise ValueError(f"video size and fps must be positive, got {width} x {height} at {fps} fps")
        if format != "gif" and (width % 2 or height % 2):
            raise ValueError(f"{format} video needs an even width and height, got {width} x {height}")
        if depth < 1:
            raise ValueError(f"depth must be at least one frame buffer, got {depth}")
        self.path = Path(path)
        self.width, self.height, self.fps, self.format = width, height, fps, format
        self.metadata = dict(metadata or {})
        self.quality = quality
        self.preset = preset
        self.depth = depth
        self.frames = 0
        colours = default_palette() if palette is None else np.asarray(palette, dtype=np.uint8)[:256]
        self._palette_image = Image.new("P", (1, 1))
        self._palette_image.putpalette(colours.reshape(-1).tolist())
        argb = np.zeros((256, 4), dtype=np.uint8)
        argb[:, 0] = 255
        argb[: len(colours), 1:] = colours
        self._argb = argb
        self._container: av.container.OutputContainer | None = None
        self._free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        self._queued: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._finish = False

    @property
    def layout(self) -> str:
        """What a buffer holds: "yuv420p" planes (mp4, webm) or "rgb24" pixels (gif)."""
        return "rgb24" if self.format == "gif" else "yuv420p"

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
            context.colorspace = 1  # BT.709, the matrix of canvas.yuv
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
        for _ in range(self.depth):
            self._free.put(yuv.new_buffer(self.height, self.width) if self.layout == "yuv420p"
                           else np.zeros((self.height, self.width, 3), dtype=np.uint8))
        self._thread = threading.Thread(target=self._encode_all, name=f"encode {self.path.name}", daemon=True)
        self._thread.start()
        return self

    def _check_open(self) -> None:
        if self._container is None:
            raise RuntimeError("VideoWriter used outside its `with` block")
        if self._failure is not None:
            raise RuntimeError(f"encoding {self.path.name} failed: {self._failure}") from self._failure

    def buffer(self) -> np.ndarray:
        """A free frame buffer in `layout`, holding an earlier frame; waits while all are queued."""
        self._check_open()
        buffer = self._free.get()
        self._check_open()
        return buffer

    def submit(self, buffer: np.ndarray) -> None:
        """Queue a buffer from `buffer()`, filled with the next frame, for encoding."""
        self._check_open()
        expected = (self.height * 3 // 2, self.width) if self.layout == "yuv420p" else (self.height, self.width, 3)
        if buffer.shape != expected or buffer.dtype != np.uint8:
            raise ValueError(f"a {self.layout} buffer of this video is {expected} uint8, got {buffer.shape} {buffer.dtype}")
        self._queued.put(buffer)
        self.frames += 1

    def write(self, frame: np.ndarray) -> None:
        """Encode one (height, width, 3) uint8 RGB frame."""
        self._check_open()
        frame = _check_frame(frame, self.width, self.height)
        buffer = self.buffer()
        if self.layout == "yuv420p":
            yuv.rgb_to_yuv420(frame, buffer)
        else:
            buffer[:] = frame
        self.submit(buffer)

    def _encode(self, buffer: np.ndarray, index: int) -> None:
        if self.format == "gif":
            image = Image.fromarray(buffer, "RGB").quantize(palette=self._palette_image, dither=Image.Dither.FLOYDSTEINBERG)
            video = av.VideoFrame.from_ndarray((np.asarray(image), self._argb), format="pal8")
        else:
            video = av.VideoFrame.from_ndarray(buffer, format="yuv420p")  # a copy: the buffer is free after
            video.colorspace, video.color_range = 1, 1
        video.pts = index
        video.time_base = Fraction(1, self.fps)
        for packet in self._stream.encode(video):
            self._container.mux(packet)

    def _encode_all(self) -> None:
        """The encoding thread: frames in order until the end mark; after a failure it only
        hands buffers back, so the caller never waits for a buffer that cannot come."""
        index = 0
        while (buffer := self._queued.get()) is not None:
            if self._failure is None:
                try:
                    self._encode(buffer, index)
                except BaseException as error:  # reported to the caller by its next call
                    self._failure = error
            index += 1
            self._free.put(buffer)
        if self._finish and self._failure is None:
            try:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            except BaseException as error:
                self._failure = error

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        partial = _partial(self.path)
        container = self._container
        try:
            self._finish = kind is None
            self._queued.put(None)
            if self._thread is not None:
                self._thread.join()
            self._container = None
            container.close()
            if kind is None:
                if self._failure is not None:
                    raise RuntimeError(f"encoding {self.path.name} failed: {self._failure}") from self._failure
                os.replace(partial, self.path)
        finally:
            self._container = None
            partial.unlink(missing_ok=True)
