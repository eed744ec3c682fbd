"""``sugarglass feelings``: the stored feelings, the signal made from them, and a CSV export."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from .common import OutOpt, StoreOpt, WorkArg, console, friendly, load_work, open_store, shown


class _ShowByDefault(TyperGroup):
    """``sugarglass feelings WORK`` shows; ``sugarglass feelings export WORK`` exports."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


if TYPE_CHECKING:
    from ..store import Store
    from ..work import Work

app = typer.Typer(cls=_ShowByDefault, help="The stored feelings and the signal made from them.", no_args_is_help=True)


@app.command("show")
@friendly
def feelings_show(work_file: WorkArg, store: StoreOpt = None, out: OutOpt = None) -> None:
    """Summarise the stored feelings and the work's signal, and plot the signal to PNG."""
    from ..signal import build_signal, plot_signal, summarise

    work = load_work(work_file)
    with open_store(work, store) as db:
        counts = db.counts()
        used = db.not_withdrawn(work.signal_sources)
        feelings = db.feelings(used)
        languages = db.language_totals(used)
    signal = build_signal(feelings, work.signal)
    table = Table(title=f"feelings of {work.name}", title_justify="left")
    for column in ("source", "posts", "not English", "text kept"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source_id, c in sorted(counts.items()):
        table.add_row(escape(source_id), str(c["posts"]), str(c["non_english"]), str(c["with_text"]))
    console.print(table)
    s = summarise(signal)
    grouping = f"window {work.signal.window}" if work.signal.posts_per_tick is None else f"{work.signal.posts_per_tick} posts a tick"
    console.print(
        f"signal: {s['ticks']} ticks ({grouping}), {s['posts']} posts, {s['empty_ticks']} empty ticks filled by "
        f"'{work.signal.fill}'\nmean compound {s['mean_compound']:+.3f}; per tick from {s['min_tick_compound']:+.3f} "
        f"to {s['max_tick_compound']:+.3f} (sd {s['std_tick_compound']:.3f})\n"
        f"languages: {', '.join(f'{lang} {n}' for lang, n in sorted(languages.items(), key=lambda item: -item[1])) or 'none'}",
        highlight=False,
    )
    from ..provenance import label

    folder = out or work.base_dir / "out" / f"{work.name}-feelings"
    path = plot_signal(signal, folder / "signal.png", f"{work.title or work.name}: feeling per tick ({grouping})")
    with open_store(work, store) as db:
        label(path, feelings_manifest(work, db, {"signal": {**work.signal.model_dump(mode="json"), "ticks": s["ticks"],
                                                            "posts": s["posts"], "languages": languages}}))
    console.print(f"plot: {escape(shown(path))}")


def feelings_manifest(work: Work, db: Store, sections: dict) -> dict:
    """The manifest of a file made from the stored feelings alone (no society, no seed)."""
    from ..provenance import build_manifest
    from ..run import analyzer_record

    return build_manifest(work=work, sources=db.provenance(db.not_withdrawn(work.signal_sources)), analyzer=analyzer_record(work),
                          seed=work.seed, steps=0, provenance=work.provenance, sections=sections)


@app.command("export")
@friendly
def feelings_export(
    work_file: WorkArg,
    csv_path: Annotated[Path, typer.Option("--csv", metavar="FILE", help="Write one row per post here (and its manifest beside it).")],
    store: StoreOpt = None,
) -> None:
    """One CSV row per stored post: source, post id, time, language and every score."""
    work = load_work(work_file)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    partial = csv_path.with_name(csv_path.name + ".partial")
    from ..files import fsync_folder
    from ..store import EXPORT_COLUMNS, iso_utc, spreadsheet_safe

    rows = 0
    with open_store(work, store) as db:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(EXPORT_COLUMNS)
            for source_id, post_id, created, language, non_english, *scores in db.export_rows(db.not_withdrawn(work.signal_sources)):
                writer.writerow(spreadsheet_safe([source_id, post_id, iso_utc(created), language or "", non_english, *scores]))
                rows += 1
            handle.flush()
            os.fsync(handle.fileno())  # "wrote N rows" is said of rows on the disk
        partial.replace(csv_path)
        fsync_folder(csv_path.parent)
        from ..provenance import label

        sidecar = label(csv_path, feelings_manifest(work, db, {"export": {"rows": rows, "times": "ISO 8601, UTC"}}))
    console.print(f"wrote {rows} rows to {escape(shown(csv_path))}, its manifest in {escape(shown(sidecar))}")


