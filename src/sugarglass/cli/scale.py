"""``sugarglass sweep WORK --set name=v1,v2 ... --seeds N --steps N [--scheduler ADDRESS]``:
every combination as Dask tasks (``scale.sweep.sweep_work``); ``ingest --parallel`` is in
``cli.ingest``. Dask is imported only when one of them runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .common import SchedulerOpt, StepsOpt, WorkArg, bar, console, friendly, load_work, shown


@friendly
def sweep(
    work_file: WorkArg,
    settings: Annotated[list[str], typer.Option("--set", metavar="NAME=V1,V2",
                                                help="A preset or society option to sweep, and its values (repeatable).")],
    seeds: Annotated[int, typer.Option(min=1, metavar="N", help="Seeds per combination: the work's seed and the ones after it.")] = 1,
    steps: StepsOpt = None,
    scheduler: SchedulerOpt = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="FOLDER",
                                             help="Output folder (default: out/<work>-sweep beside the work file).")] = None,
) -> None:
    """Run every combination of the settings and seeds as Dask tasks.

    One Parquet table of metrics per tick, comparison plots, and a manifest for each run."""
    from ..scale.sweep import parse_settings, sweep_work

    chosen = parse_settings(settings)
    work = load_work(work_file)
    with bar() as progress:
        table = sweep_work(work, settings=chosen, seeds=seeds, steps=steps or work.society.steps, scheduler=scheduler,
                          out_dir=out or work.base_dir / "out" / f"{work.name}-sweep", progress=progress)
    console.print(f"sweep table: {escape(shown(table))}; plots and manifest.json beside it")
