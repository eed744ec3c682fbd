"""The demo's `sugarglass run works/demo.toml`, warm, stage by stage, against the reference.

The reference is the whole package as it was at commit 32e4c31 (before issue 13), extracted
with `git archive` (see `canvas.reference_tree`) and put first on PYTHONPATH; today's is the
installed package. Each runs on its own copy of `works/demo.toml` and `works/demo/` in a
temporary folder, so the repository's `out/` and store are untouched. The first run of each
ingests into its fresh store (and compiles whatever numba finds uncached): it is shown but not
compared. Then rounds alternate reference and today's, each a fresh `--out` folder, both seeing
the same machine load; the least disturbed (fastest) warm run of each is compared.

Stages are read from the run's own progress bars (a shim wraps rich's Progress in the child
process): start + ingest (interpreter, imports, work file, consent, the unchanged file
skipped, the signal) until the society's bar appears, the society, metrics and plots until
the painting's bar, the painting, and the rest (the still, manifests, the summary table).
Run:

    .venv/bin/python benchmarks/demo.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from canvas import REFERENCE_COMMIT, REPO, reference_tree  # noqa: E402

# Run in the child: time the progress bars' first and last moves, then run the command line.
SHIM = """
import json, runpy, sys, time
start = time.perf_counter()
import rich.progress as rp
marks, names = {}, {}
add, update, advance = rp.Progress.add_task, rp.Progress.update, rp.Progress.advance
def now(self, task):
    name = names.get((id(self), task))
    if name is not None:
        marks[name][1] = time.perf_counter() - start
def add_task(self, description, *args, **kwargs):
    task = add(self, description, *args, **kwargs)
    names[(id(self), task)] = str(description)
    marks[str(description)] = [time.perf_counter() - start, time.perf_counter() - start]
    return task
def update_(self, task, *args, **kwargs):
    update(self, task, *args, **kwargs); now(self, task)
def advance_(self, task, *args, **kwargs):
    advance(self, task, *args, **kwargs); now(self, task)
rp.Progress.add_task, rp.Progress.update, rp.Progress.advance = add_task, update_, advance_
report, sys.argv = sys.argv[1], ["sugarglass", *sys.argv[2:]]
try:
    runpy.run_module("sugarglass", run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
finally:
    with open(report, "w") as out:
        json.dump({"marks": marks, "end": time.perf_counter() - start}, out)
"""

STAGES = ("start + ingest", "society", "metrics + plots", "painting", "still + manifests")


def demo_copy(folder: Path) -> Path:
    """The demo work and its data in `folder`; returns the work file."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "works" / "demo.toml", folder / "demo.toml")
    shutil.copytree(REPO / "works" / "demo", folder / "demo")
    return folder / "demo.toml"


def run(work: Path, out: Path, pythonpath: str | None) -> dict[str, float]:
    """One `sugarglass run`, its stages and wall time (seconds)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    report = out.with_suffix(".json")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SHIM, str(report), "run", work.name, "--out", str(out)],
                          cwd=work.parent, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"sugarglass run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    data = json.loads(report.read_text())
    marks = data["marks"]
    society = next(v for k, v in marks.items() if k.startswith("society"))
    painting = marks["painting"]
    return {"start + ingest": society[0], "society": society[1] - society[0],
            "metrics + plots": painting[0] - society[1], "painting": painting[1] - painting[0],
            "still + manifests": wall - painting[1], "total": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reference = str(reference_tree() / "src")
    sides = {f"reference {REFERENCE_COMMIT}": reference, "today": None}
    console = Console()
    console.print(f"[bold]demo[/]: sugarglass run works/demo.toml (copies), {args.rounds} warm rounds; "
                  f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} before")
    with tempfile.TemporaryDirectory() as folder:
        works = {name: demo_copy(Path(folder) / f"work-{i}") for i, name in enumerate(sides)}
        first = {name: run(works[name], works[name].parent / "out-first", path) for name, path in sides.items()}
        warm: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        for round_ in range(args.rounds):
            for name, path in sides.items():
                warm[name].append(run(works[name], works[name].parent / f"out-{round_}", path))
    best = {name: min(runs, key=lambda r: r["total"]) for name, runs in warm.items()}
    table = Table(title="seconds, wall clock: the fastest warm run of each (first run: ingest into a fresh store)")
    table.add_column("stage")
    for name in sides:
        table.add_column(f"{name}", justify="right")
    table.add_column("today / reference", justify="right")
    ref, now = best[f"reference {REFERENCE_COMMIT}"], best["today"]
    for stage in (*STAGES, "total"):
        ratio = now[stage] / ref[stage] if ref[stage] > 0.05 else float("nan")
        table.add_row(f"[bold]{stage}[/]" if stage == "total" else stage, *(f"{best[n][stage]:.2f}" for n in sides),
                      f"{ratio:.2f}")
    table.add_row("all warm totals", *(" ".join(f"{r['total']:.1f}" for r in warm[n]) for n in sides), "")
    table.add_row("first run total", *(f"{first[n]['total']:.1f}" for n in sides), "")
    console.print(table)
    console.print(f"[bold]warm demo: {now['total']:.1f} s against {ref['total']:.1f} s, "
                  f"{ref['total'] / now['total']:.2f}x faster[/]; painting {ref['painting'] / now['painting']:.2f}x")
    console.print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} after")


if __name__ == "__main__":
    main()
