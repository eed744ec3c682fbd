"""A receipt is a promise: hundreds of visitors' messages (duplicates and empties among them)
sent to the real `sugarglass live` process while it is SIGKILLed at random moments and finally
stopped with SIGTERM. Every receipt given out names a stored post, every stored post enters the
signal (after a resume too), and every receipt withdraws its post."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from support import small_demo_work
from sugarglass.erasure import notices
from sugarglass.live.checkpoint import load_checkpoint
from sugarglass.store import Store, receipt_digest

TOKEN = "a-long-enough-admin-token-for-the-receipts-test-0123"
WORDS = ["I feel hopeful about the river today", "We are tired but we keep going", "Thank you all, this is beautiful",
         "The flood took our garden and I am angry", "Together we are stronger"]
EMPTIES = ["<b></b>", "https://example.org/only-a-link", "@someone", "  <i> </i> @a @b  "]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_work(folder: Path, port: int) -> Path:
    return small_demo_work(folder, {"tick_seconds": 0.05, "checkpoint_every": 15, "port": port,
                                    "visitor_limit": 100_000, "withdraw_limit": 100_000})


class Installation:
    """`sugarglass live` as a gallery runs it, started again after every kill."""

    def __init__(self, work: Path, out: Path, port: int):
        self.work, self.out, self.url = work, out, f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.log = (work.parent / "live.log").open("ab")

    def start(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "sugarglass", "live", str(self.work), "--out", str(self.out), *args],
                                        cwd=self.work.parent, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "SUGARGLASS_ADMIN_TOKEN": TOKEN})
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}/api/state", timeout=2).json()["tick"] > 0:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, (self.work.parent / "live.log").read_text()
            assert time.monotonic() < deadline, "the installation did not start"
            time.sleep(0.05)

    def stop(self, how: int) -> int:
        self.process.send_signal(how)
        return self.process.wait(timeout=90)


def form_post(client: httpx.Client, url: str, page: str, endpoint: str, fields: dict[str, str]) -> httpx.Response:
    """What a visitor's browser does: load the form, then post it with the form's token."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get(f"{url}/{page}").text)[1]
    return client.post(f"{url}/api/{endpoint}", data={**fields, "csrf": token},
                       headers={"Origin": url, "Sec-Fetch-Site": "same-origin", "Accept": "application/json"})


def test_every_receipt_names_a_stored_post_through_kills_and_withdraws_it(tmp_path):
    rng = random.Random(12)
    port = free_port()
    work = make_work(tmp_path, port)
    live = Installation(work, tmp_path / "out", port)
    receipts: dict[str, str] = {}  # receipt -> text
    refusals: list[str] = []
    sent = threading.Semaphore(0)
    stop = threading.Event()

    def visitor(seed: int) -> None:
        own = random.Random(seed)
        client = httpx.Client(timeout=10)
        while not stop.is_set():
            text = own.choice(EMPTIES) if own.random() < 0.15 else own.choice(WORDS)
            try:
                response = form_post(client, live.url, "visit", "visit", {"text": text, "scope": own.choice(["score", "keep-text"])})
            except (httpx.HTTPError, TypeError):
                time.sleep(0.02)  # the installation is down: the visitor tries again
                continue
            if response.status_code == 200:
                receipts[response.json()["receipt"]] = text
                sent.release()
            elif response.status_code == 422:
                refusals.append(text)
                assert "no words left" in response.json()["error"], response.text
            else:
                assert response.status_code in (502, 503), response.text

    live.start()
    visitors = [threading.Thread(target=visitor, args=(n,)) for n in range(3)]
    for thread in visitors:
        thread.start()
    try:
        for _ in range(4):
            time.sleep(rng.uniform(0.3, 2.0))
            live.stop(signal.SIGKILL)
            live.start()
        while len(receipts) < 300:
            assert sent.acquire(timeout=60), "the visitors' messages stopped being taken"
        assert live.stop(signal.SIGTERM) == 0, "SIGTERM ends the run cleanly"
    finally:
        stop.set()
        for thread in visitors:
            thread.join(timeout=30)
        if live.process.poll() is None:
            live.process.kill()
    assert refusals and set(refusals) <= set(EMPTIES), "words empty after cleaning are refused, never given a receipt"
    texts = list(receipts.values())
    assert max(texts.count(t) for t in WORDS) > 1, "the test sends the same words from several visitors"

    with Store(tmp_path / "demo.sqlite") as store:
        stored = {row[0]: row[1] for row in store.db.execute("SELECT r.receipt_sha256, p.ingest_id FROM receipts r JOIN posts p ON p.id = r.post")}
        assert {receipt_digest(r) for r in receipts} <= set(stored), "an acknowledged message is missing from the store"
        kept_text = dict(store.db.execute("SELECT r.receipt_sha256, p.text FROM receipts r JOIN posts p ON p.id = r.post"))
    for receipt, text in receipts.items():
        assert kept_text[receipt_digest(receipt)] in (None, text)

    # a resume takes in everything stored after its checkpoint, then every receipt withdraws its post
    live.start()
    client = httpx.Client(timeout=10)
    pointer = json.loads((tmp_path / "out" / "checkpoints" / "current.json").read_text())
    generation = tmp_path / "out" / "checkpoints" / f"generation-{pointer['generation']:08d}"
    assert generation.is_dir()
    deadline = time.monotonic() + 60
    while httpx.get(f"{live.url}/api/state").json()["tick"] < pointer["tick"] + 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for receipt in receipts:
        response = form_post(client, live.url, "withdraw", "withdraw", {"receipt": receipt.lower().replace("-", " ")})
        assert response.status_code == 200, response.text
    assert live.stop(signal.SIGTERM) == 0
    with Store(tmp_path / "demo.sqlite") as store:
        assert store.db.execute("SELECT count(*) FROM receipts").fetchone()[0] == len(stored) - len(receipts)
        assert store.db.execute("SELECT count(*) FROM posts WHERE source_id = 'visitors'").fetchone()[0] == len(stored) - len(receipts)
    [notice] = [n for n in notices(tmp_path / "out") if n["source"] == "visitors"]
    assert notice["messages"] == len(receipts), "one entry counts the visitors' withdrawals"
    taken_upto = load_checkpoint(tmp_path / "out" / "checkpoints").header["taken_upto"]
    assert taken_upto >= max(stored.values()), "a stored message never entered the signal"
    log = (tmp_path / "live.log").read_text(encoding="utf-8")
    assert "/api/visit" not in log, "no access log: visitors' addresses stay out of the journal"
