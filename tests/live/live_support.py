"""Helpers for the live tests: a real uvicorn server in a thread, a publisher thread standing in
for the perpetual run (it feeds the hub seeded synthetic levels and drains visitors as the run
would), and Debian's Chromium driven by Playwright. Nothing here fakes the server or the network."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from sugarglass.live.hub import Frame, LiveHub, VisitorMessage
from sugarglass.live.server import make_app, make_server
from sugarglass.live.settings import LiveSettings

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

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


@contextmanager
def running_server(hub: LiveHub, settings: LiveSettings, store_path: Path | None, **options) -> Iterator[Live]:
    """make_app + uvicorn on a free loopback port, served from a thread until the block ends."""
    server = make_server(make_app(hub, settings, store_path, **options), "127.0.0.1", 0, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Live(f"http://127.0.0.1:{port}", hub, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


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
    """Stands in for the run thread: publishes a frame every `interval` s and, if `drain`,
    takes visitors' messages as the run would and answers each with a ripple."""

    def __init__(self, hub: LiveHub, seed: int = 0, interval: float = 0.25, drain: bool = True):
        self.hub, self.interval, self.drain = hub, interval, drain
        self.levels = synthetic_levels(seed, hub.columns * hub.rows)
        self.taken: list[VisitorMessage] = []
        self.tick = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def publish_one(self) -> None:
        visitors = self.hub.take_visitors() if self.drain else []
        self.taken += visitors
        ripples = tuple(sum(map(ord, v.receipt)) % (self.hub.columns * self.hub.rows) for v in visitors)
        self.tick += 1
        self.hub.overlay.tick = self.tick
        self.hub.overlay.population = 400 - self.tick % 7
        self.hub.overlay.price = 1.0 + 0.01 * (self.tick % 13)
        self.hub.publish(Frame(self.tick, next(self.levels), None, ripples),
                         {"population": self.hub.overlay.population, "price": self.hub.overlay.price})

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


def wait_for(predicate, timeout: float = 15.0, message: str = "condition") -> None:
    """Poll until true: used only to wait for things to happen, never to time them."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)
