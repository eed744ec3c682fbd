"""``sugarglass verify``, ``provenance`` and ``audit``: what an output or a work can show for itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from .common import StoreOpt, WorkArg, console, fail, friendly, load_work, open_store

FileArg = Annotated[Path, typer.Argument(help="An output file, or a run's manifest.json.", show_default=False)]


@friendly
def verify(file: FileArg, store: StoreOpt = None) -> None:
    """Check an output against its embedded manifest, and every source's consent as it is now.
    Exits 1 on any break: changed content, an altered manifest, consent withdrawn or expired."""
    from ..provenance.verify import verify as check

    verdict = check(file, store)
    table = Table(title=f"verify {escape(str(file))}", title_justify="left", show_header=False)
    table.add_column("")
    table.add_column("check")
    table.add_column("detail", overflow="fold")
    for c in verdict.checks:
        table.add_row("[green]✓[/]" if c.ok else "[red]✗[/]", escape(c.name), escape(c.detail))
    console.print(table)
    if verdict.ok:
        console.print("[bold green]VERIFIED[/]: the file is as its manifest says, and every source's consent is in force.")
        return
    console.print("[bold red]FAILED[/]: " + escape("; ".join(c.detail for c in verdict.checks if not c.ok)), soft_wrap=True)
    raise typer.Exit(1)


@friendly
def provenance(
    file: FileArg,
    prov: Annotated[bool, typer.Option("--prov", help="Write W3C PROV-JSON instead of the manifest.")] = False,
) -> None:
    """Print the manifest an output carries (JSON), or the same as W3C PROV-JSON."""
    import json as json_module

    from ..provenance import read_label
    from ..provenance.prov import to_prov

    if file.name == "manifest.json":
        record = {"manifest": json_module.loads(file.read_text(encoding="utf-8")), "content": None}
    else:
        record = read_label(file).record
        if record is None:
            fail(f"no Sugarglass manifest in {file}")
    if prov:
        print(to_prov(record["manifest"], record["content"]).serialize(indent=2))
    else:
        print(json_module.dumps(record, indent=2, ensure_ascii=False))


@friendly
def audit(work_file: WorkArg, store: StoreOpt = None) -> None:
    """The work against the four criteria: consent and scope, local models, visitors, labels.
    Exits 1 when a source's consent is missing, not in force, or exceeded."""
    from ..audit import audit as run_audit
    from ..audit import audit_garden
    from ..work import read_work_file

    raw = read_work_file(Path(work_file))
    if "garden" in raw and "sources" not in raw:
        from ..garden.config import load_garden

        work = load_garden(work_file)
        with open_store(work, store) as db:
            criteria = audit_garden(work, db)
    else:
        work = load_work(work_file)
        with open_store(work, store) as db:
            criteria = run_audit(work, db)
    for number, criterion in enumerate(criteria, start=1):
        grid = Table.grid(padding=(0, 1))
        grid.add_column()
        grid.add_column(overflow="fold")
        for ok, text in criterion.findings:
            grid.add_row("[green]✓[/]" if ok else "[red]✗[/]", escape(text))
        mark = "[green]met[/]" if criterion.ok else "[red]not met[/]"
        console.print(Panel(grid, title=f"{number}. {criterion.title}: {mark}", title_align="left"))
    if not criteria[0].ok:
        raise typer.Exit(1)


