"""``sugarglass ingest``: every source of a work read, cleaned, scored and stored."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .common import (
    SchedulerOpt,
    StoreOpt,
    WorkArg,
    bar,
    console,
    friendly,
    open_store,
    shown,
)


@friendly
def ingest(
    work_file: WorkArg,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", metavar="ID", help="Only this source (repeatable).")] = None,
    store: StoreOpt = None,
    parallel: Annotated[bool, typer.Option("--parallel", help="Score partitions on Dask workers (a local cluster by default).")] = False,
    scheduler: SchedulerOpt = None,
) -> None:
    """Read, clean, score and store every source of the work, after checking every consent."""
    from ..ingest import ingest_work
    from ..work import load_work

    work = load_work(work_file)
    with open_store(work, store) as db, bar() as progress:
        tasks: dict[str, Any] = {}
        pending: dict[str, int] = {}

        def on_post(source_id: str) -> None:
            if source_id not in tasks:
                tasks[source_id] = progress.add_task(source_id, total=None)
                pending[source_id] = 0
            pending[source_id] += 1
            if pending[source_id] == 250:
                progress.advance(tasks[source_id], 250)
                pending[source_id] = 0

        if parallel or scheduler:
            from ..scale.archive import ingest_parallel

            results = ingest_parallel(work, db, scheduler=scheduler, sources=source, progress=progress)
        else:
            results = ingest_work(work, db, sources=source, on_post=on_post)
        for source_id, task in tasks.items():
            progress.update(task, advance=pending[source_id], total=progress.tasks[task].completed + pending[source_id])
    print_ingests(results, f"ingest of {work.name} into {shown(db.path)}")


def print_ingests(results: list, title: str) -> None:
    """One row per file read, then a note for each source left out, the repeated ids and the
    first problems of each file."""
    table = Table(title=escape(title), title_justify="left")
    for column in ("source", "read", "added", "left out", "bad (skipped)"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for r in results:
        if r.skipped:
            continue
        if r.unchanged:
            table.add_row(escape(r.source), "-", "0", "file unchanged", "-")
            continue
        left = ", ".join(f"{n} {why}" for why, n in sorted(r.left_out.items())) or "0"
        table.add_row(escape(r.source), str(r.read), str(r.added), escape(left), str(r.bad))
    console.print(table)
    for r in results:
        if r.note:
            console.print(f"[yellow]{escape(r.note)}[/]", highlight=False)
        repeated = r.left_out.get("repeated id", 0)
        if repeated and r.report is not None:
            where = r.report.repeated_at
            console.print(f"  {escape(r.source)}: {repeated} repeated id(s) skipped (first kept): lines "
                          f"{escape(', '.join(where))}" + (" …" if repeated > len(where) else ""), highlight=False)
        for line, reason in (r.report.problems if r.report else [])[:10]:
            where = r.path.name if isinstance(r.path, Path) else r.path
            console.print(f"  [yellow]skipped[/] {escape(str(where))}" + (f":{line}" if line else "") + f": {escape(reason)}",
                          highlight=False)
