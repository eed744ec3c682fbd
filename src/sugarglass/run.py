"""A run of the sentiment work, end to end: feelings -> signal -> society -> levels -> painting.

Ingest (idempotent: unchanged files are not read again), build the signal, evaluate the
couplings for every tick, step the society, read its levels out to the hardware outputs, render
the painting from the levels, and write metrics, plots and a manifest of all of it into
``out/<work>-<seed>/``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from .couplings import CouplingError, schedule
from .ingest import IngestResult, ingest_work
from .outputs import LevelsFile, guarded, make_output
from .provenance import build_manifest, label, write_manifest
from .readout import Readout
from .signal import build_signal
from .store import Store
from .work import Work

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
    """The analyzer and its lexicon, with version and licence, for a manifest."""
    from .affect import make_analyzer

    analyzer = make_analyzer(work.analyzer.name)
    return {"name": analyzer.name, "version": analyzer.version, "licence": analyzer.licence,
            "lexicon": getattr(analyzer, "lexicon", analyzer.name), "non_english": work.analyzer.non_english}


@dataclass
class RunResult:
    out_dir: Path
    steps: int
    ingests: list[IngestResult]
    files: dict[str, Path]
    output_errors: dict[str, int]


def run_work(work: Work, store: Store, *, seed: int | None = None, steps: int | None = None,
             out_dir: Path | None = None, progress: Progress | None = None) -> RunResult:
    """Make the artwork once, end to end; returns where everything went."""
    from .canvas import render_levels
    from .society import Metrics, Society
    from .society.simulate import plot

    seed = work.seed if seed is None else seed
    out_dir = out_dir or Path("out") / f"{work.name}-{seed}"
    parameters = tick_parameters()
    unknown = sorted(set(work.couplings.couplings()) - set(parameters))
    if unknown:
        raise CouplingError(f"couplings.set.{unknown[0]}: the society has no per-tick parameter {unknown[0]!r} "
                            f"(it has: {', '.join(parameters)})")
    society = Society.from_config(work.society, seed, work.base_dir)
    signer = None
    if work.provenance.c2pa is not None:  # a bad certificate stops the run before any output
        from .provenance.c2pa import load_signer

        signer = load_signer(work.provenance.c2pa, work.base_dir)
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
            signal = build_signal(store.feelings(work.signal_sources), work.signal)
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
        work=work, sources=store.provenance(work.signal_sources), analyzer=analyzer_record(work), seed=seed,
        steps=plan.steps, provenance=work.provenance,
        sections={"signal": {**work.signal.model_dump(mode="json"), "ticks": len(signal), "posts": int(signal.count.sum())},
                  **settings_sections(work)},
    )
    files["manifest"] = label_folder(out_dir, sorted(set(files.values())), manifest, work, signer)
    store.record_output(out_dir, files["manifest"], manifest["work"]["name"], work.signal_sources)
    return RunResult(out_dir, plan.steps, ingests, files, sink.errors)
