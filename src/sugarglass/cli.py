"""One command line over all of Sugarglass: ``sugarglass --help`` lists the commands."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from . import __version__
from .errors import SugarglassError
from .garden_cli import garden_app
from .work import Work, load_work

# Posts, ids and file names are printed: ":two:" in one must stay text, not become an emoji
# (rich's default), and every user string goes through ``escape`` so "[red]" stays text too.
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

app = typer.Typer(help="Living, data-driven artworks made with consent.", no_args_is_help=True, add_completion=False)
consent_app = typer.Typer(help="Consent records: list them, withdraw a source.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")


class _ShowByDefault(TyperGroup):
    """``sugarglass feelings WORK`` shows; ``sugarglass feelings export WORK`` exports."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


feelings_app = typer.Typer(cls=_ShowByDefault, help="The stored feelings and the signal made from them.", no_args_is_help=True)
app.add_typer(feelings_app, name="feelings")
app.add_typer(garden_app, name="garden")

WorkArg = Annotated[Path, typer.Argument(help="The work file (TOML).", show_default=False)]
StoreOpt = Annotated[Path | None, typer.Option("--store", help="Use this store file instead of the work's.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Output folder (default: out/<work>-<seed>).")]
SchedulerOpt = Annotated[str | None, typer.Option("--scheduler", help="A dask.distributed scheduler, e.g. tcp://10.0.0.5:8786.")]


def friendly(command: Callable) -> Callable:
    """Errors that are the input's fault print as one clear message and exit 2."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SugarglassError as exc:
            fail(str(exc))
        except KeyError as exc:
            fail(str(exc.args[0]))

    return run


def fail(message: str) -> None:
    """Print one error line, the message as plain text whatever brackets or colons it holds."""
    errors.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def open_store(work: Work, store: Path | None):
    from .store import Store

    return Store(store or work.store_path)


def out_dir(work: Work, out: Path | None) -> Path:
    return out or Path("out") / f"{work.name}-{work.seed}"


def _print_version(asked: bool) -> None:
    """Eager, so ``sugarglass --version`` answers without a command."""
    if asked:
        console.print(f"sugarglass {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and stop.", is_eager=True,
                                          callback=_print_version)] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step, not only warnings.")] = False,
) -> None:
    from rich.logging import RichHandler

    logger = logging.getLogger("sugarglass")
    if not logger.handlers:
        logger.addHandler(RichHandler(console=errors, show_path=False, markup=False))
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


@app.command()
@friendly
def ingest(
    work_file: WorkArg,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")] = None,
    store: StoreOpt = None,
    parallel: Annotated[bool, typer.Option("--parallel", help="Score partitions on Dask workers (a local cluster by default).")] = False,
    scheduler: SchedulerOpt = None,
) -> None:
    """Read, clean, score and store every source of the work, after checking every consent."""
    from .ingest import ingest_work

    work = load_work(work_file)
    with open_store(work, store) as db, _bar() as progress:
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
            from .scale_cli import ingest_parallel

            results = ingest_parallel(work, db, scheduler=scheduler, sources=source, progress=progress)
        else:
            results = ingest_work(work, db, sources=source, on_post=on_post)
        for source_id, task in tasks.items():
            progress.update(task, advance=pending[source_id], total=progress.tasks[task].completed + pending[source_id])
    table = Table(title=f"ingest of {work.name} into {escape(str(db.path))}", title_justify="left")
    for column in ("source", "read", "added", "left out", "bad (skipped)"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for r in results:
        if r.unchanged:
            table.add_row(escape(r.source), "-", "0", "file unchanged", "-")
            continue
        left = ", ".join(f"{n} {why}" for why, n in sorted(r.left_out.items())) or "0"
        table.add_row(escape(r.source), str(r.read), str(r.added), escape(left), str(r.bad))
    console.print(table)
    for r in results:
        for line, reason in (r.report.problems if r.report else [])[:10]:
            where = r.path.name if isinstance(r.path, Path) else r.path
            console.print(f"  [yellow]skipped[/] {escape(str(where))}" + (f":{line}" if line else "") + f": {escape(reason)}", highlight=False)


@consent_app.command("list")
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


@consent_app.command("withdraw")
@friendly
def consent_withdraw(
    work_file: WorkArg,
    source: Annotated[str, typer.Argument(help="The source id to withdraw.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log; never the data).")] = "",
    store: StoreOpt = None,
) -> None:
    """Delete a source's posts and feelings, record the withdrawal, and refuse it from now on."""
    from .erasure import withdraw_source

    work = load_work(work_file)
    with open_store(work, store) as db:
        done = withdraw_source(db, source, reason)
    console.print(f"withdrew [bold]{escape(source)}[/]: {done.posts} posts and {done.feelings} feelings deleted; "
                  f"{len(done.outputs_marked)} output folder(s) marked, {len(done.checkpoints_rewritten)} checkpoint(s) "
                  "rewritten; later ingests of it will be refused.")


@feelings_app.command("show")
@friendly
def feelings_show(work_file: WorkArg, store: StoreOpt = None, out: OutOpt = None) -> None:
    """Summarise the stored feelings and the work's signal, and plot the signal to PNG."""
    from .signal import build_signal, plot_signal, summarise

    work = load_work(work_file)
    with open_store(work, store) as db:
        counts = db.counts()
        feelings = db.feelings(work.signal_sources)
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
        f"to {s['max_tick_compound']:+.3f} (sd {s['std_tick_compound']:.3f})",
        highlight=False,
    )
    path = plot_signal(signal, out_dir(work, out) / "signal.png", f"{work.title or work.name}: feeling per tick ({grouping})")
    from .provenance import build_manifest, label
    from .run import analyzer_record

    with open_store(work, store) as db:
        sources = db.provenance(work.signal_sources)
    label(path, build_manifest(work=work, sources=sources, analyzer=analyzer_record(work), seed=work.seed, steps=0,
                               provenance=work.provenance,
                               sections={"signal": {**work.signal.model_dump(mode="json"), "ticks": s["ticks"], "posts": s["posts"]}}))
    console.print(f"plot: {escape(str(path))}")


@feelings_app.command("export")
@friendly
def feelings_export(
    work_file: WorkArg,
    csv_path: Annotated[Path, typer.Option("--csv", help="Write one row per post here.")],
    store: StoreOpt = None,
) -> None:
    """One CSV row per stored post: source, post id, time, language and every score."""
    work = load_work(work_file)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    partial = csv_path.with_name(csv_path.name + ".partial")
    from .store import spreadsheet_safe

    rows = 0
    with open_store(work, store) as db, partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["source", "post_id", "created_at", "language", "non_english", "compound", "compnorm", "pos", "neg", "neu"])
        for source_id, post_id, created, language, non_english, *scores in db.export_rows(work.signal_sources):
            when = datetime.fromtimestamp(created, timezone.utc).isoformat().replace("+00:00", "Z") if created is not None else ""
            writer.writerow(spreadsheet_safe([source_id, post_id, when, language or "", non_english, *scores]))
            rows += 1
    partial.replace(csv_path)
    console.print(f"wrote {rows} rows to {escape(str(csv_path))}")


StepsOpt = Annotated[int | None, typer.Option("--steps", "-n", min=1, help="Ticks to run (default: the work's society.steps).")]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, help="Seed (default: the work's seed).")]


@app.command()
@friendly
def simulate(work_file: WorkArg, steps: StepsOpt = None, seed: SeedOpt = None, out: OutOpt = None) -> None:
    """Run the work's society alone, with its rules' constant parameters: metrics and plots."""
    from .society import simulate as run_society

    work = load_work(work_file)
    seed = work.seed if seed is None else seed
    folder = out or Path("out") / f"{work.name}-{seed}" / "society"
    with _bar() as progress:
        written = run_society(work.society, seed, steps, folder, work.base_dir, progress=progress)
    from .provenance import build_manifest
    from .run import label_folder, settings_sections

    manifest = build_manifest(work=work, sources=[], analyzer={}, seed=seed, steps=steps or work.society.steps,
                              provenance=work.provenance, sections={"society": settings_sections(work)["society"]})
    label_folder(folder, sorted(written.values()), manifest, work)
    console.print(f"wrote {len(written)} files to {escape(str(folder))}, each with its manifest: "
                  + escape(", ".join(p.name for p in written.values())))


@app.command()
@friendly
def run(work_file: WorkArg, steps: StepsOpt = None, seed: SeedOpt = None, out: OutOpt = None, store: StoreOpt = None) -> None:
    """Make the artwork end to end: ingest, signal, society, levels to the outputs, painting,
    metrics, plots and a manifest, in out/<work>-<seed>/."""
    from .run import run_work

    work = load_work(work_file)
    with open_store(work, store) as db, _bar() as progress:
        result = run_work(work, db, seed=seed, steps=steps, out_dir=out, progress=progress)
    table = Table(title=escape(f"{work.title or work.name}: {result.steps} ticks in {result.out_dir}"), title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path in sorted(set(result.files.values())):
        table.add_row(escape(str(path.relative_to(result.out_dir))), f"{path.stat().st_size:,}")
    console.print(table)
    for name, count in result.output_errors.items():
        console.print(f"[yellow]{escape(name)}: {count} tick(s) failed; see the log above[/]")


def _bar() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False,
    )


@app.command()
@friendly
def live(
    work_file: WorkArg,
    seed: SeedOpt = None,
    out: OutOpt = None,
    store: StoreOpt = None,
    max_ticks: Annotated[int | None, typer.Option("--max-ticks", min=1, help="Stop after this many ticks in all (resumes count).")] = None,
    no_server: Annotated[bool, typer.Option("--no-server", help="Drive the outputs only: no live page, no visitors.")] = False,
    host: Annotated[str | None, typer.Option(help="Serve on this address (default: the work's live.host).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Serve on this port (default: live.port).")] = None,
) -> None:
    """Run the work forever: new words enter as they come, the painting is served live, and
    every few ticks a checkpoint lets a restart carry on exactly. SIGTERM or Ctrl-C stops it
    cleanly after a final checkpoint."""
    import signal as signals
    import threading

    from .live.hub import LiveHub
    from .live.loop import Installation

    work = load_work(work_file)
    seed = work.seed if seed is None else seed
    settings = work.live.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    folder = out or Path("out") / f"{work.name}-{seed}" / "live"
    hub = LiveHub(work.readout.columns, work.readout.rows)
    installation = Installation(work, settings, hub, folder, store or work.store_path, seed, max_ticks)
    stop = threading.Event()
    logging.getLogger("sugarglass").setLevel(logging.INFO)
    if no_server:
        for number in (signals.SIGTERM, signals.SIGINT):
            signals.signal(number, lambda *_: stop.set())
        installation.run(stop)
        console.print(f"stopped at tick {installation.tick}; checkpoint in {installation.checkpoints}")
        return
    from .live.server import make_app, make_server

    def run_then_close() -> None:
        try:
            installation.run(stop)
        except BaseException:  # noqa: BLE001 - reported by the main thread below
            pass
        finally:
            server.should_exit = True

    thread = threading.Thread(target=run_then_close, name="sugarglass-live")
    from .affect import make_analyzer

    app = make_app(hub, settings, store or work.store_path, canvas=work.canvas, on_shutdown=stop.set, state_dir=folder,
                   analyzer=make_analyzer(work.analyzer.name), non_english=work.analyzer.non_english)
    server = make_server(app, settings.host, settings.port)
    thread.start()
    try:
        server.run()
    finally:
        stop.set()
        thread.join()
    if installation.failed is not None:
        fail(f"the live run stopped at tick {installation.tick}: {installation.failed}")
    console.print(f"stopped at tick {installation.tick}; checkpoint in {installation.checkpoints}")


FileArg = Annotated[Path, typer.Argument(help="An output file, or a run's manifest.json.", show_default=False)]


@app.command()
@friendly
def verify(file: FileArg, store: StoreOpt = None) -> None:
    """Check an output against its embedded manifest, and every source's consent as it is now.
    Exits 1 on any break: changed content, an altered manifest, consent withdrawn or expired."""
    from .provenance.verify import verify as check

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


@app.command()
@friendly
def provenance(
    file: FileArg,
    prov: Annotated[bool, typer.Option("--prov", help="Write W3C PROV-JSON instead of the manifest.")] = False,
) -> None:
    """Print the manifest an output carries (JSON), or the same as W3C PROV-JSON."""
    import json as json_module

    from .provenance import read_label
    from .provenance.prov import to_prov

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


@app.command()
@friendly
def audit(work_file: WorkArg, store: StoreOpt = None) -> None:
    """The work against the four criteria: consent and scope, local models, visitors, labels.
    Exits 1 when a source's consent is missing, not in force, or exceeded."""
    from .audit import audit as run_audit
    from .audit import audit_garden
    from .work import read_work_file

    raw = read_work_file(Path(work_file))
    if "garden" in raw and "sources" not in raw:
        from .garden.config import load_garden

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


@app.command()
@friendly
def sweep(
    work_file: WorkArg,
    settings: Annotated[list[str], typer.Option("--set", help="NAME=V1,V2,... : a preset or society option to sweep (repeatable).")],
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per combination: the work's seed and the ones after it.")] = 1,
    steps: StepsOpt = None,
    scheduler: SchedulerOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: out/<work>-sweep).")] = None,
) -> None:
    """Run every combination of the settings and seeds as Dask tasks: one Parquet table of
    metrics per tick, comparison plots, and a manifest for each run."""
    from .scale_cli import parse_settings
    from .scale_cli import sweep as run_sweep

    chosen = parse_settings(settings)
    work = load_work(work_file)
    with _bar() as progress:
        table = run_sweep(work, settings=chosen, seeds=seeds, steps=steps or work.society.steps, scheduler=scheduler,
                          out_dir=out or Path("out") / f"{work.name}-sweep", progress=progress)
    console.print(f"sweep table: {escape(str(table))}; plots and manifest.json beside it")
