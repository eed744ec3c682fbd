"""Canvas speed: frames per second rendering the painting at 1920 x 1080, offline.

Drives the default canvas with synthetic 2019-like levels (57 % of levels 0, the rest about
2130 on average, about 26 % of elements switching on/off per tick) and times apart, per frame:
the plate step (one exact sub-step), the render (upsampling + colour lookup + grain), and the
encoding (RGB -> 4:2:0 and the encoder, muxing included). Run:

    .venv/bin/python benchmarks/canvas.py [FRAMES] [FORMAT] [GRAIN] [PRESET] [RENDER_THREADS]

defaults: 480 frames, mp4, grain 0 and x264 preset veryfast (the canvas defaults), and one
render thread, as `render_levels` uses while the encoder runs (2 shows the parallel kernels). The first frames warm up numba and the
encoder and are not timed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numba
from rich.console import Console
from rich.table import Table

from sugarglass.canvas import Canvas, CanvasConfig, VideoWriter
from sugarglass.canvas.plate import element_powers
from sugarglass.canvas.synthetic import levels_like_2019

WIDTH, HEIGHT, WARMUP = 1920, 1080, 8


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 480
    video_format = sys.argv[2] if len(sys.argv) > 2 else "mp4"
    grain = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    preset = sys.argv[4] if len(sys.argv) > 4 else "veryfast"
    numba.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    config = CanvasConfig(width=WIDTH, height=HEIGHT, format=video_format, grain=grain, preset=preset)
    canvas = Canvas(config, seed=1)
    per_tick = config.frames_per_tick
    levels = levels_like_2019((frames + WARMUP) // per_tick + 2)
    for row in levels[:20]:  # start from a warm, patterned plate
        canvas.step(row)
    timings = {"plate step": 0.0, "colour + upsample": 0.0, "encode": 0.0}
    dt = config.seconds_per_tick / per_tick
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bench.{video_format}"
        with VideoWriter(path, WIDTH, HEIGHT, config.fps, video_format, quality=config.quality, preset=preset) as video:
            total_start = time.perf_counter()
            for i in range(frames + WARMUP):
                if i == WARMUP:
                    timings = dict.fromkeys(timings, 0.0)
                    total_start = time.perf_counter()
                powers = element_powers(levels[i // per_tick], config)
                t0 = time.perf_counter()
                canvas._advance(powers, dt)
                t1 = time.perf_counter()
                frame = canvas.render()
                t2 = time.perf_counter()
                video.write(frame)
                t3 = time.perf_counter()
                timings["plate step"] += t1 - t0
                timings["colour + upsample"] += t2 - t1
                timings["encode"] += t3 - t2
            flush_start = time.perf_counter()
        timings["encode"] += time.perf_counter() - flush_start
        total = time.perf_counter() - total_start
        size = path.stat().st_size

    console = Console()
    table = Table(title=f"canvas, {frames} frames at {WIDTH} x {HEIGHT}, {video_format} ({preset}), grain {grain:g}, "
        f"{numba.get_num_threads()} render thread(s)")
    table.add_column("stage")
    table.add_column("ms / frame", justify="right")
    table.add_column("frames / s", justify="right")
    for stage, seconds in timings.items():
        table.add_row(stage, f"{1000 * seconds / frames:.2f}", f"{frames / seconds:,.0f}")
    table.add_row("[bold]whole (wall clock)[/]", f"{1000 * total / frames:.2f}", f"[bold]{frames / total:,.1f}[/]")
    console.print(table)
    console.print(f"video: {size / 1e6:.1f} MB for {frames / config.fps:.1f} s at {config.fps} fps")


if __name__ == "__main__":
    main()
