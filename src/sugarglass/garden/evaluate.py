"""``garden eval``: the trained model's plants judged against the artist's real ones, every figure
beside its floor (real against real), and the figures measured during training, plotted.

The figures and the judge are described in ``quality`` and ``judge``; text-conditioned plants
are grown from the captions held out of training and from ``probes.csv``'s descriptions of
plants the folder lacks, and the judge checks each asked attribute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import GardenWork
from .dataset import load_dataset
from .quality import Figures, evaluator_for, goal_key  # noqa: F401  (goal_key: read beside GOALS)
from .records import garden_manifest, label_all
from .train import checkpoint_path, load_generator

GOALS = {"recognisability": (">=", 0.8), "coverage": (">=", 1.0), "precision": (">=", 0.6), "recall": (">=", 0.6),
         "memorised": ("<=", 0.05), "attributes_held_out_captions": (">=", 0.7),
         "attributes_novel_combinations": (">=", 0.5)}


def verdict(key: str, value: float) -> str:
    """"met" / "not met" against the demo's goal for ``key``, or "" where it has none."""
    if key not in GOALS:
        return ""
    sense, goal = GOALS[key]
    return "met" if (value >= goal if sense == ">=" else value <= goal) else "not met"


@dataclass
class Evaluation:
    step: int
    images: int
    model: dict
    floor: Figures
    judge: dict
    text: dict = field(default_factory=dict)  # prompt set -> {"accuracy", "unprompted", "per_attribute", "count"}
    plot: Path | None = None
    report: Path | None = None


def evaluate(work: GardenWork, out_dir: Path, images: int | None = None, on_judge=None) -> Evaluation:
    trained = load_generator(work, out_dir)
    dataset = load_dataset(work, out_dir / "cache")
    count = images or work.garden.train.eval_images
    evaluator = evaluator_for(work, dataset, out_dir, trained.state["text"]["held_out"], count=count, on_epoch=on_judge)
    figures = evaluator.figures(trained.generator, trained.vocabulary, trained.captions, per_prompt=8, detail=True)
    judge = evaluator.judge
    result = Evaluation(
        step=trained.step, images=evaluator.quality.count,
        model={k: v for k, v in figures.items() if not k.startswith("attributes")},
        floor=evaluator.floor,
        judge={"trained_on": judge.trained_on, "held_out": judge.held_out, "accuracy": judge.accuracy,
               "confident_real": judge.confident_real, "kind": "classifier" if judge.classes else "contrastive"},
        text=figures.get("text", {}),
    )
    folder = out_dir / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    result.plot = folder / "quality.png"
    _plot(out_dir, result)
    from ..provenance import write_atomic

    result.report = write_atomic(folder / "quality.json", (json.dumps(as_record(result), indent=2) + "\n").encode("utf-8"))
    manifest = garden_manifest(work, trained.state["dataset"], seed=work.seed, step=result.step, section={
        "output": "quality of the grown plants, judged by a network trained only on the dataset",
        "model": trained.state["model"],
        "checkpoint": {"file": checkpoint_path(out_dir).name, "sha256": trained.sha256, "step": result.step},
        "eval": as_record(result),
    })
    label_all(folder, [result.plot, result.report], manifest, work)
    return result


def as_record(result: Evaluation) -> dict:
    return {"step": result.step, "images": result.images, "model": result.model, "floor": result.floor.to_dict(),
            "judge": result.judge, "text": result.text}


def _plot(out_dir: Path, result: Evaluation) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = out_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []
    figure, (shares, kid) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100, gridspec_kw={"width_ratios": [2, 1]})
    names = {"recognisability": "recognisable", "coverage": "species covered", "precision": "precision", "recall": "recall",
             "attributes_held_out_captions": "attributes, held-out captions",
             "attributes_novel_combinations": "attributes, novel combinations"}
    floor = result.floor.to_dict()
    for index, (key, name) in enumerate(names.items()):
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if not points:
            continue
        colour = f"C{index}"
        shares.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, color=colour, label=name)
        if key in floor:
            shares.axhline(floor[key], color=colour, linestyle=":", linewidth=1)
    shares.set_ylim(-0.02, 1.02)
    shares.set_xlabel("training step")
    shares.set_ylabel("share (dotted: real against real)")
    shares.legend(fontsize=7, loc="lower right")
    points = [(r["step"], r["kid"]) for r in rows if r.get("kid") is not None]
    if points:
        kid.plot([p[0] for p in points], [max(p[1], 1e-3) for p in points], marker="o", markersize=3, color="C7")
    floor = result.floor.kid
    kid.axhline(max(floor, 1e-3), color="C7", linestyle=":",
                label=f"real against real ({floor:.1f}" + (", drawn at 0.001)" if floor < 1e-3 else ")"))
    kid.set_yscale("log")
    kid.set_xlabel("training step")
    kid.set_ylabel("KID x 1000 (lower is better)")
    kid.legend(fontsize=7)
    figure.suptitle(f"The garden's plants through the judge's eyes, step {result.step}", fontsize=10)
    figure.tight_layout()
    partial = result.plot.with_name(f".{result.plot.name}.partial.png")
    figure.savefig(partial, metadata={"Software": None})
    plt.close(figure)
    partial.replace(result.plot)
