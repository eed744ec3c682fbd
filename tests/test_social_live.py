"""Mastodon and Bluesky accounts in a live run: polled on their schedule, Bluesky heard through
Jetstream, new posts entering the signal within a tick, deleted posts and a deleted account
followed, and a SIGKILL at a random moment neither losing nor doubling a post."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import tomli_w
from social_server import SocialServer, plc_did
from support import consent, small_demo_work, wait_until

from sugarglass.live.hub import LiveHub
from sugarglass.live.loop import Installation
from sugarglass.store import Store
from sugarglass.work import load_work

HANDLE = "delta.example.social"


@pytest.fixture
def social(no_proxies):
    with SocialServer() as running:
        yield running


def social_work(folder: Path, social: SocialServer, tick_seconds: float = 0.05, checkpoint_every: int = 1000) -> Path:
    """The small demo work with one Mastodon account (polled) and one Bluesky account (heard
    through Jetstream), French and Portuguese scored with their own lexicons."""
    jetstream = social.start_jetstream()
    sources = [
        {"id": "river", "kind": "mastodon", "account": "@river@river.example", "instance": social.url(),
         "poll_seconds": 30, "consent": consent()},
        {"id": "delta", "kind": "bluesky", "actor": HANDLE, "service": social.url(), "jetstream": jetstream,
         "poll_seconds": 3600, "consent": consent()},
    ]
    path = small_demo_work(folder, {"tick_seconds": tick_seconds, "checkpoint_every": checkpoint_every},
                           analyzer={"languages": {"fr": "vader-fr", "pt": "leia"}, "non_english": "skip"})
    import tomllib

    document = tomllib.loads(path.read_text(encoding="utf-8"))
    document["sources"] += sources
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


@contextmanager
def running(work, tmp_path: Path):
    """A live run of the work on a thread, stopped (and checked to have failed nowhere) after."""
    installation = Installation(work, work.live, LiveHub(), tmp_path / "out", max_ticks=100_000)
    stop = threading.Event()
    thread = threading.Thread(target=installation.run, args=(stop,))
    thread.start()
    try:
        yield installation
    finally:
        stop.set()
        thread.join(timeout=60)
    assert installation.failed is None


def held(work, source_id: str) -> dict[str, tuple]:
    with Store(work.store_path) as store:
        return {row[0]: row[1:] for row in store.db.execute(
            "SELECT post_id, language, analyzer FROM posts WHERE source_id = ?", (source_id,))}


def test_new_posts_from_both_networks_enter_within_a_tick_and_a_deleted_post_leaves(social, tmp_path):
    social.add_mastodon_account("river")
    social.add_status("river", "<p>Bienvenue à la réunion de ce soir, merci d'être venus !</p>", language="fr")
    social.add_bluesky_actor(HANDLE)
    social.add_post(HANDLE, "Estamos juntos, que orgulho desta comunidade!", langs=["pt"])
    work = load_work(social_work(tmp_path, social))
    with running(work, tmp_path) as installation:
        hub = installation.hub
        wait_until(lambda: "delta" in getattr(installation, "listeners", {}))
        assert [lang for lang, _ in held(work, "river").values()] == ["fr"]
        assert list(held(work, "delta").values()) == [("pt", "leia")]
        wait_until(lambda: social.jetstream_queries)
        query = social.jetstream_queries[-1]
        assert query["wantedDids"] == [plc_did(HANDLE)] and query["wantedCollections"] == ["app.bsky.feed.post"]

        before, tick = hub.overlay.sources.get("delta", 0), installation.tick
        event = social.emit_post(HANDLE, "Nous avons gagné, quelle joie !", langs=["fr"])
        wait_until(lambda: hub.overlay.sources.get("delta", 0) == before + 1)
        assert installation.tick - tick <= 2, "heard through Jetstream, it enters at the next tick"
        assert held(work, "delta")[event["commit"]["rkey"]] == ("fr", "vader-fr")

        social.add_status("river", "<p>A Lisboa respondeu: obrigado!</p>", language="pt")
        before, tick = hub.overlay.sources.get("river", 0), installation.tick
        installation.pollers["river"].schedule.next_due = 0  # its poll is due now rather than in 30 s
        wait_until(lambda: hub.overlay.sources.get("river", 0) == before + 1)
        assert installation.tick - tick <= 2, "a polled account's new post enters the tick it is read"

        social.emit_delete(plc_did(HANDLE), event["commit"]["rkey"])
        wait_until(lambda: event["commit"]["rkey"] not in held(work, "delta"))
        with Store(work.store_path) as store:
            assert store.withdrawals()[-1]["reason"].startswith("deleted by their author")

        social.emit({"did": plc_did(HANDLE), "kind": "account",
                     "account": {"active": False, "did": plc_did(HANDLE), "seq": 9, "status": "deleted", "time": "2026-12-01T10:00:00Z"}})
        wait_until(lambda: "delta" not in installation.listeners and "delta" not in installation.pollers)
        with Store(work.store_path) as store:
            assert store.withdrawn_at("delta") and held(work, "delta") == {}
            assert "the account was deleted" in store.withdrawals()[-1]["reason"]


def test_a_dropped_jetstream_connection_is_resumed_from_its_cursor(social, tmp_path):
    social.add_mastodon_account("river")
    social.add_bluesky_actor(HANDLE)
    work = load_work(social_work(tmp_path, social))
    with running(work, tmp_path):
        wait_until(lambda: social.jetstream_queries)
        first = social.emit_post(HANDLE, "Before the drop: hope")
        wait_until(lambda: first["commit"]["rkey"] in held(work, "delta"))
        social.drop_clients()
        missed = social.emit_post(HANDLE, "Said while the connection was down: still here")
        wait_until(lambda: missed["commit"]["rkey"] in held(work, "delta"), timeout=30)
        assert social.jetstream_queries[-1]["cursor"] == [str(first["time_us"])]


def test_sigkill_at_a_random_moment_neither_loses_nor_doubles_a_heard_post(social, tmp_path):
    social.add_mastodon_account("river")
    social.add_bluesky_actor(HANDLE)
    path = social_work(tmp_path, social, tick_seconds=0.02, checkpoint_every=5)
    work = load_work(path)
    command = [sys.executable, "-m", "sugarglass", "live", str(path), "--no-server", "--out", str(tmp_path / "out")]
    sent: list[str] = []
    rng = random.Random(14)
    for round_ in range(2):
        process = subprocess.Popen(command, cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda r=round_, p=process: len(social.jetstream_queries) > r or p.poll() is not None, timeout=120)
            assert process.poll() is None, process.stdout.read().decode()
            for n in range(12):
                sent.append(social.emit_post(HANDLE, f"Round {round_} message {n}: we keep going")["commit"]["rkey"])
                time.sleep(rng.uniform(0.0, 0.05))
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        sent += [social.emit_post(HANDLE, f"Said while it was down after round {round_}, {n}")["commit"]["rkey"] for n in range(3)]
    process = subprocess.Popen(command, cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: len(social.jetstream_queries) > 2 or process.poll() is not None, timeout=120)
        assert social.jetstream_queries[-1].get("cursor"), "a restart resumes from the stored time_us cursor"
        wait_until(lambda: set(sent) <= set(held(work, "delta")), timeout=120)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0, output
    with Store(work.store_path) as store:
        rows = store.db.execute("SELECT post_id, count(*) FROM posts WHERE source_id = 'delta' GROUP BY post_id").fetchall()
    assert sorted(post for post, _ in rows) == sorted(sent) and all(count == 1 for _, count in rows)
