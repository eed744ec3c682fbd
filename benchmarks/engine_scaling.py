"""The `book` preset on tiled classic maps: ticks per second and peak memory as agents grow.

The density stays the book's (200 agents on each 50 x 50 tile), so 1M agents live on 5,000
tiles (about 3,550 x 3,550 cells). Each size runs in its own process so its peak resident
memory (ru_maxrss) is its own; compile time is excluded (kernels come from numba's cache).

    .venv/bin/python benchmarks/engine_scaling.py [--agents 10000 100000 1000000] [--ticks 5]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time


def one(agents: int, ticks: int) -> dict[str, float]:
    """Build and run one size in this process; return its figures."""
    import resource

    from sugarglass.society import Metrics, Society, SocietyConfig
    from sugarglass.society import warm_up

    warm_up()
    tiles = math.ceil(agents / 200)
    across = math.ceil(math.sqrt(tiles))
    down = math.ceil(tiles / across)
    config = SocietyConfig(landscape={"kind": "classic", "tiles": [across, down]},
                           options={"agents": agents})
    start = time.perf_counter()
    society = Society.from_config(config, seed=1)
    build_s = time.perf_counter() - start
    metrics = Metrics()
    per_tick = []
    for _ in range(ticks + 1):
        start = time.perf_counter()
        society.step()
        metrics.record(society)
        per_tick.append(time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "agents": agents, "cells": society.width * society.height, "build_s": build_s,
        "first_tick_s": per_tick[0], "tick_s": sum(per_tick[1:]) / ticks,
        "ticks_per_s": ticks / sum(per_tick[1:]), "peak_mib": peak_kib / 1024,
        "population": society.population,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.ticks)))
        return
    from rich.console import Console
    from rich.table import Table

    import numba

    table = Table(title=f"book preset, tiled classic map, metrics every tick; mean of "
                        f"{args.ticks} ticks after the first; "
                        f"{numba.config.NUMBA_NUM_THREADS} threads")
    for column in ("agents", "cells", "build s", "1st tick s", "tick s", "ticks/s", "MiB"):
        table.add_column(column, justify="right")
    for agents in args.agents:
        out = subprocess.run([sys.executable, __file__, "--one", str(agents), "--ticks",
                              str(args.ticks)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        table.add_row(f"{r['agents']:,}", f"{r['cells']:,}", f"{r['build_s']:.2f}",
                      f"{r['first_tick_s']:.3f}", f"{r['tick_s']:.3f}",
                      f"{r['ticks_per_s']:.2f}", f"{r['peak_mib']:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
