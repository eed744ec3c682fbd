"""`sugarglass run` end to end on a copy of the demo work: every stage real, small sizes."""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from support import DEMO_WORK
from sugarglass.couplings import CouplingError
from sugarglass.errors import SugarglassError
from sugarglass.run import params_per_tick, run_work
from sugarglass.society import TickParams
from sugarglass.store import Store
from sugarglass.work import load_work


@pytest.fixture
def small_demo(tmp_path: Path) -> Path:
    shutil.copytree(DEMO_WORK.parent / "demo", tmp_path / "demo")
    document = tomllib.loads(DEMO_WORK.read_text(encoding="utf-8"))
    document["society"]["steps"] = 40
    document["canvas"].update(width=96, height=128, frames_per_tick=1)
    path = tmp_path / "demo.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def test_run_writes_every_output_with_a_manifest_of_hashes(small_demo, tmp_path):
    work = load_work(small_demo)
    with Store(work.store_path) as store:
        result = run_work(work, store, out_dir=tmp_path / "out")
    out = tmp_path / "out"
    assert result.steps == 40
    levels = [json.loads(line)["levels"] for line in (out / "levels.jsonl").read_text().splitlines()]
    assert len(levels) == 40 and all(len(row) == 48 for row in levels)
    assert all(v == 0 or 1500 <= v <= 3000 for row in levels for v in row)
    rows_2019 = (out / "levels-2019.txt").read_text().splitlines()
    assert [list(map(int, r.split(","))) for r in rows_2019] == levels
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "sugarglass-manifest" and manifest["seed"] == 2019
    [source] = manifest["sources"]
    assert source["id"] == "campaign-posts" and source["consent"]["scope"] == "keep-text" and source["posts"] == 336
    assert source["analyzer"]["name"] == "vader" and "MIT" in source["analyzer"]["licence"]
    assert manifest["society"]["preset"] == "conversions-2019"
    assert manifest["couplings"]["set"]["compound"]["expr"] == "compound"
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    for expected in ("levels.jsonl", "metrics.csv", "metrics.parquet", "painting.png", "population.png"):
        assert expected in manifest["files"]
    assert any(name.startswith("painting.") and name != "painting.png" for name in manifest["files"])


def test_same_seed_same_levels_and_metrics(small_demo, tmp_path):
    work = load_work(small_demo)
    with Store(work.store_path) as store:
        run_work(work, store, out_dir=tmp_path / "a")
        run_work(work, store, out_dir=tmp_path / "b")
        run_work(work, store, out_dir=tmp_path / "c", seed=7)
    for name in ("levels.jsonl", "metrics.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "levels.jsonl").read_bytes() != (tmp_path / "c" / "levels.jsonl").read_bytes()


def test_couplings_reach_the_engine_through_aliases():
    defaults = TickParams()
    per_tick = params_per_tick({"growback": np.array([1.5, 2.5]), "max_age": np.array([120.7, 90.2])}, defaults)
    assert [(p.sugar_growback, p.spice_growback, p.max_age_max) for p in per_tick] == [(1.5, 1.5, 120), (2.5, 2.5, 90)]


def test_bad_outputs_and_couplings_stop_the_run_before_any_work(small_demo, tmp_path):
    document = tomllib.loads(small_demo.read_text(encoding="utf-8"))
    document["outputs"] = [{"kind": "osc", "host": "no-such-host.invalid", "port": 9000}]
    small_demo.write_text(tomli_w.dumps(document), encoding="utf-8")
    work = load_work(small_demo)
    with Store(work.store_path) as store:
        with pytest.raises(SugarglassError, match="does not resolve"):
            run_work(work, store, out_dir=tmp_path / "out")
        assert store.db.execute("SELECT count(*) FROM posts").fetchone()[0] == 0, "nothing was ingested"
    assert list((tmp_path / "out").iterdir()) == []
    document["outputs"] = []
    document["couplings"] = {"set": {"growbak": "compnorm"}}
    small_demo.write_text(tomli_w.dumps(document), encoding="utf-8")
    with Store(work.store_path) as store, pytest.raises(CouplingError, match="no per-tick parameter 'growbak'"):
        run_work(load_work(small_demo), store, out_dir=tmp_path / "out2")
