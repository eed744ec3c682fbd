"""Garden benchmark: training images per second at 64 px on this machine, and the SWD after the
demo budget against the floor (two halves of the dataset) and against initialisation.

    .venv/bin/python benchmarks/garden.py                 # the demo budget (works/garden.toml)
    .venv/bin/python benchmarks/garden.py --steps 200     # shorter

Trains afresh into a temporary folder (or --out), so it never touches out/garden-11.
Goal: SWD after the demo budget at most half of its value at initialisation.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from sugarglass.garden.config import load_garden
from sugarglass.garden.evaluate import evaluate
from sugarglass.garden.train import device, train

WORK = Path(__file__).resolve().parents[1] / "works" / "garden.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the work's budget)")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=None, help="folder to train in (default: a temporary one)")
    args = parser.parse_args()
    work = load_garden(args.work)
    steps = args.steps or work.garden.train.steps
    with tempfile.TemporaryDirectory(prefix="garden-bench-") as temporary:
        out = args.out or Path(temporary)
        began = time.perf_counter()
        result = train(work, out, steps=steps, fresh=True)
        wall = time.perf_counter() - began
        scores = evaluate(work, out)
    print(f"device {device()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"dataset {result.report.used} images at {work.garden.size} px; batch {work.garden.train.batch}, width {work.garden.width}")
    print(f"training: {steps} steps in {wall:.0f} s wall (samples, SWD and checkpoints included); "
          f"{result.images_per_second:.1f} training images/s")
    print(f"SWD x1000 ({scores.images} images a side), mean and per pyramid level, finest first:")
    print(f"  initialisation {scores.initial.mean:8.1f}   {[round(v, 1) for v in scores.initial.levels]}")
    print(f"  after budget   {scores.model.mean:8.1f}   {[round(v, 1) for v in scores.model.levels]}")
    print(f"  floor          {scores.floor.mean:8.1f}   {[round(v, 1) for v in scores.floor.levels]}")
    ratio = scores.model.mean / scores.initial.mean
    print(f"after / initialisation {ratio:.2f} (goal <= 0.5: {'met' if ratio <= 0.5 else 'NOT met'}); "
          f"after / floor {scores.model.mean / scores.floor.mean:.1f}")


if __name__ == "__main__":
    main()
