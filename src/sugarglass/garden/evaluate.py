"""``garden eval``: the model's SWD against the floor (two halves of the dataset) and against
the untrained generator, and the SWD measured during training, plotted.

All three compare with the same seeded half of the dataset and the same number of images, so
the figures can be read against each other: the floor is as low as a model could hope to get.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import GardenWork
from .dataset import load_dataset
from .model import build
from .records import garden_manifest, label_all
from .swd import SWD, swd
from .train import checkpoint_path, eval_count, halves, load_generator, sample, stream


@dataclass
class Evaluation:
    step: int
    images: int
    floor: SWD
    model: SWD
    initial: SWD
    plot: Path


def evaluate(work: GardenWork, out_dir: Path, images: int | None = None) -> Evaluation:
    generator, state, checkpoint_sha = load_generator(work, out_dir)
    data, _ = load_dataset(work, out_dir / "cache")
    n = min(images, len(data) // 2) if images else eval_count(work, len(data))
    reference, other = halves(data, work.seed, n)
    z = torch.randn(n, work.garden.latent, generator=stream(work.seed, "eval"))
    untrained, _ = build(work.garden.size, work.garden.latent, work.garden.width, work.seed)
    result = Evaluation(
        step=int(state["step"]), images=n,
        floor=swd(reference, other, seed=work.seed),
        model=swd(reference, sample(generator, z), seed=work.seed),
        initial=swd(reference, sample(untrained.to(next(generator.parameters()).device).eval(), z), seed=work.seed),
        plot=out_dir / "eval" / "swd.png",
    )
    _plot(out_dir, result)
    manifest = garden_manifest(work, state["dataset"], seed=work.seed, step=result.step, section={
        "output": "SWD over training, against the floor", "model": state["model"],
        "checkpoint": {"file": checkpoint_path(out_dir).name, "sha256": checkpoint_sha, "step": result.step},
        "eval": {"images": n, "floor": list(result.floor.levels), "model": list(result.model.levels),
                 "initial": list(result.initial.levels)},
    })
    label_all(result.plot.parent, [result.plot], manifest, work)
    return result


def _plot(out_dir: Path, result: Evaluation) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = out_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []
    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=100)
    if rows:
        axes.plot([r["step"] for r in rows], [r["swd"] for r in rows], marker="o", label="model (EMA), during training")
    axes.axhline(result.floor.mean, color="grey", linestyle="--", label="floor: two halves of the dataset")
    axes.scatter([result.step], [result.model.mean], color="black", zorder=3, label=f"now, step {result.step}")
    axes.set_xlabel("training step")
    axes.set_ylabel("SWD x 1000 (mean of pyramid levels)")
    axes.set_yscale("log")
    axes.legend(fontsize=8)
    figure.tight_layout()
    result.plot.parent.mkdir(parents=True, exist_ok=True)
    partial = result.plot.with_name(f".{result.plot.name}.partial.png")
    figure.savefig(partial, metadata={"Software": None})
    plt.close(figure)
    partial.replace(result.plot)
