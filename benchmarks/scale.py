"""Scale-out speed: a Parquet archive scored on 1 and 2 Dask workers, and a sweep of 64 runs.

The archive is the demo corpus repeated to N posts (default 10,000,000), each repeat made unique
by a numbered tag so deduplication cannot skip work, written by this script a row group at a
time. It is ingested into a fresh store three ways: serially in this process (``store_posts``
over the Parquet reader, as ``sugarglass ingest`` does), and by ``ingest_archive`` on a local
cluster of 1 and then 2 single-threaded worker processes. Peak memory: the client's resident
size sampled every 50 ms during the ingest (the local scheduler runs inside it), and each
worker's own peak, sampled the same way (every cluster is fresh). The sweep is 4 growback values x 2
presets x 8 seeds of a 200 x 200 society with 6,000 agents, 200 ticks each. Run:

    .venv/bin/python benchmarks/scale.py [N] [--skip-serial] [--sweep-steps 200]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, LocalCluster
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]

from sugarglass.affect import Analyzers, LanguageGuesser  # noqa: E402
from sugarglass.ingest import file_sha256, store_posts  # noqa: E402
from sugarglass.scale import ParquetSource  # noqa: E402
from sugarglass.scale.archive import ingest_archive  # noqa: E402
from sugarglass.scale.parquet import read_parquet  # noqa: E402
from sugarglass.scale.sweep import plan_sweep, run_sweep  # noqa: E402
from sugarglass.sources import ReadReport  # noqa: E402
from sugarglass.store import Store  # noqa: E402
from sugarglass.work import load_work  # noqa: E402

WORK = """name = "bench"
[[sources]]
id = "demo"
kind = "csv"
path = "unused.csv"
[sources.consent]
granted_by = "Sugarglass project"
basis = "authored"
scope = "keep-text"
licence = "CC0-1.0"
granted_at = 2026-11-29
evidence = "benchmark corpus made from the demo"
[society]
preset = "book"
landscape = { tiles = [4, 4] }
options = { agents = 6000 }
"""


def partition_rows(n: int) -> int:
    """50,000 rows a row group and a partition, fewer for a small archive so both workers have
    at least 32 partitions to share."""
    return max(1_000, min(50_000, n // 32))


def write_archive(path: Path, n: int) -> None:
    """N unique posts, one row group at a time, so writing never holds the archive."""
    with (REPO / "works" / "demo" / "campaign-posts.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    schema = pa.schema([("id", pa.string()), ("created_at", pa.string()), ("text", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        rows_a_group = partition_rows(n)
        for start in range(0, n, rows_a_group):
            span = range(start, min(n, start + rows_a_group))
            writer.write_table(pa.table({
                "id": [f"b{i}" for i in span],
                "created_at": [rows[i % len(rows)]["created_at"] for i in span],
                "text": [f"{rows[i % len(rows)]['text']} #r{i // len(rows)}" for i in span],
            }, schema=schema))


class PeakRss:
    """The largest resident size of this process, and of each worker process named, while the
    block runs (sampled every 50 ms), and the CPU seconds this process used. (A worker's own
    ``ru_maxrss`` would not do: Linux carries the parent's peak across fork and exec.)"""

    def __init__(self, workers: list[int] | None = None) -> None:
        self.workers = [psutil.Process(pid) for pid in workers or []]

    def __enter__(self) -> PeakRss:
        self.process = psutil.Process()
        self.cpu = -sum(self.process.cpu_times()[:2])
        self.start = self.peak = self.process.memory_info().rss
        self.worker_peaks = [w.memory_info().rss for w in self.workers]
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.worker_peaks = [max(p, w.memory_info().rss) for p, w in zip(self.worker_peaks, self.workers)]
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.cpu += sum(self.process.cpu_times()[:2])


def worker_pids(client: Client) -> list[int]:
    return list(client.run(os.getpid).values())


def worker_cpu(client: Client) -> float:
    """CPU seconds all workers have used so far."""
    return sum(client.run(lambda: sum(os.times()[:2])).values())


def cluster(workers: int) -> LocalCluster:
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=10_000_000)
    parser.add_argument("--skip-serial", action="store_true")
    parser.add_argument("--sweep-steps", type=int, default=200)
    args = parser.parse_args()
    console = Console()
    mib = 1 << 20
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "bench.toml").write_text(WORK, encoding="utf-8")
        work = load_work(folder / "bench.toml")
        archive = folder / "archive.parquet"
        write_archive(archive, args.n)
        source = ParquetSource(id="archive", kind="parquet", path=archive, consent=work.sources[0].consent)
        table = Table(title=f"scoring a Parquet archive of {args.n:,} unique posts ({archive.stat().st_size / mib:,.0f} MiB)",
                      title_justify="left")
        for column in ("run", "seconds", "texts/s", "speed-up", "client MiB (start -> peak)", "worker peak MiB",
                       "CPU µs/post (client + workers)"):
            table.add_column(column, justify="left" if column == "run" else "right")
        rates = {}
        if not args.skip_serial:
            with Store(folder / "serial.sqlite") as store, PeakRss() as rss:
                report = ReadReport(archive, "fail")
                start = time.perf_counter()
                result = store_posts(work, source, store, Analyzers(), LanguageGuesser(), file_sha256(archive),
                                     read_parquet(source, archive, report), report)
                rates["serial"] = args.n / (time.perf_counter() - start)
            assert result.read == args.n
            table.add_row("serial (one process)", f"{args.n / rates['serial']:.1f}", f"{rates['serial']:,.0f}", "",
                          f"{rss.start / mib:,.0f} -> {rss.peak / mib:,.0f}", "", f"{rss.cpu / args.n * 1e6:.1f}")
        for workers in (1, 2):
            with cluster(workers) as local, Client(local) as client, Store(folder / f"w{workers}.sqlite") as store, \
                    PeakRss(worker_pids(client)) as rss:
                cpu = -worker_cpu(client)
                start = time.perf_counter()
                [result] = ingest_archive(work, store, client, partition_rows=partition_rows(args.n), sources=[source])
                seconds = time.perf_counter() - start
                cpu += worker_cpu(client)
            assert result.read == args.n, result
            rates[workers] = args.n / seconds
            versus = f" ({rates[workers] / rates['serial']:.2f} vs serial)" if "serial" in rates else ""
            table.add_row(f"{workers} worker{'s' * (workers > 1)}", f"{seconds:.1f}", f"{rates[workers]:,.0f}",
                          f"{rates[workers] / rates[1]:.2f}{versus}",
                          f"{rss.start / mib:,.0f} -> {rss.peak / mib:,.0f}", ", ".join(f"{p / mib:,.0f}" for p in rss.worker_peaks),
                          f"{rss.cpu / args.n * 1e6:.1f} + {cpu / args.n * 1e6:.1f}")
        console.print(table)
        console.print(f"load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

        plan = plan_sweep(work, {"growback": [1, 2, 3, 4], "preset": ["book", "mesa-g1mt"]}, seeds=8, steps=args.sweep_steps)
        sweeps = Table(title=f"a sweep of {len(plan.runs)} runs of {args.sweep_steps} ticks (table, plots, manifests included)",
                       title_justify="left")
        for column in ("workers", "seconds", "runs/s", "speed-up", "CPU s (client + workers)"):
            sweeps.add_column(column, justify="right")
        base = None
        for workers in (1, 2):
            with cluster(workers) as local, Client(local) as client:
                client.run(lambda: __import__("sugarglass.society"))  # engine imported before timing, as after any first run
                cpu = -worker_cpu(client)
                with PeakRss() as rss:
                    start = time.perf_counter()
                    run_sweep(work, plan, client, folder / f"sweep{workers}")
                    seconds = time.perf_counter() - start
                cpu += worker_cpu(client)
            base = base or seconds
            sweeps.add_row(str(workers), f"{seconds:.1f}", f"{len(plan.runs) / seconds:.1f}", f"{base / seconds:.2f}",
                           f"{rss.cpu:.1f} + {cpu:.1f}")
        console.print(sweeps)
        console.print(f"load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
