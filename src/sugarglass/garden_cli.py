"""``sugarglass garden``: train the artist's own model, judge it, grow plants, run the passes.

Mounted into the main command line with ``app.add_typer(garden_app, name="garden")``. The main
CLI's ``friendly`` and ``console`` are looked up when a command runs, not when this module is
imported, so the two modules can import each other in either order. Torch is imported only
inside the commands, so ``sugarglass --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

garden_app = typer.Typer(help="The garden: a model trained only on the artist's images, and passes over its plants.",
                         no_args_is_help=True)

WorkArg = Annotated[Path, typer.Argument(help="The work file (TOML) with a [garden] table.", show_default=False)]
OutOpt = Annotated[Path | None, typer.Option("--out", help="The garden's folder (default: out/<work>-<seed>).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, help="Seed (default: the work's seed).")]


def friendly(command: Callable) -> Callable:
    """The main CLI's error handling (one clear message, exit 2), found when the command runs."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from .cli import fail
        from .cli import friendly as main_friendly

        try:
            return main_friendly(command)(*args, **kwargs)
        except ModuleNotFoundError as exc:
            if exc.name not in ("torch", "diffusers", "transformers", "safetensors"):
                raise
            fail(f"the garden needs the `garden` extra ({exc.name} is not installed): "
                 "pip install 'torch==2.13.0' && pip install -e '.[garden]'")

    return run


def _console():
    from .cli import console

    return console


def _load(work_file: Path, out: Path | None):
    from .garden.config import load_garden

    work = load_garden(work_file)
    return work, out or Path("out") / f"{work.name}-{work.seed}"


@garden_app.command()
@friendly
def train(
    work_file: WorkArg,
    steps: Annotated[int | None, typer.Option("--steps", "-n", min=1, help="Train until this many steps in all.")] = None,
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.01, help="Stop after this many minutes.")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start again instead of resuming the checkpoint.")] = False,
    out: OutOpt = None,
) -> None:
    """Train (or resume) the garden's GAN within its budget; sample grids, SWD and checkpoints as it goes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .garden.train import device
    from .garden.train import train as run_training

    work, folder = _load(work_file, out)
    console = _console()
    console.print(f"training {work.name} at {work.garden.size} px on {device()} into {folder}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[losses]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("steps", total=None, losses="")

        def on_step(step: int, total: int | None, losses: dict) -> None:
            progress.update(task, completed=step, total=total,
                            losses=f"D {losses['loss_d']:.3f}  G {losses['loss_g']:.3f}")

        result = run_training(work, folder, steps=steps, minutes=minutes, fresh=fresh, on_step=on_step)
    first, last = (result.history[0], result.history[-1]) if result.history else ({}, {})
    console.print(f"step {result.step} (from {result.start_step}, stopped by {result.stopped_by}); "
                  f"{result.images_per_second:.1f} training images/s; dataset {result.report.used} images")
    if first and last:
        console.print(f"SWD x1000: {first['swd']:.1f} at step {first['step']} -> {last['swd']:.1f} at step {last['step']}")
    console.print(f"checkpoint {result.checkpoint}; samples in {folder / 'samples'}")


@garden_app.command("eval")
@friendly
def eval_(
    work_file: WorkArg,
    images: Annotated[int | None, typer.Option("--images", min=8, help="Images a side (default: the work's eval_images).")] = None,
    out: OutOpt = None,
) -> None:
    """SWD on Laplacian pyramid patches: the model against the floor and the untrained model; plotted."""
    from rich.table import Table

    from .garden.evaluate import evaluate

    work, folder = _load(work_file, out)
    result = evaluate(work, folder, images)
    table = Table(title=f"SWD x1000 of {work.name} at step {result.step}, {result.images} images a side", title_justify="left")
    table.add_column("compared with half of the dataset")
    for i in range(len(result.floor.levels)):
        table.add_column(f"{work.garden.size >> i} px" if i < len(result.floor.levels) - 1 else "low-pass", justify="right")
    table.add_column("mean", justify="right")
    for name, score in (("floor: the other half", result.floor), ("the model now", result.model),
                        ("the model untrained", result.initial)):
        table.add_row(name, *(f"{v:.1f}" for v in score.levels), f"{score.mean:.1f}")
    console = _console()
    console.print(table)
    console.print(f"model / floor {result.model.mean / result.floor.mean:.2f}; model / untrained "
                  f"{result.model.mean / result.initial.mean:.2f}; plot {result.plot}")


@garden_app.command()
@friendly
def grow(
    work_file: WorkArg,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Plants to grow (default: the work's).")] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
) -> None:
    """Grow plants from the trained model: a grid, each plant alone, and a latent-walk video."""
    from .garden.grow import grow as run_grow

    work, folder = _load(work_file, out)
    grown = run_grow(work, folder, count=count, seed=seed)
    _console().print(f"grew {len(grown.singles)} plants in {grown.folder}: {grown.grid.name}, plants/, {grown.video.name}; "
                     f"each file carries its manifest")


@garden_app.command()
@friendly
def passes(
    work_file: WorkArg,
    images: Annotated[list[Path] | None, typer.Argument(help="Pictures the garden made (default: grow new ones).")] = None,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Plants to grow when no pictures are given.")] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
) -> None:
    """Run the work's chain of image-to-image passes, each on the last one's output."""
    from .garden.passes import run_passes

    work, folder = _load(work_file, out)
    result = run_passes(work, folder, inputs=images or None, seed=seed, count=count)
    console = _console()
    for stage in result.stages:
        console.print(f"  {stage.relative_to(result.folder)}: {len(list(stage.glob('*.png')))} pictures")
    console.print(f"{len(result.final)} final pictures in {result.stages[-1]}")


@garden_app.command()
@friendly
def dataset(work_file: WorkArg, out: OutOpt = None) -> None:
    """Report the dataset: consent, counts, sizes, and every rejected file with its reason."""
    import statistics

    from rich.table import Table

    from .garden.dataset import load_dataset

    work, folder = _load(work_file, out)
    _, report = load_dataset(work, folder / "cache")
    consent = work.garden.dataset.consent
    console = _console()
    console.print(f"dataset {work.garden.dataset.id!r} in {report.folder}" + (" (drawn just now)" if report.generated else ""))
    console.print(f"consent: {consent.basis}, {consent.licence}, granted by {consent.granted_by} on {consent.granted_at}")
    table = Table(show_header=False)
    table.add_row("images found", str(report.found))
    table.add_row("used", f"{report.used} (squared to {report.side} px)")
    for reason, n in sorted(report.reasons().items()):
        table.add_row(f"skipped: {reason}", str(n))
    if report.ignored:
        table.add_row("other files, ignored", str(len(report.ignored)))
    if report.widths:
        table.add_row("width px (min / median / max)", f"{min(report.widths)} / {statistics.median(report.widths):g} / {max(report.widths)}")
        table.add_row("height px (min / median / max)", f"{min(report.heights)} / {statistics.median(report.heights):g} / {max(report.heights)}")
    table.add_row("content sha256", report.sha256[:16] + "…")
    console.print(table)
    for name, reason in report.rejected:
        console.print(f"  [yellow]skipped[/] {name}: {reason}", highlight=False)
