"""The perpetual run: checkpoints, SIGKILL and SIGTERM, visitors' words entering the signal."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from support import small_demo_work, visit, wait_until
from sugarglass.live.checkpoint import load_checkpoint
from sugarglass.live.hub import Command, LiveHub
from sugarglass.live.loop import Installation
from sugarglass.store import Store
from sugarglass.work import load_work


@pytest.fixture
def live_work(tmp_path: Path) -> Path:
    return small_demo_work(tmp_path, {"tick_seconds": 0.02, "checkpoint_every": 10})


def start(work: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sugarglass", "live", str(work), "--no-server", "--out", str(out), *args],
        cwd=work.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while lines(path) < count:
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "the live run did not reach the tick in time"
        time.sleep(0.02)


def finish(process: subprocess.Popen) -> str:
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0, output
    return output


def test_sigkill_at_any_moment_then_restart_continues_exactly(live_work, tmp_path):
    reference = tmp_path / "reference"
    finish(start(live_work, reference, "--max-ticks", "60"))
    with Store(load_work(live_work).store_path) as store:
        stored = store.db.execute("SELECT count(*) FROM feelings").fetchone()[0]

    killed = tmp_path / "killed"
    process = start(live_work, killed, "--max-ticks", "60")
    wait_for_lines(killed / "levels.jsonl", 37, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    saved = load_checkpoint(killed / "checkpoints")
    assert saved is not None and saved.header["tick"] in (30, 40)
    finish(start(live_work, killed, "--max-ticks", "60"))

    assert (killed / "levels.jsonl").read_bytes() == (reference / "levels.jsonl").read_bytes()
    a, b = load_checkpoint(reference / "checkpoints"), load_checkpoint(killed / "checkpoints")
    assert a.header["tick"] == b.header["tick"] == 60
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
    assert a.society_path.read_bytes() == b.society_path.read_bytes()
    with Store(load_work(live_work).store_path) as store:
        assert store.db.execute("SELECT count(*) FROM feelings").fetchone()[0] == stored


def test_sigterm_stops_cleanly_after_a_final_checkpoint(live_work, tmp_path):
    out = tmp_path / "out"
    process = start(live_work, out)
    wait_for_lines(out / "levels.jsonl", 15, process)
    process.send_signal(signal.SIGTERM)
    output = finish(process)
    saved = load_checkpoint(out / "checkpoints")
    assert saved.header["tick"] == lines(out / "levels.jsonl") >= 15
    assert f"stopped at tick {saved.header['tick']}" in " ".join(output.split())


def test_visitors_words_enter_the_signal_within_one_tick(live_work, tmp_path):
    work = load_work(live_work)
    hub = LiveHub()
    installation = Installation(work, work.live, hub, tmp_path / "out", max_ticks=400)
    stop = threading.Event()
    thread = threading.Thread(target=installation.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: installation.tick >= 5 or installation.failed)
        hub.command(Command("pause"))  # both stored while paused: they enter together at the resume
        wait_until(lambda: hub.overlay.paused)
        kept = visit(work.store_path, "I came here angry and I leave with hope. Thank you all!", "keep-text")
        scored = visit(work.store_path, "Zanzibar-lilac secret words, sad and tired", "score")
        hub.command(Command("resume"))
        wait_until(lambda: hub.last_ripple() is not None or installation.failed)
        assert len(hub.last_ripple().ripples) == 2, "both messages entered in the same tick"
        hub.command(Command("pause"))
        wait_until(lambda: hub.overlay.paused)
        paused_at = installation.tick
        time.sleep(0.2)
        assert installation.tick == paused_at
        hub.command(Command("resume"))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert installation.failed is None
    with Store(work.store_path) as store:
        rows = store.db.execute(
            "SELECT p.text, r.scope FROM posts p JOIN receipts r ON r.post = p.id ORDER BY p.id"
        ).fetchall()
        assert rows == [("I came here angry and I leave with hope. Thank you all!", "keep-text"), (None, "score")]
        assert store.withdraw_receipt(kept.lower()) == 1
        assert store.db.execute("SELECT count(*) FROM receipts").fetchone()[0] == 1
        with pytest.raises(Exception, match="no message is stored under that receipt"):
            store.withdraw_receipt(kept)
    for file in (work.store_path.parent).glob(f"{work.store_path.name}*"):
        assert b"Zanzibar" not in file.read_bytes()
    assert scored


def test_a_checkpoint_of_another_work_or_seed_is_refused(live_work, tmp_path):
    work = load_work(live_work)
    out = tmp_path / "out"
    Installation(work, work.live, LiveHub(), out, max_ticks=3).run(threading.Event())
    with pytest.raises(ValueError, match="seed 2019, not 'demo' seed 5"):
        Installation(work, work.live, LiveHub(), out, seed=5, max_ticks=3).run(threading.Event())


def test_a_withdrawal_during_the_run_reaches_it_at_the_next_tick(live_work, tmp_path, caplog):
    from sugarglass.erasure import notices, withdraw_source

    work = load_work(live_work)
    hub = LiveHub()
    out = tmp_path / "out"
    installation = Installation(work, work.live, hub, out, max_ticks=100_000)
    stop = threading.Event()
    thread = threading.Thread(target=installation.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: installation.tick >= 5 or installation.failed)
        with Store(work.store_path) as store:
            done = withdraw_source(store, "campaign-posts", "asked to by the authors")
        assert done.posts == 336 and done.outputs_marked == [out.resolve()]
        wait_until(lambda: len(installation.signal.base) == 1 or installation.failed)
        assert installation.signal.base.count.sum() == 0, "the run now follows a neutral signal"
        ticks = installation.tick
        wait_until(lambda: installation.tick >= ticks + 5 or installation.failed)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert installation.failed is None
    assert notices(out)[0]["source"] == "campaign-posts"
    assert hub.overlay.sources.get("campaign-posts", 0) == 0

    # after a power cut the installation comes back without the withdrawn source, rather than
    # refusing to start until someone edits the work file
    again = Installation(work, work.live, LiveHub(), out, max_ticks=installation.tick + 3)
    with caplog.at_level(logging.WARNING, logger="sugarglass.live"):
        again.run(threading.Event())
    assert again.failed is None and again.tick == installation.tick + 3
    assert any("'campaign-posts' was withdrawn" in r.getMessage() for r in caplog.records)
    with Store(work.store_path) as store:
        assert store.counts().get("campaign-posts") is None, "a restart never reads a withdrawn source again"


def test_the_live_command_serves_the_page_and_stops_on_sigterm(live_work, tmp_path):
    import socket

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "sugarglass", "live", str(live_work), "--out", str(out), "--port", str(port)],
        cwd=live_work.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
    )
    try:
        deadline = time.monotonic() + 120
        state = None
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=2).json()
                if state["tick"] >= 3:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        assert state is not None and state["tick"] >= 3 and state["work"] == "demo"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    finally:
        process.send_signal(signal.SIGTERM)
    output = finish(process)
    saved = load_checkpoint(out / "checkpoints")
    assert saved.header["tick"] == lines(out / "levels.jsonl") >= 3
    assert f"stopped at tick {saved.header['tick']}" in " ".join(output.split())


def test_a_fresh_start_over_an_earlier_run_keeps_its_levels_and_takes_in_its_visitors(live_work, tmp_path):
    work = load_work(live_work)
    out = tmp_path / "out"
    Installation(work, work.live, LiveHub(), out, max_ticks=3).run(threading.Event())
    visit(work.store_path, "words stored while the run was down, before it ever took them")
    shutil.rmtree(out / "checkpoints")  # lost, or moved aside as the error message advises
    again = Installation(work, work.live, LiveHub(), out, max_ticks=4)
    again.run(threading.Event())
    [earlier] = out.glob("levels-until-*.jsonl")
    assert lines(earlier) == 3 and lines(out / "levels.jsonl") == 4
    with Store(work.store_path) as store:
        assert again.taken_upto == store.last_ingest(), "the visitor's words entered the fresh run too"


def test_the_levels_a_live_run_appends_to_carry_a_manifest_that_stays_true_as_they_grow(live_work, tmp_path):
    from sugarglass.audit import audit
    from sugarglass.provenance import read_label
    from sugarglass.provenance.verify import verify

    work = load_work(live_work)
    out = tmp_path / "out"
    Installation(work, work.live, LiveHub(), out, max_ticks=12).run(threading.Event())
    levels = out / "levels.jsonl"
    record = read_label(levels).record
    assert record["content"]["bytes"] == levels.stat().st_size and record["manifest"]["steps"] == 12
    assert record["manifest"]["sources"][0]["id"] == "campaign-posts"
    assert verify(levels, work.store_path).ok
    with levels.open("ab") as handle:  # the run goes on: what the sidecar vouched for is unchanged
        handle.write(b'{"tick":12,"levels":[]}\n')
    assert verify(levels, work.store_path).ok
    tampered = bytearray(levels.read_bytes())
    tampered[10] ^= 1
    levels.write_bytes(bytes(tampered))
    assert not verify(levels, work.store_path).ok
    levels.write_bytes(bytes(tampered[:10]) + bytes([tampered[10] ^ 1]) + bytes(tampered[11:]))

    Installation(work, work.live, LiveHub(), out, max_ticks=25).run(threading.Event())  # resumed: cut back, hashed again
    record = read_label(levels).record
    assert record["content"]["bytes"] == levels.stat().st_size and record["manifest"]["steps"] == 25
    assert verify(levels, work.store_path).ok
    with Store(work.store_path) as store:
        labelled = audit(work, store)[3]
    assert labelled.ok, labelled.findings
