"""Parameter sweeps: every combination of swept society settings, times every seed, as one Dask
task each; the metrics of all runs in one Parquet table, and plots comparing them.

A sweep runs the society under a constant, neutral feeling (compound 0, compnorm 0.5, neg 0,
neu 1: ``signal.NEUTRAL``), through the work's own couplings. That choice is deliberate: a sweep
asks how the society's settings shape it, so the data is held still; no one's words travel to
the workers, and the outputs hold nothing that a withdrawal would have to reach. A swept setting
that the work's couplings also set each tick (``growback``, ``max_age``) would be overridden by
them, so that is refused. The Parquet table has one row a run a tick: ``run``, ``seed``, each
swept setting, every metric, and ``manifest``, the run's own manifest as JSON (dictionary-encoded,
so Parquet stores it once per run).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import TypeAdapter, ValidationError

from ..couplings import CouplingError, schedule
from ..errors import SugarglassError
from ..provenance import build_manifest, canonical
from ..run import ALIASES, label_folder, params_per_tick, tick_parameters
from ..signal import NEUTRAL
from ..society import (
    COLUMNS,
    Landscape,
    Metrics,
    Rules,
    Society,
    SocietyConfig,
    load_landscape,
)
from ..society.config import SocietyConfigError, check_fits
from ..society.presets import PRESETS
from ..work import Work
from .cluster import in_order, worker_threads

# Society options that set per-tick parameters' defaults; a coupling of those parameters wins.
SEEDS_PARAMETERS = {"growback": {"sugar_growback", "spice_growback"}, "max_age": {"max_age_min", "max_age_max"}}
SUMMARY = {"population": "agents alive", "log_price_sd": "price spread (sd of log price)", "gini": "Gini of wealth"}


class SweepError(SugarglassError):
    """A sweep that cannot start: an unknown setting, a value of the wrong type, a combination
    the society refuses. Raised before any run starts."""


def sweepable() -> tuple[str, ...]:
    """Names ``--set`` accepts: the preset and every society option."""
    return ("preset", *Rules.model_fields)


def _adapter(name: str) -> TypeAdapter:
    if name == "preset":
        return TypeAdapter(Literal[tuple(PRESETS)])
    if name not in Rules.model_fields:
        raise SweepError(f"--set {name}: not a setting a sweep can change (it can change: {', '.join(sweepable())})")
    field = Rules.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation)


def _convert(name: str, adapter: TypeAdapter, value: Any) -> Any:
    """One value, typed as the setting wants it; ranges are written ``low:high`` on the command line."""
    try:
        field = Rules.model_fields.get(name)
        if isinstance(value, str) and field is not None and field.annotation == tuple[int, int]:
            return adapter.validate_python(tuple(value.split(":")))
        return adapter.validate_strings(value) if isinstance(value, str) else adapter.validate_python(value)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise SweepError(f"--set {name}={value!r}: {problem}") from None


def parse_settings(items: list[str]) -> dict[str, list]:
    """``["growback=1,2,3", "preset=book,mesa-g1mt"]`` -> typed values by setting; any unknown
    name, wrong type or repeated setting is a ``SweepError`` naming it."""
    settings: dict[str, list] = {}
    for item in items:
        name, equals, values = item.partition("=")
        name = name.strip()
        if not equals or not name or not values.strip():
            raise SweepError(f"--set {item!r}: write it as name=value1,value2 (e.g. growback=1,2,3)")
        if name in settings:
            raise SweepError(f"--set {name} is given twice; list all its values in one --set")
        settings[name] = [value.strip() for value in values.split(",")]
    return check_settings(settings)


def check_settings(settings: dict[str, Iterable]) -> dict[str, list]:
    """The settings with every value converted to its setting's type, or a ``SweepError``."""
    if not settings:
        raise SweepError("nothing to sweep: give at least one --set name=value1,value2")
    checked: dict[str, list] = {}
    for name, values in settings.items():
        adapter = _adapter(name)
        converted = [_convert(name, adapter, value) for value in values]
        if not converted:
            raise SweepError(f"--set {name}: no values")
        if len(set(map(repr, converted))) != len(converted):
            raise SweepError(f"--set {name}: a value is listed twice ({', '.join(str(shown(v)) for v in converted)})")
        checked[name] = converted
    return checked


def shown(value: Any) -> Any:
    """A setting's value as the table and the plots show it (a range as ``low:high``)."""
    return f"{value[0]}:{value[1]}" if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Run:
    """One task: a combination of settings and a seed, with everything the worker needs."""

    index: int
    values: dict[str, Any]
    seed: int
    config: SocietyConfig
    landscape: Landscape


@dataclass(frozen=True)
class SweepPlan:
    """Every run, checked, and the per-tick values the couplings give under a neutral feeling."""

    settings: dict[str, list]
    seeds: list[int]
    steps: int
    runs: list[Run]
    per_tick: dict[str, np.ndarray]


def plan_sweep(work: Work, settings: dict[str, Iterable], seeds: int, steps: int) -> SweepPlan:
    """Check everything a sweep needs before any run: types, every combination's society, the
    landscapes, and the couplings (evaluated once, on the constant signal)."""
    settings = check_settings(settings)
    if seeds < 1 or steps < 1:
        raise SweepError(f"a sweep needs at least one seed and one step (got {seeds} seeds, {steps} steps)")
    try:
        coupled = schedule(work.couplings, constant_signal(steps), steps, tick_parameters()).values
    except CouplingError as exc:
        raise SweepError(str(exc)) from None
    targets = {t for name in coupled for t in ALIASES.get(name, (name,))}
    for name in settings:
        if SEEDS_PARAMETERS.get(name, set()) & targets:
            raise SweepError(f"--set {name}: the work's couplings set it every tick, so a swept value would be overridden")
    runs: list[Run] = []
    landscapes: dict[str, Landscape] = {}
    for combination in itertools.product(*settings.values()):
        values = dict(zip(settings, combination))
        config = society_config(work, values, steps)
        if config.preset not in landscapes:
            landscapes[config.preset] = load_landscape(config.landscape, config.preset, work.base_dir)
        landscape = landscapes[config.preset]
        try:
            check_fits(config.rules, landscape.width * landscape.height)
        except SocietyConfigError as exc:
            raise SweepError(f"{_named(values)}: {exc}") from None
        runs += [Run(len(runs) + k, values, work.seed + k, config, landscape) for k in range(seeds)]
    return SweepPlan(settings, [work.seed + k for k in range(seeds)], steps, runs, coupled)


def constant_signal(steps: int) -> dict[str, np.ndarray]:
    """A neutral feeling for every tick (as many ticks as the run, so ``stop`` never shortens it)."""
    return {**{name: np.full(steps, value) for name, value in NEUTRAL.items()}, "count": np.zeros(steps)}


def society_config(work: Work, values: dict[str, Any], steps: int) -> SocietyConfig:
    """The work's society with one combination's values laid over its preset and options."""
    options = {**work.society.options, **{k: v for k, v in values.items() if k != "preset"}}
    try:
        return SocietyConfig(preset=values.get("preset", work.society.preset), steps=steps,
                             landscape=work.society.landscape, options=options)
    except (ValidationError, SocietyConfigError) as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ") if isinstance(exc, ValidationError) else str(exc)
        raise SweepError(f"{_named(values)}: {problem}") from None


def _named(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={shown(v)}" for k, v in values.items())


def run_society(rules: Rules, landscape: Landscape, seed: int, steps: int,
                per_tick: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The worker's task: one society for ``steps`` ticks, as ``run_work`` steps it; its metrics.

    The engine's parallel kernels run on one thread here: a cluster has a single-threaded worker
    per core, so the runs are the parallelism, and more threads would only fight over the cores
    (the figures are the same whatever the thread count)."""
    import numba

    numba.set_num_threads(1)
    society = Society(rules, landscape, seed)
    params = params_per_tick(per_tick, society.default_params())
    metrics = Metrics()
    for tick in range(steps):
        society.step(params[tick] if params else None)
        metrics.record(society)
    return metrics.as_arrays()


def run_manifest(work: Work, plan: SweepPlan, run: Run) -> dict:
    """What went into one run: the society it had, the constant signal, its place in the sweep."""
    return build_manifest(
        work=work, sources=[], analyzer={}, seed=run.seed, steps=plan.steps, provenance=work.provenance,
        sections={
            "society": {"preset": run.config.preset, "options": run.config.rules.model_dump(mode="json"),
                        "landscape": run.config.landscape.model_dump(mode="json")},
            "couplings": {"when_exhausted": work.couplings.when_exhausted,
                          "set": {k: v.model_dump(mode="json") for k, v in work.couplings.couplings().items()}},
            "signal": {"kind": "constant", "values": NEUTRAL},
            "sweep": {"run": run.index, "values": {k: shown(v) for k, v in run.values.items()}},
        },
    )


def run_sweep(work: Work, plan: SweepPlan, client: Any, out_dir: Path, progress: Any = None) -> Path:
    """Run every task of the plan on the cluster; write ``sweep.parquet`` (whole or not at all),
    a comparison plot per swept setting, and ``manifest.json``. Returns the table's path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..society import warm_up

    warm_up()  # compiled here once: local workers then only read numba's cache, never race to write it
    out_dir.mkdir(parents=True, exist_ok=True)
    table_path = out_dir / "sweep.parquet"
    partial = out_dir / ".sweep.parquet.partial"
    task = progress.add_task(f"sweep of {work.name}: runs", total=len(plan.runs)) if progress else None
    tasks = ((run.config.rules, run.landscape, run.seed, plan.steps, plan.per_tick) for run in plan.runs)
    writer = None
    results = in_order(client, run_society, tasks, window=2 * worker_threads(client) + 1)
    try:
        for run, metrics in zip(plan.runs, results):
            steps = len(metrics["tick"])
            columns = {"run": np.full(steps, run.index), "seed": np.full(steps, run.seed)}
            columns |= {name: pa.array([shown(value)] * steps) for name, value in run.values.items()}
            columns |= {name: metrics[name] for name in COLUMNS}
            manifest = canonical(run_manifest(work, plan, run)).decode("utf-8")
            columns["manifest"] = pa.DictionaryArray.from_arrays(np.zeros(steps, dtype=np.int32), [manifest])
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table.cast(writer.schema))
            if progress:
                progress.advance(task)
        writer.close()
        os.replace(partial, table_path)
    finally:
        results.close()
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    written = [table_path, *plot_sweep(table_path, plan, out_dir)]
    manifest = build_manifest(
        work=work, sources=[], analyzer={}, seed=plan.seeds[0], steps=plan.steps, provenance=work.provenance,
        sections={"signal": {"kind": "constant", "values": NEUTRAL},
                  "sweep": {"settings": {k: [shown(v) for v in vs] for k, vs in plan.settings.items()},
                            "seeds": plan.seeds, "runs": len(plan.runs)}},
    )
    label_folder(out_dir, written, manifest, work)
    return table_path


def run_summaries(table_path: Path, runs: int, steps: int) -> dict[str, np.ndarray]:
    """Per run, the mean of each plotted metric over the last quarter of its ticks (the society
    settled), read from the table a batch at a time; NaN (no trades) does not count."""
    import pyarrow.parquet as pq

    last = steps - max(1, steps // 4)
    sums = {name: np.zeros(runs) for name in SUMMARY}
    counts = {name: np.zeros(runs) for name in SUMMARY}
    for batch in pq.ParquetFile(table_path).iter_batches(columns=["run", "tick", *SUMMARY]):
        late = batch.column("tick").to_numpy() > last
        run = batch.column("run").to_numpy()[late]
        for name in SUMMARY:
            values = batch.column(name).to_numpy(zero_copy_only=False).astype(np.float64)[late]
            finite = np.isfinite(values)
            sums[name] += np.bincount(run[finite], weights=values[finite], minlength=runs)
            counts[name] += np.bincount(run[finite], minlength=runs)
    with np.errstate(invalid="ignore"):
        return {name: sums[name] / counts[name] for name in SUMMARY}


def plot_sweep(table_path: Path, plan: SweepPlan, out_dir: Path) -> list[Path]:
    """``sweep-<setting>.png`` for each swept setting: population, price spread and Gini against
    its values; one line a combination of the other settings (mean over seeds, bars of one sd),
    each seed's run a dot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    summary = run_summaries(table_path, len(plan.runs), plan.steps)
    written = []
    for name, values in plan.settings.items():
        others = [other for other in plan.settings if other != name]
        groups = list(itertools.product(*(plan.settings[o] for o in others)))
        figure, axes = plt.subplots(len(SUMMARY), 1, figsize=(7, 8), sharex=True, layout="constrained")
        for ax, (metric, label) in zip(axes, SUMMARY.items()):
            for g, group in enumerate(groups):
                shift = 0.08 * (g - (len(groups) - 1) / 2)
                means, spreads = [], []
                for x, value in enumerate(values):
                    chosen = [r.index for r in plan.runs
                              if r.values[name] == value and all(r.values[o] == v for o, v in zip(others, group))]
                    ys = summary[metric][chosen]
                    ax.plot(np.full(len(ys), x + shift), ys, ".", alpha=0.35, color=f"C{g % 10}")
                    finite = ys[np.isfinite(ys)]
                    means.append(finite.mean() if finite.size else np.nan)
                    spreads.append(finite.std() if finite.size else np.nan)
                caption = ", ".join(f"{o}={shown(v)}" for o, v in zip(others, group)) or "all runs"
                ax.errorbar(np.arange(len(values)) + shift, means, yerr=spreads, marker="o", capsize=3,
                            color=f"C{g % 10}", label=caption)
            ax.set_ylabel(label)
        axes[0].set_title(f"last quarter of {plan.steps} ticks, {len(plan.seeds)} seeds a point (bars: ± 1 sd)")
        axes[0].legend(fontsize="small", loc="best")
        axes[-1].set_xticks(range(len(values)), [str(shown(v)) for v in values])
        axes[-1].set_xlabel(name)
        path = out_dir / f"sweep-{name}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def sweep_work(work: Work, *, settings: dict[str, list], seeds: int, steps: int, scheduler: str | None = None,
              out_dir: Path, progress: Any = None) -> Path:
    """Run every combination of ``settings`` for each of ``seeds`` seeds (the work's seed and the
    ones after it), ``steps`` ticks each; returns the path of the Parquet table (its folder also
    holds the plots and ``manifest.json``)."""
    from .cluster import open_client, scale_settings

    scale = scale_settings(work)
    plan = plan_sweep(work, settings, seeds, steps)
    with open_client(scheduler or scale.scheduler, workers=scale.workers, timeout=scale.connect_timeout) as client:
        return run_sweep(work, plan, client, Path(out_dir), progress)
