"""``sugarglass consent``: the consent records, and withdrawing a source."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .common import StoreOpt, WorkArg, console, fail, friendly, load_work, open_store, shown

app = typer.Typer(help="Consent records: list them, withdraw a source.", no_args_is_help=True)


@app.command("list")
@friendly
def consent_list(work_file: WorkArg, store: StoreOpt = None) -> None:
    """Every source the store knows or the work declares, with its consent record and status."""
    work = load_work(work_file)
    today = datetime.now(timezone.utc).date().isoformat()
    with open_store(work, store) as db:
        records = {row["source"]: row for row in db.consents()}
        withdrawals = db.withdrawals()
    for source in work.sources:
        records.setdefault(source.id, {"source": source.id, "posts": 0, "withdrawn_at": None,
                                       **source.consent.model_dump(mode="json"), "declared_only": True})
    declared = {s.id for s in work.sources}
    for source_id, row in sorted(records.items()):
        if row["withdrawn_at"]:
            status = f"[red]withdrawn {row['withdrawn_at'][:10]}[/]"
        elif row["expires"] and row["expires"] < today:
            status = "[red]expired[/]"
        elif row.get("declared_only"):
            status = "[yellow]declared in the work, not ingested yet[/]"
        else:
            status = "[green]in force[/]"
        if source_id not in declared:
            status += " [dim](no longer in this work)[/]"
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column(overflow="fold")
        grid.add_row("status", status)
        for key in ("granted_by", "basis", "scope", "licence", "granted_at", "expires", "evidence"):
            grid.add_row(key.replace("_", " "), escape(str(row[key] or "-")))
        grid.add_row("posts stored", str(row["posts"]))
        console.print(Panel(grid, title=Text(source_id, style="bold"), title_align="left", expand=False))
    for w in withdrawals:
        console.print(f"withdrawal: {escape(w['source'])} on {w['withdrawn_at']}: {w['posts_removed']} posts and "
                      f"{w['feelings_removed']} feelings removed" + (f" ({escape(w['reason'])})" if w["reason"] else ""),
                      highlight=False)


@app.command("withdraw")
@friendly
def consent_withdraw(
    work_file: WorkArg,
    source: Annotated[str, typer.Argument(help="The source id to withdraw.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log; never the data).")] = "",
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Withdraw without asking first.")] = False,
) -> None:
    """Delete a source's posts and feelings, record the withdrawal, and refuse it from now on.

    It cannot be undone, so it asks first (--yes does not)."""
    from ..erasure import withdraw_source
    from ..errors import StoreError

    work = load_work(work_file)
    with open_store(work, store) as db:
        if source not in {row["source"] for row in db.consents()}:
            raise StoreError(f"{db.path}: no source {source!r} in the store")
        db.check_not_withdrawn(source)
        if not yes:
            posts = db.counts().get(source, {}).get("posts", 0)
            folders = len({folder for folder, _ in db.outputs_using(source)})
            console.print(f"withdraw [bold]{escape(source)}[/]: delete its {posts} posts and their feelings from "
                          f"{escape(shown(db.path))}, mark {folders} output folder(s) and refuse it from now on. "
                          "This cannot be undone.", highlight=False)
            try:
                agreed = typer.confirm("Withdraw it?", default=False)
            except typer.Abort:
                agreed = False
            if not agreed:
                fail(f"{source} was not withdrawn (answer y, or pass --yes to withdraw without asking)")
        done = withdraw_source(db, source, reason)
    console.print(f"withdrew [bold]{escape(source)}[/]: {done.posts} posts and {done.feelings} feelings deleted; "
                  f"{len(done.outputs_marked)} output folder(s) marked, {len(done.checkpoints_rewritten)} checkpoint(s) "
                  "rewritten; later ingests of it will be refused.")


