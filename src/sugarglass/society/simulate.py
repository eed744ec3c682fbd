"""Run a society for a number of ticks and write what it did: metrics (CSV, Parquet) and plots.

This is what `sugarglass simulate WORK --steps N` calls. Parameters stay constant (the rules'
defaults); the 2019 rules read a feeling row each tick, which here is neutral (compound 0,
negative 0: nothing regrows) unless `compound` and `negative` arrays are given, which cycle as
the 2019 software cycled its database.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.progress import Progress

from sugarglass.society.config import SocietyConfig
from sugarglass.society.engine import Society
from sugarglass.society.metrics import Metrics


def simulate(config: SocietyConfig, seed: int, steps: int | None, out_dir: Path,
             base_dir: Path | None = None, progress: Progress | None = None,
             compound: np.ndarray | None = None, negative: np.ndarray | None = None
             ) -> dict[str, Path]:
    """Run `steps` ticks (the config's `steps` if None); return the written files by name:
    metrics_csv, metrics_parquet, population_png, price_png, gini_png, overview_png."""
    steps = config.steps if steps is None else steps
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if (compound is None) != (negative is None):
        raise ValueError("give both compound and negative, or neither")
    if compound is not None and (len(compound) == 0 or len(compound) != len(negative)):
        raise ValueError("compound and negative must be non-empty and of equal length")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    society = Society.from_config(config, seed, base_dir)
    params = society.default_params()
    metrics = Metrics()
    own_progress = progress is None
    bar = progress or Progress()
    if own_progress:
        bar.start()
    try:
        task = bar.add_task(f"society ({config.preset})", total=steps)
        for tick in range(steps):
            if compound is not None:
                row = tick % len(compound)
                params = replace(params, compound=float(compound[row]),
                                 negative=float(negative[row]))
            society.step(params)
            metrics.record(society)
            bar.advance(task)
    finally:
        if own_progress:
            bar.stop()
    written = {
        "metrics_csv": metrics.to_csv(out_dir / "metrics.csv"),
        "metrics_parquet": metrics.to_parquet(out_dir / "metrics.parquet"),
    }
    written.update(plot(metrics, out_dir, title=f"{config.preset}, seed {seed}"))
    return written


def plot(metrics: Metrics, out_dir: Path, title: str) -> dict[str, Path]:
    """population.png, price.png (geometric mean with a band of +- one sd of log price),
    gini.png, and overview.png with the three panels together."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display in a gallery's back room
    from matplotlib import pyplot as plt

    tick = metrics["tick"]
    price = metrics["price_geomean"]
    spread = metrics["log_price_sd"]
    panels = {
        "population": ("agents alive", lambda ax: ax.plot(tick, metrics["population"])),
        "price": ("price (spice per sugar)", lambda ax: (
            ax.plot(tick, price),
            ax.fill_between(tick, price * np.exp(-spread), price * np.exp(spread), alpha=0.3,
                            label="± 1 sd of log price"),
            ax.set_yscale("log"), ax.legend(loc="upper right"))),
        "gini": ("Gini of wealth", lambda ax: (ax.plot(tick, metrics["gini"]),
                                               ax.set_ylim(0, 1))),
    }
    written: dict[str, Path] = {}
    for name, (label, draw) in panels.items():
        figure, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
        draw(ax)
        ax.set(xlabel="tick", ylabel=label, title=title)
        written[f"{name}_png"] = out_dir / f"{name}.png"
        figure.savefig(written[f"{name}_png"], dpi=120)
        plt.close(figure)
    figure, axes = plt.subplots(3, 1, figsize=(7, 9), sharex=True, layout="constrained")
    for ax, (name, (label, draw)) in zip(axes, panels.items()):
        draw(ax)
        ax.set(ylabel=label)
    axes[0].set_title(title)
    axes[-1].set_xlabel("tick")
    written["overview_png"] = out_dir / "overview.png"
    figure.savefig(written["overview_png"], dpi=120)
    plt.close(figure)
    return written
