"""Helpers for the live tests: a real uvicorn server in a thread, a publisher thread standing in
for the perpetual run (it feeds the hub seeded synthetic levels and reads visitors' messages from
the store as the run does), and Debian's Chromium driven by Playwright. Nothing here fakes the
server, the store or the network."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Self

import httpx
import numpy as np

from sugarglass.consent import Consent
from sugarglass.live.hub import Frame, LiveHub
from sugarglass.live.server import make_app, make_server
from sugarglass.live.settings import LiveSettings
from sugarglass.readout import Readout, ReadoutConfig
from sugarglass.society import Society, SocietyConfig, measure
from sugarglass.store import NewPost, Store, receipt_digest

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]


def chromium_path() -> str:
    """Debian's chromium; a missing browser is a failure, never a skip (CI installs it)."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("the live page tests need Debian's chromium on PATH: apt-get install -y chromium")
    return path


@dataclass
class Live:
    """A running server: its base URL, the hub behind it, and the settings it runs with."""

    url: str
    hub: LiveHub
    settings: LiveSettings
    store: Path | None = None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    def visitors(self) -> list[StoredVisitor]:
        """The visitors' messages in the store, oldest first."""
        return stored_visitors(self.store)


@dataclass(frozen=True)
class StoredVisitor:
    receipt_sha256: str
    text: str | None
    scope: str

    def has_receipt(self, receipt: str) -> bool:
        return self.receipt_sha256 == receipt_digest(receipt)


def stored_visitors(path: Path | None) -> list[StoredVisitor]:
    if path is None or not path.exists():
        return []
    with Store(path) as store:
        rows = store.db.execute("SELECT r.receipt_sha256, p.text, r.scope FROM receipts r JOIN posts p ON p.id = r.post ORDER BY p.id")
        return [StoredVisitor(*row) for row in rows]


def form_client(live: Live, path: str = "/visit") -> tuple[httpx.Client, str]:
    """A client that loaded a form as a browser would: it holds the signed CSRF cookie, knows the
    form's token (bound to that cookie), and sends `Origin` as a browser does on every POST."""
    client = httpx.Client(base_url=live.url, timeout=10, headers={"origin": live.url})
    page = client.get(path)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    cookie = client.cookies.get("sg_csrf")
    assert cookie and token != cookie and token.count(".") == cookie.count(".") == 2
    return client, token


@contextmanager
def running_server(hub: LiveHub, settings: LiveSettings, store_path: Path | None, port: int = 0,
                   **options) -> Iterator[Live]:
    """make_app + uvicorn on a loopback port (a free one unless given), served from a thread
    until the block ends."""
    server = make_server(make_app(hub, settings, store_path, **options), "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Live(f"http://127.0.0.1:{port}", hub, settings, store_path)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    """A loopback port free at this moment, for a test that must name its address beforehand."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic_levels(seed: int, elements: int = 48) -> Iterator[np.ndarray]:
    """Levels with the 2019 output's statistics: about 43 % of elements on at 1500..3000 and
    26 % switching on or off a tick (off->on 0.228, on->off 0.302 keep both in balance)."""
    rng = np.random.default_rng(seed)
    on = rng.random(elements) < 0.43
    strength = rng.integers(1500, 3001, elements)
    while True:
        yield np.where(on, strength, 0).astype(np.uint16)
        flip = rng.random(elements) < np.where(on, 0.302, 0.228)
        on = on ^ flip
        strength = np.where(flip, rng.integers(1500, 3001, elements), strength)


class Publisher:
    """Stands in for the run thread: publishes a frame every `interval` s and, given the store,
    takes in the visitors' messages stored since its last tick as the run does, answering each
    with a ripple. `taken` holds the visitors' marks it took."""

    def __init__(self, hub: LiveHub, seed: int = 0, interval: float = 0.25, store: Path | None = None):
        self.hub, self.interval, self.store = hub, interval, store
        self.levels = synthetic_levels(seed, hub.columns * hub.rows)
        self.taken: list[str] = []
        self.upto = 0
        self.tick = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def next_tick(self) -> tuple[np.ndarray, dict[str, float]]:
        """This tick's levels and metrics (the overlay's population and price among them)."""
        self.hub.overlay.population = 400 - self.tick % 7
        self.hub.overlay.price = 1.0 + 0.01 * (self.tick % 13)
        return next(self.levels), {"population": self.hub.overlay.population, "price": self.hub.overlay.price}

    def publish_one(self) -> None:
        receipts: list[str] = []
        if self.store is not None and self.store.exists():
            with Store(self.store) as store:
                fresh = store.fresh_feelings(self.upto, ["visitors"])
            self.upto, receipts = fresh.upto, fresh.visitors
        self.taken += receipts
        ripples = tuple(int(r[:8], 16) % (self.hub.columns * self.hub.rows) for r in receipts)
        self.tick += 1
        self.hub.overlay.tick = self.tick
        levels, metrics = self.next_tick()
        self.hub.publish(Frame(self.tick, levels, None, ripples), metrics)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.publish_one()

    def __enter__(self) -> Self:
        self.publish_one()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class SocietyPublisher(Publisher):
    """A publisher whose levels and metrics come from a real society (the engine, its metrics
    and the readout the run uses), so the charts show every metric the run publishes, by name."""

    def __init__(self, hub: LiveHub, seed: int = 0, interval: float = 0.25, store: Path | None = None,
                 preset: str = "book"):
        super().__init__(hub, seed, interval, store)
        self.society = Society.from_config(SocietyConfig(preset=preset), seed)
        self.readout = Readout(ReadoutConfig(columns=hub.columns, rows=hub.rows))

    def next_tick(self) -> tuple[np.ndarray, dict[str, float]]:
        self.society.step()
        metrics = {k: float(v) for k, v in measure(self.society).items() if k != "tick"}
        self.hub.overlay.population, self.hub.overlay.price = int(metrics["population"]), metrics["price_geomean"]
        return self.readout(self.society), metrics


def wait_for(predicate, timeout: float = 15.0, message: str = "condition") -> None:
    """Poll until true: used only to wait for things to happen, never to time them."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)


def fill_store(path: Path, post_ids: tuple[str, ...] = ("=1+1", "b")) -> str:
    """A store with one file source (a post per id) and one visitor's message; returns its receipt."""
    consent = Consent(granted_by="The Collective", basis="explicit", scope="score", licence="CC-BY-4.0",
                      granted_at=date(2024, 1, 1), evidence="letter of 2024-01-01")
    visitor = Consent(granted_by="a visitor", basis="visitor", scope="score", licence="visitor",
                      granted_at=date(2024, 1, 1), evidence="the visitors' form")

    def post(pid: str, seq: int) -> NewPost:
        return NewPost(pid, seq, 1.7e9 + seq, None, None, "en", False, (0.5, 0.75, 0.4, 0.1, 0.5))

    with Store(path) as store, store.transaction():
        store.register("collective", "file", "posts.jsonl", consent)
        ingest = store.begin_ingest("collective", "0" * 64, "vader", "3.3.2", "MIT")
        store.add_posts("collective", ingest, [post(pid, seq) for seq, pid in enumerate(post_ids)])
        store.register("visitors", "visitors", "live", visitor)
        ingest = store.begin_ingest("visitors", "1" * 64, "vader", "3.3.2", "MIT")
        store.add_visitor_post("visitors", ingest, post("v1", len(post_ids)), "ABCD-EFGH-JKMN", "score",
                               datetime.now(UTC).isoformat())
    return "ABCD-EFGH-JKMN"


def run_coroutine(coroutine):
    """``asyncio.run`` in a thread of its own: the session's Playwright keeps an event loop
    running in the main thread once a browser test has started, and asyncio.run refuses to
    start inside a running loop."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
