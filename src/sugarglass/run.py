"""A run of the sentiment work, end to end: feelings -> signal -> society -> levels -> painting.

Ingest (idempotent: unchanged files are not read again), build the signal, evaluate the
couplings for every tick, step the society, read its levels out to the hardware outputs, render
the painting from the levels, and write metrics, plots and a manifest of all of it into
``out/<work>-<seed>/`` beside the work file: a folder of its own for every run.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from .couplings import CouplingError, inert_couplings, schedule
from .errors import ConsentError, SugarglassError
from .ingest import IngestResult, ingest_work
from .outputs import LevelsFile, guarded, make_output
from .provenance import build_manifest, label, write_manifest
from .readout import Readout
from .signal import build_signal
from .store import Store
from .work import Work

log = logging.getLogger("sugarglass.run")

# Coupling targets that stand for more than one of the engine's per-tick parameters.
ALIASES = {"growback": ("sugar_growback", "spice_growback"), "max_age": ("max_age_max",)}


def tick_parameters() -> tuple[str, ...]:
    """Every name a coupling may set: the engine's per-tick parameters and their aliases."""
    from .society import TickParams

    return (*(f.name for f in dataclasses.fields(TickParams)), *ALIASES)


def params_per_tick(values: dict[str, np.ndarray], defaults: object) -> list[object]:
    """One ``TickParams`` a tick, the couplings' values laid over the rules' defaults."""
    fields = {f.name: f.type for f in dataclasses.fields(defaults)}
    columns: dict[str, np.ndarray] = {}
    for name, column in values.items():
        for target in ALIASES.get(name, (name,)):
            columns[target] = column
    steps = len(next(iter(columns.values()))) if columns else 0
    integer = {name for name, kind in fields.items() if kind in (int, "int")}
    return [
        dataclasses.replace(defaults, **{
            name: int(np.floor(column[t])) if name in integer else float(column[t]) for name, column in columns.items()
        })
        for t in range(steps)
    ]


def settings_sections(work: Work) -> dict:
    """Every stage's resolved settings, as a manifest records them."""
    return {
        "society": {"preset": work.society.preset, "options": work.society.rules.model_dump(mode="json"),
                    "landscape": work.society.landscape.model_dump(mode="json")},
        "couplings": {"when_exhausted": work.couplings.when_exhausted,
                      "set": {k: v.model_dump(mode="json") for k, v in work.couplings.couplings().items()}},
        "readout": work.readout.model_dump(mode="json"),
        "canvas": work.canvas.model_dump(mode="json"),
        "outputs": [c.model_dump(mode="json") for c in work.outputs],
        "safety": work.safety.model_dump(mode="json"),
    }


def label_folder(folder: Path, written: list[Path], manifest: dict, work: Work, signer: object | None = None) -> Path:
    """Give every written file its manifest (embedded, or a sidecar), sign the images and
    video when the work names a certificate, and write ``manifest.json`` listing them all."""
    sidecars = [side for path in written if (side := label(path, manifest)) is not None]
    if signer is not None:
        from .provenance.c2pa import sign

        use, constraint = work.provenance.c2pa_training_mining()
        for path in written:
            if path.suffix in (".png", ".mp4", ".gif"):
                sign(signer, path, title=f"{work.title or work.name}: {path.name}", manifest=manifest,
                     digital_source_type=manifest["digital_source_type"], data_mining=use, constraint=constraint)
    return write_manifest(folder / "manifest.json", manifest, written + sidecars)


def analyzer_record(work: Work) -> dict:
    """The analyzers and their lexicons, with versions and licences, for a manifest: English
    VADER's at the top (as manifests have always named it), every language's under ``languages``."""
    from .affect import make_analyzers

    analyzers = make_analyzers(work.analyzer)
    english = analyzers.english
    return {"name": english.name, "version": english.version, "licence": english.licence, "lexicon": english.lexicon,
            "non_english": work.analyzer.non_english, "languages": analyzers.record()}


class FolderTaken(SugarglassError):
    """The output folder already holds a run, or files Sugarglass did not write."""


def run_folder(work: Work, seed: int, out: Path | None = None, *, force: bool = False, suffix: str = "") -> Path:
    """Where a run writes. ``out`` as given, or ``out/<work>-<seed><suffix>`` beside the work
    file; a default folder that already holds a run is left as it is and the run takes the
    next free one (``-2``, ``-3``, ...), so an earlier painting is never overwritten unseen.
    ``force`` empties the folder first (only a run's own folder: one with its manifest.json
    or levels.jsonl), so no stale file of the earlier run stays beside the new ones."""
    if out is not None:
        return _claim(Path(out), force)
    base = work.base_dir / "out" / f"{work.name}-{seed}{suffix}"
    if force or not _holds_files(base):
        return _claim(base, force)
    return next(folder for n in itertools.count(2) if not _holds_files(folder := base.with_name(f"{base.name}-{n}")))


def _holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _claim(folder: Path, force: bool) -> Path:
    if not _holds_files(folder):
        return folder
    if not force:
        raise FolderTaken(f"{folder} already holds a run: add --force to replace it, or choose another --out")
    if not ((folder / "manifest.json").is_file() or (folder / "levels.jsonl").is_file()):
        raise FolderTaken(f"{folder} holds files Sugarglass did not write (no manifest.json or levels.jsonl); "
                          "--force replaces only a run's own folder: choose another --out")
    shutil.rmtree(folder)
    return folder


PREVIEW_TICKS = 120
PREVIEW_SIDE = 320


def preview(work: Work) -> Work:
    """The work made small, to look at before a long run: its first 120 ticks painted at most
    320 px on the longer side (aspect kept), two frames a tick, no hardware outputs (level
    files are kept). The manifest records these settings, so a preview never passes for the
    work itself."""
    canvas = work.canvas
    scale = min(1.0, PREVIEW_SIDE / max(canvas.width, canvas.height))
    small = type(canvas).model_validate({
        **canvas.model_dump(), "frames_per_tick": 2,
        "width": max(16, round(canvas.width * scale / 2) * 2), "height": max(16, round(canvas.height * scale / 2) * 2)})
    society = work.society.model_copy(update={"steps": min(work.society.steps, PREVIEW_TICKS)})
    files = [output for output in work.outputs if getattr(output, "kind", "") == "levels"]
    return work.model_copy(update={"canvas": small, "society": society, "outputs": files})


@dataclass
class RunResult:
    out_dir: Path
    steps: int
    ingests: list[IngestResult]
    files: dict[str, Path]
    output_errors: dict[str, int]


def run_work(work: Work, store: Store, *, seed: int | None = None, steps: int | None = None,
             out_dir: Path | None = None, force: bool = False, progress: Progress | None = None) -> RunResult:
    """Make the artwork once, end to end, into a folder of its own (see ``run_folder``);
    returns where everything went."""
    from .canvas import render_levels
    from .society import Metrics, Society
    from .society.simulate import plot

    seed = work.seed if seed is None else seed
    parameters = tick_parameters()
    unknown = sorted(set(work.couplings.couplings()) - set(parameters))
    if unknown:
        raise CouplingError(f"couplings.set.{unknown[0]}: the society has no per-tick parameter {unknown[0]!r} "
                            f"(it has: {', '.join(parameters)})")
    for warning in inert_couplings(work.couplings, work.society):
        log.warning(warning)
    society = Society.from_config(work.society, seed, work.base_dir)
    signer = None
    if work.provenance.c2pa is not None:  # a bad certificate stops the run before any output
        from .provenance.c2pa import load_signer

        signer = load_signer(work.provenance.c2pa, work.base_dir)
    out_dir = run_folder(work, seed, out_dir, force=force)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = [LevelsFile(out_dir / "levels.jsonl"), *(make_output(c, out_dir) for c in work.outputs)]
    bar = progress or Progress(transient=True)
    own = progress is None
    if own:
        bar.start()
    try:
        # Outputs open first: a host that does not resolve or a port that is absent stops the
        # run before any reading or stepping is done.
        with guarded(outputs, work.safety, work.canvas, work.canvas.seconds_per_tick) as sink:
            ingests = ingest_work(work, store)
            used = store.not_withdrawn(work.signal_sources)
            if not used:
                raise ConsentError(f"every source of {work.name} has been withdrawn: there is nothing to paint from")
            signal = build_signal(store.feelings(used), work.signal)
            plan = schedule(work.couplings, signal.fields(), steps or work.society.steps, parameters)
            per_tick = params_per_tick(plan.values, society.default_params())
            readout = Readout(work.readout)
            metrics = Metrics()
            levels = np.zeros((plan.steps, work.readout.elements), dtype=np.uint16)
            task = bar.add_task(f"society ({work.society.preset})", total=plan.steps)
            for tick in range(plan.steps):
                society.step(per_tick[tick] if per_tick else None)
                row = metrics.record(society)
                levels[tick] = readout(society)
                sink.send(tick, levels[tick], {k: float(v) for k, v in row.items() if k != "tick"})
                bar.advance(task)
        files = {
            "metrics_csv": metrics.to_csv(out_dir / "metrics.csv"),
            "metrics_parquet": metrics.to_parquet(out_dir / "metrics.parquet"),
            "levels_jsonl": out_dir / "levels.jsonl",
            **plot(metrics, out_dir, title=f"{work.title or work.name}: {work.society.preset}, seed {seed}"),
        }
        files |= {f"output_{c.path}": out_dir / c.path for c in work.outputs if getattr(c, "kind", "") == "levels"}
        files |= render_levels(levels, work.canvas, out_dir, seed, progress=bar)
    finally:
        if own:
            bar.stop()
    manifest = build_manifest(
        work=work, sources=store.provenance(used), analyzer=analyzer_record(work), seed=seed,
        steps=plan.steps, provenance=work.provenance,
        sections={"signal": {**work.signal.model_dump(mode="json"), "ticks": len(signal), "posts": int(signal.count.sum()),
                             "languages": store.language_totals(used)},
                  **settings_sections(work)},
    )
    files["manifest"] = label_folder(out_dir, sorted(set(files.values())), manifest, work, signer)
    store.record_output(out_dir, files["manifest"], manifest["work"]["name"], used)
    return RunResult(out_dir, plan.steps, ingests, files, sink.errors)
