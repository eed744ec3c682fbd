"""Fixtures shared by the top-level tests (helpers live in support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w
from feeds_server import FeedServer


@pytest.fixture
def make_work(tmp_path: Path):
    """Write a work file with the given sources; returns its path."""

    def make(*sources: dict, name: str = "test", **top) -> Path:
        path = tmp_path / f"{name}.toml"
        document = {"name": name, "seed": 7, **top, "sources": list(sources)}
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        return path

    return make


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 whose routes a test sets (see feeds_server.py)."""
    running = FeedServer()
    yield running
    running.stop()


@pytest.fixture
def no_proxies(monkeypatch):
    """Keep every request on loopback, whatever proxy the environment names."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile the society's kernels once, in this process, before any test starts a worker or a
    subprocess: numba's on-disk cache is then only read, never written by several processes at
    once (or by one killed mid-write)."""
    from sugarglass.society import warm_up

    warm_up()
