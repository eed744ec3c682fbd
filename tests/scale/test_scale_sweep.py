"""Sweeps on a two-worker cluster on loopback: every run's rows, the right parameters, a killed
worker's runs retried, and wrong settings refused before any run."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster
from rich.progress import Progress
from scale_support import write_work

from sugarglass.provenance import read_label
from sugarglass.scale.cluster import ClusterError
from sugarglass.scale.sweep import SweepError, parse_settings, plan_sweep, run_society
from sugarglass.scale.sweep import sweep_work as sweep
from sugarglass.society import COLUMNS
from sugarglass.work import load_work


def loopback_cluster() -> LocalCluster:
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")


def make_work(folder: Path, **top):
    return load_work(write_work(folder, [{"id": "words", "kind": "csv", "path": "words.csv"}], **top))


def test_a_two_by_two_by_two_sweep_has_eight_rows_a_tick(tmp_path: Path):
    work = make_work(tmp_path)
    settings = parse_settings(["growback=1,3", "preset=book,mesa-g1mt"])
    with loopback_cluster() as cluster:
        table_path = sweep(work, settings=settings, seeds=2, steps=25, scheduler=cluster.scheduler_address,
                           out_dir=tmp_path / "out")
    table = pq.read_table(table_path).to_pandas()
    assert list(table.columns[:5]) == ["run", "seed", "growback", "preset", "tick"]
    assert set(COLUMNS) <= set(table.columns)
    per_tick = table.groupby("tick").size()
    assert list(per_tick.index) == list(range(1, 26)) and (per_tick == 8).all()
    runs = table.drop_duplicates("run").set_index("run")
    assert sorted(zip(runs.growback, runs.preset, runs.seed)) == sorted(
        (g, p, s) for g in (1.0, 3.0) for p in ("book", "mesa-g1mt") for s in (3, 4))
    for run, row in runs.iterrows():
        manifest = json.loads(row.manifest)
        assert manifest["sweep"] == {"run": run, "values": {"growback": row.growback, "preset": row.preset}}
        assert (manifest["seed"], manifest["society"]["preset"]) == (row.seed, row.preset)
        assert manifest["society"]["options"]["growback"] == row.growback
        assert manifest["signal"]["kind"] == "constant" and manifest["sources"] == []
    # a run on the cluster is the run made here
    plan = plan_sweep(work, settings, 2, 25)
    last = plan.runs[-1]
    here = run_society(last.config.rules, last.landscape, last.seed, 25, plan.per_tick)
    there = table[table.run == last.index].sort_values("tick")
    np.testing.assert_array_equal(there.population.to_numpy(), here["population"])
    np.testing.assert_array_equal(there.gini.to_numpy(), here["gini"])
    folder = tmp_path / "out"
    assert {p.name for p in folder.iterdir()} == {
        "sweep.parquet", "sweep.parquet.manifest.json", "sweep-growback.png", "sweep-preset.png", "manifest.json"}
    assert read_label(folder / "sweep-preset.png").record is not None


def test_a_worker_killed_mid_sweep_is_retried_and_the_table_is_complete(tmp_path: Path):
    work = make_work(tmp_path, society={"landscape": {"tiles": [4, 4]}, "options": {"agents": 6000}})
    settings = parse_settings(["growback=1,2", "preset=book,mesa-g1mt"])
    progress = Progress(disable=True)
    done: list[Path] = []
    with loopback_cluster() as cluster, Client(cluster.scheduler_address) as watcher:
        worker = threading.Thread(target=lambda: done.append(sweep(
            work, settings=settings, seeds=2, steps=400, scheduler=cluster.scheduler_address,
            out_dir=tmp_path / "out", progress=progress)))
        worker.start()
        busy: dict = {}
        while not busy and worker.is_alive():  # wait for the first run back and a worker at work
            finished = progress.tasks[0].completed if progress.tasks else 0
            busy = {w: keys for w, keys in watcher.processing().items() if keys} if finished >= 1 else {}
            threading.Event().wait(0.05)
        assert busy, "the sweep ended before a worker could be killed"
        victim = next(iter(busy))
        os.kill(watcher.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
        worker.join()
        starts = watcher.run_on_scheduler(lambda dask_scheduler, keys: [
            sum(1 for entry in dask_scheduler.transition_log if entry[0] == key and entry[2] == "processing")
            for key in keys], keys=list(busy[victim]))
    assert done, "the sweep did not finish"
    assert max(starts) >= 2, "the killed worker's run was not started again"
    table = pq.read_table(done[0], columns=["run", "tick"]).to_pandas()
    assert len(table) == 8 * 400
    assert sorted(table.run.unique()) == list(range(8))
    assert all(sorted(ticks) == list(range(1, 401)) for _, ticks in table.groupby("run").tick)


@pytest.mark.parametrize(("given", "message"), [
    (["growback=fast"], r"--set growback='fast': Input should be a valid number"),
    (["trade=maybe"], r"--set trade='maybe': Input should be a valid boolean"),
    (["agents=1.5"], r"--set agents='1.5': Input should be a valid integer"),
    (["agents=0"], r"--set agents='0': Input should be greater than 0"),
    (["preset=book,nope"], r"--set preset='nope': Input should be 'book'"),
    (["vision=1-4"], r"--set vision='1-4'"),
    (["visoin=1,2"], r"--set visoin: not a setting a sweep can change \(it can change: preset, agents"),
    (["growback"], r"write it as name=value1,value2"),
    (["growback=1", "growback=2"], r"given twice"),
    (["growback=1,1.0"], r"listed twice"),
    ([], r"nothing to sweep"),
])
def test_wrong_settings_are_named(given: list[str], message: str):
    with pytest.raises(SweepError, match=message):
        parse_settings(given)


def test_settings_are_typed():
    assert parse_settings(["growback=1,2.5", "vision=1:3,2:6", "trade=true,false", "preset=book"]) == {
        "growback": [1.0, 2.5], "vision": [(1, 3), (2, 6)], "trade": [True, False], "preset": ["book"]}


def test_a_sweep_that_cannot_run_stops_before_any_work(tmp_path: Path):
    work = make_work(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(SweepError, match=r"--set growback='fast'"):
        sweep(work, settings={"growback": ["1", "fast"]}, seeds=2, steps=10, out_dir=out)
    with pytest.raises(SweepError, match=r"agents=100000: option 'agents': 100000 agents do not fit on 2500 cells"):
        sweep(work, settings={"agents": [100, 100_000]}, seeds=1, steps=10, out_dir=out)
    coupled = load_work(write_work(tmp_path, [{"id": "words", "kind": "csv", "path": "words.csv"}], name="coupled",
                                   couplings={"preset": "growback"}))
    with pytest.raises(SweepError, match=r"--set growback: the work's couplings set it every tick"):
        sweep(coupled, settings={"growback": [1, 2]}, seeds=1, steps=10, out_dir=out)
    with pytest.raises(ClusterError, match="not a Dask scheduler address"):
        sweep(work, settings={"growback": [1, 2]}, seeds=1, steps=10, out_dir=out, scheduler="http://example.org")
    assert not out.exists()
