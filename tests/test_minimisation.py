"""Data minimisation: with scope `score`, no text reaches the disk — store, logs, checkpoints,
outputs — through ingest, a run and a live run with a visitor."""

from __future__ import annotations

import logging
import threading

import tomli_w

from support import consent, visit, wait_until
from sugarglass.live.hub import LiveHub
from sugarglass.live.loop import Installation
from sugarglass.run import run_work
from sugarglass.store import Store
from sugarglass.work import load_work

SECRET = "Zanzibar-lilac-7734"
VISITOR_SECRET = "Quetzal-copper-5519"


def test_score_scope_keeps_every_text_off_the_disk(tmp_path):
    data = tmp_path / "private"
    data.mkdir()
    rows = [f"{i},2026-03-{1 + i % 27:02d}T10:00:00Z,\"{SECRET} says we {w} on day {i}\"" for i, w in
            enumerate(["won", "lost", "marched", "rested", "sang", "wept"] * 5)]
    (data / "posts.csv").write_text("id,created_at,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    work_path = tmp_path / "private.toml"
    work_path.write_text(tomli_w.dumps({
        "name": "private", "seed": 1, "store": "state/private.sqlite",
        "signal": {"window": "1d"},
        "sources": [{"id": "private", "kind": "csv", "path": "private/posts.csv", "consent": consent("score")}],
        "society": {"preset": "book", "steps": 8, "options": {"agents": 60}},
        "canvas": {"width": 48, "height": 64, "frames_per_tick": 1},
        "live": {"tick_seconds": 0.01, "checkpoint_every": 3},
    }), encoding="utf-8")
    log_file = tmp_path / "logs" / "sugarglass.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file)
    logger = logging.getLogger("sugarglass")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        work = load_work(work_path)
        with Store(work.store_path) as store:
            run_work(work, store, out_dir=tmp_path / "out" / "run")
        hub = LiveHub()
        installation = Installation(work, work.live, hub, tmp_path / "out" / "live", max_ticks=10_000)
        stop = threading.Event()
        thread = threading.Thread(target=installation.run, args=(stop,))
        thread.start()
        try:
            wait_until(lambda: installation.tick >= 2 or installation.failed)
            visit(work.store_path, f"{VISITOR_SECRET}: I feel hopeful", "score")
            wait_until(lambda: hub.last_ripple() is not None or installation.failed)
            target = installation.tick + 4
            wait_until(lambda: installation.tick >= target or installation.failed)
        finally:
            stop.set()
            thread.join(timeout=60)
        assert installation.failed is None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and data not in p.parents]
    assert len(written) >= 20 and any(p.suffix == ".npz" for p in written) and log_file in written
    for path in written:
        content = path.read_bytes()
        assert SECRET.encode() not in content, f"text of a score-only source reached {path}"
        assert VISITOR_SECRET.encode() not in content, f"a score-only visitor's words reached {path}"
    with Store(work.store_path) as store:
        assert store.db.execute("SELECT count(*) FROM posts WHERE text IS NOT NULL").fetchone()[0] == 0
        assert store.db.execute("SELECT count(*) FROM feelings").fetchone()[0] == 31
