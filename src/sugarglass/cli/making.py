"""``sugarglass init``, ``run`` and ``simulate``: a new work, the artwork end to end, or its
society alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import OutOpt, SeedOpt, StepsOpt, StoreOpt, WorkArg, bar, console, friendly, kernels_notice, load_work, open_store, shown

ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the output folder's earlier run instead of taking a new folder.")]


@friendly
def init(
    folder: Annotated[Path, typer.Argument(help="Where the new work goes (made if missing).", metavar="FOLDER")] = Path("my-work"),
) -> None:
    """Start a new work: a commented work.toml, sample posts with their consent, and a
    source for your own words to fill in."""
    from ..scaffold import scaffold

    written = scaffold(folder)
    work_file = shown(written[0])
    console.print(f"wrote {escape(', '.join(shown(p) for p in written))}", highlight=False)
    console.print(f"next:\n  sugarglass run {escape(work_file)} --preview   a still and a short clip in seconds\n"
                  f"  sugarglass run {escape(work_file)}             the whole painting\n"
                  f"then put your own words in {escape(shown(written[0].parent / 'data'))} and fill in their consent in "
                  f"{escape(work_file)}", highlight=False)


@friendly
def run(
    work_file: WorkArg,
    steps: StepsOpt = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    store: StoreOpt = None,
    force: ForceOpt = False,
    preview: Annotated[bool, typer.Option("--preview", help="Small and quick: 120 ticks at 320 px, no hardware, "
                                                            "into out/<work>-<seed>-preview/.")] = False,
) -> None:
    """Make the artwork end to end.

    Ingest, signal, society, levels to the outputs, painting, metrics, plots and a manifest,
    in a folder of its own: out/<work>-<seed>/ beside the work file (then -2, -3, ...)."""
    from ..run import preview as small
    from ..run import run_folder, run_work

    work = load_work(work_file)
    seed = work.seed if seed is None else seed
    if preview:
        work, force = small(work), True
    folder = run_folder(work, seed, out, force=force, suffix="-preview" if preview else "")
    with open_store(work, store) as db, bar() as progress, kernels_notice(progress):
        result = run_work(work, db, seed=seed, steps=steps, out_dir=folder, progress=progress)  # folder already claimed
    console.print(escape(f"{work.title or work.name}: {result.steps} ticks in {shown(result.out_dir)}"), highlight=False)
    table = Table()
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path in sorted(set(result.files.values())):
        table.add_row(escape(str(path.relative_to(result.out_dir))), f"{path.stat().st_size:,}")
    console.print(table)
    for ingested in result.ingests:
        if ingested.note:
            console.print(f"[yellow]{escape(ingested.note)}[/]", highlight=False)
    for name, count in result.output_errors.items():
        console.print(f"[yellow]{escape(name)}: {count} tick(s) failed; see the log above[/]")


@friendly
def simulate(work_file: WorkArg, steps: StepsOpt = None, seed: SeedOpt = None, out: OutOpt = None, force: ForceOpt = False) -> None:
    """Run the work's society alone, with its rules' constant parameters: metrics and plots."""
    from ..provenance import build_manifest
    from ..run import label_folder, run_folder, settings_sections
    from ..society import simulate as run_society

    work = load_work(work_file)
    seed = work.seed if seed is None else seed
    folder = run_folder(work, seed, out, force=force, suffix="-society")
    with bar() as progress, kernels_notice(progress):
        written = run_society(work.society, seed, steps, folder, work.base_dir, progress=progress)
    manifest = build_manifest(work=work, sources=[], analyzer={}, seed=seed, steps=steps or work.society.steps,
                              provenance=work.provenance, sections={"society": settings_sections(work)["society"]})
    label_folder(folder, sorted(written.values()), manifest, work)
    console.print(f"wrote {len(written)} files to {escape(shown(folder))}, each with its manifest: "
                  + escape(", ".join(p.name for p in written.values())))
