"""``sugarglass garden``: train the artist's own model, judge it, grow plants, run the passes.

Torch is imported only inside the commands, so ``sugarglass --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from .common import console, fail
from .common import friendly as main_friendly

app = typer.Typer(help="The garden: a model trained only on the artist's images, and passes over its plants.",
                         no_args_is_help=True)

WorkArg = Annotated[Path, typer.Argument(help="The work file (TOML) with a \\[garden] table.", show_default=False)]
OutOpt = Annotated[Path | None, typer.Option("--out", help="The garden's folder (default: out/<work>-<seed>).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, help="Seed (default: the work's seed).")]


def friendly(command: Callable) -> Callable:
    """The main CLI's error handling (one clear message, exit 2), and a plain word when the
    garden's extra is not installed."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return main_friendly(command)(*args, **kwargs)
        except ModuleNotFoundError as exc:
            if exc.name not in ("torch", "diffusers", "transformers", "safetensors"):
                raise
            fail(f"the garden needs the `garden` extra ({exc.name} is not installed): "
                 "pip install 'torch==2.13.0' && pip install -e '.[garden]'")

    return run


def _load(work_file: Path, out: Path | None):
    from ..garden.config import load_garden

    work = load_garden(work_file)
    return work, out or work.base_dir / "out" / f"{work.name}-{work.seed}"


FIGURES = (("recognisability", "recognised", "{:.2f}"), ("coverage", "species", "{:.2f}"), ("precision", "P", "{:.2f}"),
           ("recall", "R", "{:.2f}"), ("attributes_held_out_captions", "text", "{:.2f}"))


def _latest(figures: dict) -> str:
    """The latest quality figures, short enough for one line."""
    return "  ".join(f"{short} {form.format(figures[key])}" for key, short, form in FIGURES
                     if isinstance(figures.get(key), float) and figures[key] == figures[key])


@app.command()
@friendly
def train(
    work_file: WorkArg,
    steps: Annotated[int | None, typer.Option("--steps", "-n", min=1, help="Train until this many steps in all.")] = None,
    minutes: Annotated[float | None, typer.Option("--minutes", min=0.01, help="Stop after this many minutes.")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start again instead of resuming the checkpoint.")] = False,
    out: OutOpt = None,
) -> None:
    """Train (or resume) the garden's model within its budget; sample grids, quality figures and checkpoints as it goes."""
    import time

    from rich.console import Group
    from rich.live import Live
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from ..garden.train import device
    from ..garden.train import train as run_training

    work, folder = _load(work_file, out)
    console.print(f"training {work.name} at {work.garden.size} px on {device()} into {escape(str(folder))}", highlight=False)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[speed]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console)
    judge = progress.add_task("judge (learns the real plants first)", total=None, speed="")
    task = progress.add_task("steps", total=None, speed="", start=False)
    status = Text("")
    started = {"step": 0, "time": 0.0}

    def on_judge(epoch: int, epochs: int) -> None:
        progress.update(judge, completed=epoch, total=epochs)

    def on_step(step: int, total: int | None, losses: dict, latest: dict) -> None:
        if not started["time"]:
            started.update(step=step - 1, time=time.monotonic())
            progress.start_task(task)
        elapsed = time.monotonic() - started["time"]
        batch = work.garden.train.gpu_batch if device().type == "cuda" else work.garden.train.batch
        rate = (step - started["step"]) * batch / elapsed if elapsed > 0 else 0.0
        progress.update(task, completed=step, total=total, speed=f"{rate:.0f} images/s")
        losses_text = "  ".join(f"{name} {value:.3f}" for name, value in losses.items())
        status.plain = f"losses: {losses_text}\nlatest figures (step {latest.get('step', 0)}): {_latest(latest)}\n"

    with Live(Group(progress, status), console=console, refresh_per_second=4):
        result = run_training(work, folder, steps=steps, minutes=minutes, fresh=fresh, on_step=on_step, on_judge=on_judge)
    console.print(f"step {result.step} (from {result.start_step}, stopped by {result.stopped_by}); "
                  f"{result.images_per_second:.1f} training images/s at batch {result.batch}; "
                  f"dataset {result.report.used} images, {result.report.captioned} captioned", highlight=False)
    if result.history:
        console.print(f"at step {result.history[-1]['step']}: {_latest(result.history[-1])}", highlight=False)
    console.print(f"checkpoint {escape(str(result.checkpoint))}; samples in {escape(str(folder / 'samples'))}; "
                  "`sugarglass garden eval` for every figure",
                  highlight=False)


@app.command("eval")
@friendly
def eval_(
    work_file: WorkArg,
    images: Annotated[int | None, typer.Option("--images", min=8, help="Plants to judge (default: the work's eval_images).")] = None,
    out: OutOpt = None,
) -> None:
    """Judge the grown plants against the real ones, each figure beside its floor (real against real); plotted."""
    from rich.table import Table

    from ..garden.evaluate import GOALS, evaluate, goal_key, verdict

    work, folder = _load(work_file, out)
    result = evaluate(work, folder, images)
    judge = result.judge
    accuracy = ", ".join(f"{k} {v:.2f}" for k, v in judge["accuracy"].items())
    console.print(f"the judge: a {judge['kind']} trained on {judge['trained_on']} real images only"
                  + (f"; held-out accuracy ({judge['held_out']} images): {accuracy}" if accuracy else ""), highlight=False)
    table = Table(title=f"{work.name} at step {result.step}: {result.images} grown plants against as many real ones",
                  title_justify="left")
    def aim(key: str, value: float) -> str:
        if key not in GOALS:
            return ""
        said = verdict(key, value)
        return f"{GOALS[key][0]} {GOALS[key][1]} [{'green' if said == 'met' else 'red'}]{said}[/]"

    table.caption = "floor: real against real; goal: the demo's"
    for column, justify in (("figure", "left"), ("grown", "right"), ("floor", "right"), ("goal", "right")):
        table.add_column(column, justify=justify)
    floor = result.floor.to_dict()
    rows = (("recognisability", "recognised (confidence >= 0.8)"), ("coverage", "species covered"),
            ("entropy", "species entropy / the data's"), ("precision", "precision"), ("recall", "recall"),
            ("kid", "KID x 1000"), ("memorised", "memorised (closer than 5 % of real pairs)"))
    for key, name in rows:
        if key not in result.model:
            continue
        value, base = result.model[key], floor.get(key)
        if key == "recognisability" and judge["confident_real"] == judge["confident_real"]:
            base = judge["confident_real"]  # held-out real images, named by the judge
        table.add_row(name, f"{value:.3f}", "" if base is None else f"{base:.3f}", aim(key, value))
    for name, found in result.text.items():
        table.add_row(escape(f"attributes, {name}"), f"{found['accuracy']:.3f}", f"by chance {found['chance']:.3f}",
                      aim(goal_key(name), found["accuracy"]))
    console.print(table)
    for name, found in result.text.items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in found["per_attribute"].items())
        console.print(f"attributes, {name}: {found['descriptions']} descriptions x {found['plants_each']} plants; {parts}",
                      highlight=False)
    console.print(f"plot {escape(str(result.plot))}; figures {escape(str(result.report))}", highlight=False)


@app.command()
@friendly
def grow(
    work_file: WorkArg,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Plants to grow (default: the work's).")] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
) -> None:
    """Grow plants from the trained model: a grid, each plant alone, and a latent-walk video."""
    from ..garden.grow import grow as run_grow

    work, folder = _load(work_file, out)
    grown = run_grow(work, folder, count=count, seed=seed)
    console.print(f"grew {len(grown.singles)} plants in {escape(str(grown.folder))}: {escape(grown.grid.name)}, plants/, "
                     f"{escape(grown.video.name)}; "
                     f"each file carries its manifest", highlight=False)


@app.command()
@friendly
def describe(
    work_file: WorkArg,
    description: Annotated[str, typer.Argument(help="The plant in words, e.g. \"a short plant with orange flowers\".",
                                               show_default=False)],
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Plants to grow (default: the work's).")] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
) -> None:
    """Grow plants from a description, read with the words of the artist's own captions."""
    from ..garden.grow import grow as run_grow

    work, folder = _load(work_file, out)
    grown = run_grow(work, folder, count=count, seed=seed, description=description)
    console.print(f"grew {len(grown.singles)} plants for {escape(repr(description))} in {escape(str(grown.folder))}: "
                     f"{escape(grown.grid.name)}, plants/, {escape(grown.video.name)}; each file carries its manifest and the description", highlight=False)


@app.command()
@friendly
def passes(
    work_file: WorkArg,
    images: Annotated[list[Path] | None, typer.Argument(help="Pictures the garden made (default: grow new ones).")] = None,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Plants to grow when no pictures are given.")] = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
) -> None:
    """Run the work's chain of image-to-image passes, each on the last one's output."""
    from ..garden.passes import run_passes

    work, folder = _load(work_file, out)
    result = run_passes(work, folder, inputs=images or None, seed=seed, count=count)
    for stage in result.stages:
        console.print(f"  {escape(str(stage.relative_to(result.folder)))}: {len(list(stage.glob('*.png')))} pictures")
    console.print(f"{len(result.final)} final pictures in {escape(str(result.stages[-1]))}")


@app.command()
@friendly
def dataset(work_file: WorkArg, out: OutOpt = None) -> None:
    """Report the dataset: consent, counts, sizes, and every rejected file with its reason."""
    import statistics

    from rich.table import Table

    from ..garden.dataset import load_dataset

    work, folder = _load(work_file, out)
    report = load_dataset(work, folder / "cache").report
    consent = work.garden.dataset.consent
    console.print(f"dataset {work.garden.dataset.id!r} in {escape(str(report.folder))}" + (" (drawn just now)" if report.generated else ""))
    console.print(escape(f"consent: {consent.basis}, {consent.licence}, granted by {consent.granted_by} on {consent.granted_at}"))
    table = Table(show_header=False)
    table.add_row("images found", str(report.found))
    table.add_row("used", f"{report.used} (squared to {report.side} px)")
    for reason, n in sorted(report.reasons().items()):
        table.add_row(escape(f"skipped: {reason}"), str(n))
    if report.ignored:
        table.add_row("other files, ignored", str(len(report.ignored)))
    if report.widths:
        table.add_row("width px (min / median / max)", f"{min(report.widths)} / {statistics.median(report.widths):g} / {max(report.widths)}")
        table.add_row("height px (min / median / max)", f"{min(report.heights)} / {statistics.median(report.heights):g} / {max(report.heights)}")
    table.add_row("captioned", f"{report.captioned} ({report.uncaptioned} without a caption train unprompted)")
    if report.labels:
        table.add_row("labels", escape(", ".join(report.labels)))
    table.add_row("content sha256", report.sha256[:16] + "…")
    console.print(table)
    for name, reason in report.rejected:
        console.print(f"  [yellow]skipped[/] {escape(str(name))}: {escape(reason)}", highlight=False)
