"""Growing plants from the trained model, each from one of the artist's own captions, or all from
a new description in their words: a grid, each plant alone, and a walk through the latent space
as video. The seed alone decides which plants grow, so the same seed, description and checkpoint
grow the same garden; every file carries the manifest, with the checkpoint's SHA-256 and the
description.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .captions import words
from .config import GardenWork
from .images import grid, to_uint8
from .records import garden_manifest, garden_model, label_all
from .sampling import description_tokens, garden_tokens, latents, sample
from .train import load_generator


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


def folder_name(seed: int, description: str | None) -> str:
    """``grow-<seed>``, or ``describe-<first words>-<seed>`` for a description."""
    if description is None:
        return f"grow-{seed}"
    return "describe-" + "-".join(words(description)[:8]) + f"-{seed}"


def grow(work: GardenWork, out_dir: Path, *, count: int | None = None, seed: int | None = None,
         description: str | None = None) -> Grown:
    """Sample ``count`` plants with ``seed`` (from ``description`` when given) into
    ``out_dir/grow-<seed>/`` (or ``describe-...-<seed>/``). A description with a word the model
    never read is refused, naming the word and the words it knows, before anything is written."""
    from ..canvas.media import VideoWriter, write_png

    settings = work.garden.grow
    count = count or settings.count
    seed = work.seed if seed is None else seed
    trained = load_generator(work, out_dir)
    if description is None:
        tokens = garden_tokens(trained.vocabulary, trained.captions, count, seed)
        walk_tokens = None if tokens is None else tokens[:1]
    else:
        tokens = walk_tokens = description_tokens(trained.vocabulary, [description])
    folder = out_dir / folder_name(seed, description)
    (folder / "plants").mkdir(parents=True, exist_ok=True)
    plants = to_uint8(sample(trained.generator, latents(count, work.garden.latent, seed, settings.truncation), tokens))
    written = [write_png(folder / "grid.png", grid(plants, settings.columns))]
    singles = [write_png(folder / "plants" / f"plant-{i:03d}.png", plant) for i, plant in enumerate(plants)]
    written += singles
    keys = latents(settings.keyframes, work.garden.latent, seed + 1, settings.truncation)
    frames = to_uint8(sample(trained.generator, walk(keys, settings.frames_between), walk_tokens))
    side = work.garden.size * settings.video_scale
    video = folder / "walk.mp4"
    with VideoWriter(video, side, side, settings.fps, "mp4") as writer:
        for frame in frames:
            writer.write(np.asarray(Image.fromarray(frame).resize((side, side), Image.Resampling.LANCZOS)))
    written.append(video)
    state = trained.state
    manifest = garden_manifest(work, state["dataset"], seed=seed, step=trained.step, section={
        "output": ("grown plants" if description is None else "plants grown from a description")
                  + ": grid, singles and a latent walk (EMA generator)",
        "description": description,
        "models": [garden_model(work, trained)], "trained_only_on_the_artists_data": True,
        "model": state["model"], "checkpoint": {"file": "latest.pt", "sha256": trained.sha256, "step": trained.step},
        "grow": {**settings.model_dump(mode="json"), "count": count, "seed": seed},
        "train": state["train"],
    })
    listing = label_all(folder, written, manifest, work)
    return Grown(folder, written[0], singles, video, listing)
