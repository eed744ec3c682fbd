"""``sugarglass run`` and ``sugarglass simulate``: the artwork end to end, or its society alone."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from .common import (
    OutOpt,
    SeedOpt,
    StepsOpt,
    StoreOpt,
    WorkArg,
    bar,
    console,
    friendly,
    load_work,
    open_store,
    out_dir,
)


@friendly
def simulate(work_file: WorkArg, steps: StepsOpt = None, seed: SeedOpt = None, out: OutOpt = None) -> None:
    """Run the work's society alone, with its rules' constant parameters: metrics and plots."""
    from ..society import simulate as run_society

    work = load_work(work_file)
    seed = work.seed if seed is None else seed
    folder = out or out_dir(work, None, seed) / "society"
    with bar() as progress:
        written = run_society(work.society, seed, steps, folder, work.base_dir, progress=progress)
    from ..provenance import build_manifest
    from ..run import label_folder, settings_sections

    manifest = build_manifest(work=work, sources=[], analyzer={}, seed=seed, steps=steps or work.society.steps,
                              provenance=work.provenance, sections={"society": settings_sections(work)["society"]})
    label_folder(folder, sorted(written.values()), manifest, work)
    console.print(f"wrote {len(written)} files to {escape(str(folder))}, each with its manifest: "
                  + escape(", ".join(p.name for p in written.values())))


@friendly
def run(work_file: WorkArg, steps: StepsOpt = None, seed: SeedOpt = None, out: OutOpt = None, store: StoreOpt = None) -> None:
    """Make the artwork end to end: ingest, signal, society, levels to the outputs, painting,
    metrics, plots and a manifest, in out/<work>-<seed>/."""
    from ..run import run_work

    work = load_work(work_file)
    with open_store(work, store) as db, bar() as progress:
        result = run_work(work, db, seed=seed, steps=steps, out_dir=out, progress=progress)
    table = Table(title=escape(f"{work.title or work.name}: {result.steps} ticks in {result.out_dir}"), title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path in sorted(set(result.files.values())):
        table.add_row(escape(str(path.relative_to(result.out_dir))), f"{path.stat().st_size:,}")
    console.print(table)
    for name, count in result.output_errors.items():
        console.print(f"[yellow]{escape(name)}: {count} tick(s) failed; see the log above[/]")


