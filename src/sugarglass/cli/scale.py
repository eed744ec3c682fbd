"""The scale-out commands: ``sugarglass ingest WORK --parallel [--scheduler ADDRESS]`` (through
``ingest_parallel``) and ``sugarglass sweep WORK --set name=v1,v2 ... --seeds N --steps N``.

Each checks everything it can before it connects (a sweep's settings, every combination), then
connects (a local cluster unless the work's ``[scale]`` table or ``scheduler`` names one), so an
unreachable scheduler or a wrong value is an error before any work starts. Dask is imported only
when one of them runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from .common import (
    SchedulerOpt,
    StepsOpt,
    WorkArg,
    bar,
    console,
    friendly,
    load_work,
    shown,
)

if TYPE_CHECKING:
    from ..ingest import IngestResult
    from ..store import Store
    from ..work import Work


def ingest_parallel(work: Work, store: Store, *, scheduler: str | None = None, partition_rows: int | None = None,
                    progress: Any = None, sources: list[str] | None = None) -> list[IngestResult]:
    """Ingest every source of the work (or those named, as ``--source``), large files in
    partitions scored on the cluster; the store ends as ``ingest_work`` would leave it.
    ``progress``: a rich ``Progress``, one task per file counting its partitions."""
    from ..ingest import check_consents, sources_to_read
    from ..scale.archive import ingest_archive
    from ..scale.cluster import open_client, scale_settings

    scale = scale_settings(work)
    chosen = [work.source(name) for name in sources] if sources else None
    check_consents(work, store, sources=sources_to_read(work, store, sources)[0])  # before connecting
    with open_client(scheduler or scale.scheduler, workers=scale.workers, timeout=scale.connect_timeout) as client:
        return ingest_archive(work, store, client, partition_rows=partition_rows or scale.partition_rows,
                              progress=progress, sources=chosen)


def run_sweep(work: Work, *, settings: dict[str, list], seeds: int, steps: int, scheduler: str | None = None,
              out_dir: Path, progress: Any = None) -> Path:
    """Run every combination of ``settings`` for each of ``seeds`` seeds (the work's seed and the
    ones after it), ``steps`` ticks each; returns the path of the Parquet table (its folder also
    holds the plots and ``manifest.json``)."""
    from ..scale import sweep as sweeps
    from ..scale.cluster import open_client, scale_settings

    scale = scale_settings(work)
    plan = sweeps.plan_sweep(work, settings, seeds, steps)
    with open_client(scheduler or scale.scheduler, workers=scale.workers, timeout=scale.connect_timeout) as client:
        return sweeps.run_sweep(work, plan, client, Path(out_dir), progress)


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
    from ..scale.sweep import parse_settings

    chosen = parse_settings(settings)
    work = load_work(work_file)
    with bar() as progress:
        table = run_sweep(work, settings=chosen, seeds=seeds, steps=steps or work.society.steps, scheduler=scheduler,
                          out_dir=out or work.base_dir / "out" / f"{work.name}-sweep", progress=progress)
    console.print(f"sweep table: {escape(shown(table))}; plots and manifest.json beside it")
