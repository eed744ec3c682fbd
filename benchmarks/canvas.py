"""Canvas speed: the whole painting (plate, colour, encoding) at 1920 x 1080, against the reference.

The reference is the canvas package as it was at commit 32e4c31 (before issue 13), extracted
with `git archive` and imported beside today's, so both run in this script on the same levels:
synthetic 2019-like levels (57 % of levels 0, the rest about 2130 on average, about 26 % of
elements switching on/off per tick) through each one's own `render_levels`, as `sugarglass run`
calls it, into an H.264 file at each one's default settings (frames drawn, converted and
encoded; the final still written). Rounds alternate reference and today's, so both see the
same machine load; each is warmed up first (numba's cache loaded, the encoder opened) on a
short run, not timed. Run:

    .venv/bin/python benchmarks/canvas.py [--frames 480] [--rounds 3] [--width 1920 --height 1080]

Prints frames per second (best and median over the rounds, wall clock, and CPU seconds a
frame, all threads), the ratio of today's to the reference, today's path with the
reference's x264 preset (how much is the preset and how much the pipeline), and a split of
today's frame: plate step, paint into yuv420p, and encoding alone.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
REFERENCE_COMMIT = "32e4c31"  # before issue 13: RGB frames, converted and encoded inline
QUIET = Progress(disable=True)


def reference_tree(commit: str = REFERENCE_COMMIT, paths: tuple[str, ...] = ("src",)) -> Path:
    """A folder holding `paths` as they were at `commit`, extracted on first use and kept
    (under the temporary directory): numba's cache lives beside the sources, so a second run
    finds the reference's kernels compiled, as a warm run of it would."""
    full = subprocess.run(["git", "-C", str(REPO), "rev-parse", commit], check=True, capture_output=True,
                          text=True).stdout.strip()
    folder = Path(tempfile.gettempdir()) / "sugarglass-bench" / full[:12]
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / "tree.tar"
        with archive.open("wb") as out:
            subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", full, *paths], check=True, stdout=out)
        with tarfile.open(archive) as members:
            members.extractall(folder, filter="data")
        archive.unlink()
        (folder / ".complete").touch()
    return folder


def reference_canvas():
    """The reference's `sugarglass.canvas`, importable beside today's as `canvas_<commit>`."""
    name = f"canvas_{REFERENCE_COMMIT}"
    root = reference_tree()
    package = root / "packages" / name
    if not package.exists():
        shutil.copytree(root / "src" / "sugarglass" / "canvas", package)
    sys.path.insert(0, str(package.parent))
    return importlib.import_module(name)


def cpu_seconds() -> float:
    """CPU time of this process, every thread (the encoder's included)."""
    usage = os.times()
    return usage.user + usage.system


def timed(render: Callable[[Path], object], frames: int, folder: Path) -> tuple[float, float]:
    """(frames per second, CPU milliseconds a frame) of one whole render into `folder`."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    render(folder)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return frames / wall, 1000 * cpu / frames


def split(config, levels: np.ndarray) -> dict[str, float]:
    """Today's frame in parts, ms each, one render thread: plate step, paint, encoding alone."""
    import numba

    from sugarglass.canvas import Canvas, VideoWriter
    from sugarglass.canvas.yuv import new_buffer

    numba.set_num_threads(1)
    canvas = Canvas(config, seed=1)
    buffers = [new_buffer(config.height, config.width) for _ in range(len(levels) * config.frames_per_tick)]
    plate = paint = 0.0
    frame = 0
    for row in levels:
        steps = canvas.sub_steps(row)
        while True:
            start = time.perf_counter()
            if next(steps, None) is None:
                break
            middle = time.perf_counter()
            canvas.render_yuv420(buffers[frame])
            plate, paint = plate + middle - start, paint + time.perf_counter() - middle
            frame += 1
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with VideoWriter(Path(folder) / "split.mp4", config.width, config.height, config.fps, "mp4",
                         quality=config.quality, preset=config.preset) as video:
            for buffer in buffers:
                free = video.buffer()
                free[:] = buffer
                video.submit(free)
        encode = time.perf_counter() - start
    return {"plate step": 1000 * plate / frame, "paint (yuv420p)": 1000 * paint / frame,
            "encode alone (copy, x264, mux)": 1000 * encode / frame}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=480)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()

    from sugarglass.canvas import CanvasConfig, render_levels
    from sugarglass.canvas.synthetic import levels_like_2019

    old = reference_canvas()
    size = {"width": args.width, "height": args.height}
    new_config = CanvasConfig(**size)
    old_config = old.CanvasConfig(**size)
    ticks = -(-args.frames // new_config.frames_per_tick)
    frames = ticks * new_config.frames_per_tick
    levels = levels_like_2019(ticks + 20)[20:]
    runs = {
        f"reference {REFERENCE_COMMIT} ({old_config.preset})": (old.render_levels, old_config),
        f"today ({new_config.preset})": (render_levels, new_config),
    }
    if new_config.preset != old_config.preset:
        runs[f"today, preset {old_config.preset}"] = (render_levels, new_config.model_copy(update={"preset": old_config.preset}))
    console = Console()
    console.print(f"[bold]canvas[/], {frames} frames at {args.width} x {args.height}, mp4, {args.rounds} rounds; "
                  f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} before")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as folder:
        for render, config in runs.values():  # warm-up: cached kernels loaded, encoder libraries touched
            render(levels[:2], config, Path(folder) / "warm", seed=1, progress=QUIET)
        for round_ in range(args.rounds):
            for name, (render, config) in runs.items():
                results[name].append(timed(lambda f: render(levels, config, f, seed=1, progress=QUIET), frames, Path(folder) / f"{round_}"))
    table = Table(title="whole painting: render_levels, wall clock")
    for column in ("path", "best fps", "median fps", "CPU ms / frame"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, rows in results.items():
        fps = [r[0] for r in rows]
        table.add_row(name, f"{max(fps):.1f}", f"{statistics.median(fps):.1f}", f"{min(r[1] for r in rows):.1f}")
    console.print(table)
    names = list(results)
    best = {name: max(r[0] for r in rows) for name, rows in results.items()}
    console.print(f"[bold]ratio today / reference: {best[names[1]] / best[names[0]]:.2f}x[/] (best fps; "
                  f"median {statistics.median(r[0] for r in results[names[1]]) / statistics.median(r[0] for r in results[names[0]]):.2f}x)")
    if len(names) > 2:
        console.print(f"the pipeline alone (same preset {old_config.preset}): {best[names[2]] / best[names[0]]:.2f}x")
    parts = split(new_config, levels[: max(1, ticks // 4)])
    console.print("today's frame in parts (ms, one render thread): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    console.print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} after")


if __name__ == "__main__":
    main()
