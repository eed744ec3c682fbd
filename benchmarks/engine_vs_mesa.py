"""Mesa 3's SugarscapeG1mt against our `mesa-g1mt` preset on the same work.

Same work: Mesa's own 50 x 50 map file (loaded as our csv landscape), 200 agents, the same trait
ranges, trade on, 100 ticks, several seeds. Speed is agent-ticks per second (agents alive at the
start of each tick, summed over ticks, over wall time), data collection included on both sides
(Mesa's DataCollector, our Metrics). Our JIT compile (or cache load) is timed apart.

    .venv/bin/python benchmarks/engine_vs_mesa.py [--seeds 5] [--ticks 100] [--no-trade]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def run_mesa(seeds: list[int], ticks: int, trade: bool) -> tuple[int, float, int]:
    from mesa.examples import SugarscapeG1mt

    agent_ticks, elapsed, crashed = 0, 0.0, 0
    for seed in seeds:
        model = SugarscapeG1mt(seed=seed, enable_trade=trade)
        start = time.perf_counter()
        try:
            for _ in range(ticks):
                agent_ticks += len(model.agents)
                model.step()
        except ValueError:  # max() of no welfares: every visible cell was taken
            crashed += 1
        elapsed += time.perf_counter() - start
    return agent_ticks, elapsed, crashed


def run_ours(seeds: list[int], ticks: int, trade: bool, map_path: Path) -> tuple[int, float, float]:
    start = time.perf_counter()
    from sugarglass.society import Metrics, Society, SocietyConfig
    from sugarglass.society import warm_up

    config = SocietyConfig(preset="mesa-g1mt", landscape={"kind": "csv", "path": map_path},
                           options={"trade": trade})
    warm_up()
    compile_s = time.perf_counter() - start
    agent_ticks, elapsed = 0, 0.0
    for seed in seeds:
        society = Society.from_config(config, seed=seed)
        metrics = Metrics()
        start = time.perf_counter()
        for _ in range(ticks):
            agent_ticks += society.population
            society.step()
            metrics.record(society)
        elapsed += time.perf_counter() - start
    return agent_ticks, elapsed, compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--no-trade", action="store_true")
    args = parser.parse_args()
    import mesa.examples.advanced.sugarscape_g1mt as example

    map_path = Path(example.__file__).parent / "sugar-map.txt"
    seeds = list(range(args.seeds))
    trade = not args.no_trade
    ours_ticks, ours_s, compile_s = run_ours(seeds, args.ticks, trade, map_path)
    mesa_ticks, mesa_s, crashed = run_mesa(seeds, args.ticks, trade)
    mesa_rate, ours_rate = mesa_ticks / mesa_s, ours_ticks / ours_s
    table = Table(title=f"SugarscapeG1mt, 50 x 50, 200 agents, {args.ticks} ticks, "
                        f"{len(seeds)} seeds, trade {'on' if trade else 'off'}")
    for column in ("engine", "agent-ticks", "seconds", "agent-ticks / s"):
        table.add_column(column, justify="right")
    table.add_row("Mesa 3.3.1", f"{mesa_ticks:,}", f"{mesa_s:.3f}", f"{mesa_rate:,.0f}")
    table.add_row("sugarglass", f"{ours_ticks:,}", f"{ours_s:.3f}", f"{ours_rate:,.0f}")
    console = Console()
    console.print(table)
    console.print(f"speed-up: [bold]{ours_rate / mesa_rate:,.0f}x[/bold]; "
                  f"our JIT compile or cache load: {compile_s:.2f} s (not in the figures)")
    if crashed:
        console.print(f"Mesa crashed on {crashed} seed(s) (no free cell in sight); "
                      "their ticks up to the crash are counted")


if __name__ == "__main__":
    main()
