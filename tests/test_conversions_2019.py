"""The 2019 work re-made: a feelings.db of scores, one row a tick, the 2019 rules and readout."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import tomli_w

from support import consent
from sugarglass.run import run_work
from sugarglass.store import Store
from sugarglass.work import load_work


def make_2019_database(path: Path, rows: int, seed: int = 2019) -> None:
    """Scores shaped like the original's: mean compound about -0.21, shares summing to one."""
    rng = np.random.default_rng(seed)
    compound = np.clip(rng.normal(-0.21, 0.45, rows), -0.99, 0.99).round(4)
    neg = np.clip(-compound * 0.5 + rng.uniform(0, 0.1, rows), 0, 0.9).round(3)
    pos = np.clip(compound * 0.5 + rng.uniform(0, 0.1, rows), 0, 0.9).round(3)
    neu = (1 - neg - pos).round(3)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE FEELINGS(ID INTEGER PRIMARY KEY AUTOINCREMENT, COMPOUND REAL NOT NULL, COMPNORM REAL NOT NULL,"
               " POSITIVE REAL NOT NULL, NEGATIVE REAL NOT NULL, NEUTRAL REAL NOT NULL)")
    db.executemany("INSERT INTO FEELINGS(COMPOUND, COMPNORM, POSITIVE, NEGATIVE, NEUTRAL) VALUES (?,?,?,?,?)",
                   [(float(c), (float(c) + 1) / 2, float(p), float(n), float(u)) for c, p, n, u in zip(compound, pos, neg, neu)])
    db.commit()
    db.close()


def test_conversions_2019_levels_are_off_or_in_the_upper_half(tmp_path):
    make_2019_database(tmp_path / "feelings.db", 500)
    work_path = tmp_path / "conversions.toml"
    work_path.write_text(tomli_w.dumps({
        "name": "conversions", "seed": 3,
        "signal": {"posts_per_tick": 1},
        "sources": [{"id": "feelings-2019", "kind": "feelings-2019", "path": "feelings.db",
                     "consent": consent("score", basis="licence", licence="MIT")}],
        "society": {"preset": "conversions-2019", "steps": 600},
        "couplings": {"preset": "conversions-2019", "when_exhausted": "cycle"},
        "readout": {"kind": "tracked-agents", "threshold": 1500},
        "canvas": {"width": 60, "height": 80, "frames_per_tick": 1, "format": "gif"},
    }), encoding="utf-8")
    work = load_work(work_path)
    with Store(work.store_path) as store:
        result = run_work(work, store, out_dir=tmp_path / "out")
    levels = np.array([json.loads(line)["levels"] for line in (tmp_path / "out" / "levels.jsonl").read_text().splitlines()])
    assert result.steps == 600 and levels.shape == (600, 48)
    assert np.all((levels == 0) | ((levels >= 1500) & (levels <= 3000)))
    off = (levels == 0).mean()
    assert 0.2 < off < 0.9, f"{off:.0%} of levels are off; the 2019 output had 57 %"
    assert (levels == 3000).any(axis=1).all(), "every tick has a brightest element"
    switching = (np.diff(levels > 0, axis=0)).mean()
    assert 0.0 < switching < 0.8
