"""Growing plants from the trained model: a grid, each plant alone, and a walk through the
latent space as video. The seed alone decides which plants grow, so the same seed and checkpoint
grow the same garden; every file carries the manifest, with the checkpoint's SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .config import GardenWork
from .images import grid, to_uint8
from .records import garden_manifest, label_all
from .train import latents, load_generator, sample


@dataclass
class Grown:
    folder: Path
    grid: Path
    singles: list[Path]
    video: Path
    manifest: Path


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation, which keeps a walk between Gaussian latents at their typical
    length (a straight line would pass through faint, average plants)."""
    cos = float((a @ b) / (a.norm() * b.norm()))
    omega = float(np.arccos(np.clip(cos, -1.0, 1.0)))
    if omega < 1e-6:
        return a + (b - a) * t
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def walk(keys: torch.Tensor, between: int) -> torch.Tensor:
    """Latents visiting every key in turn and coming back to the first, ``between`` a leg."""
    steps = [slerp(keys[i], keys[(i + 1) % len(keys)], j / between) for i in range(len(keys)) for j in range(between)]
    return torch.stack(steps)


def grow(work: GardenWork, out_dir: Path, *, count: int | None = None, seed: int | None = None) -> Grown:
    """Sample ``count`` plants with ``seed`` into ``out_dir/grow-<seed>/``."""
    from ..canvas.media import VideoWriter, write_png

    settings = work.garden.grow
    count = count or settings.count
    seed = work.seed if seed is None else seed
    generator, state, checkpoint_sha = load_generator(work, out_dir)
    folder = out_dir / f"grow-{seed}"
    (folder / "plants").mkdir(parents=True, exist_ok=True)
    plants = to_uint8(sample(generator, latents(count, work.garden.latent, seed)))
    written = [write_png(folder / "grid.png", grid(plants, settings.columns))]
    singles = [write_png(folder / "plants" / f"plant-{i:03d}.png", plant) for i, plant in enumerate(plants)]
    written += singles
    keys = latents(settings.keyframes, work.garden.latent, seed + 1)
    frames = to_uint8(sample(generator, walk(keys, settings.frames_between)))
    side = work.garden.size * settings.video_scale
    video = folder / "walk.mp4"
    with VideoWriter(video, side, side, settings.fps, "mp4") as writer:
        for frame in frames:
            writer.write(np.asarray(Image.fromarray(frame).resize((side, side), Image.Resampling.LANCZOS)))
    written.append(video)
    manifest = garden_manifest(work, state["dataset"], seed=seed, step=int(state["step"]), section={
        "output": "grown plants: grid, singles and a latent walk (EMA generator)",
        "model": state["model"], "checkpoint": {"file": "latest.pt", "sha256": checkpoint_sha, "step": int(state["step"])},
        "grow": {**settings.model_dump(mode="json"), "count": count, "seed": seed},
        "train": state["train"],
    })
    listing = label_all(folder, written, manifest, work)
    return Grown(folder, written[0], singles, video, listing)
