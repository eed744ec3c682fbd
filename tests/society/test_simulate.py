"""`simulate`: the run behind `sugarglass simulate WORK --steps N`."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow.parquet as pq
from rich.progress import Progress

from sugarglass.society import COLUMNS, SocietyConfig, simulate


def test_writes_metrics_and_plots(tmp_path):
    written = simulate(SocietyConfig(), seed=4, steps=30, out_dir=tmp_path / "out")
    assert set(written) == {"metrics_csv", "metrics_parquet", "population_png", "price_png",
                            "gini_png", "overview_png"}
    for path in written.values():
        assert path.exists() and path.stat().st_size > 0
    rows = list(csv.DictReader(written["metrics_csv"].open()))
    assert len(rows) == 30 and tuple(rows[0]) == COLUMNS
    assert [int(r["tick"]) for r in rows] == list(range(1, 31))
    table = pq.read_table(written["metrics_parquet"])
    np.testing.assert_array_equal(table["population"].to_numpy(),
                                  [int(r["population"]) for r in rows])
    assert written["population_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_2019_with_a_cycling_signal_and_a_shared_progress_bar(tmp_path):
    with Progress(disable=True) as progress:
        written = simulate(SocietyConfig(preset="conversions-2019"), seed=1, steps=20,
                           out_dir=tmp_path, progress=progress,
                           compound=np.array([0.6, -0.2, 0.3]), negative=np.array([0.1, 0.5, 0.0]))
        assert progress.tasks[0].completed == 20
    rows = list(csv.DictReader(written["metrics_csv"].open()))
    assert all(int(r["population"]) == 100 for r in rows)


def test_same_seed_same_metrics_file(tmp_path):
    a = simulate(SocietyConfig(preset="mesa-g1mt"), seed=9, steps=15, out_dir=tmp_path / "a")
    b = simulate(SocietyConfig(preset="mesa-g1mt"), seed=9, steps=15, out_dir=tmp_path / "b")
    assert a["metrics_csv"].read_bytes() == b["metrics_csv"].read_bytes()
