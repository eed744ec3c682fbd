"""Fixtures for the live server tests: a store, a server with a publisher, and a browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from live_support import CHROMIUM_FLAGS, Publisher, chromium_path, running_server

from sugarglass.live.hub import LiveHub
from sugarglass.live.settings import LiveSettings

ADMIN_TOKEN = "correct-horse-battery-staple-0123456789"


@pytest.fixture
def admin_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SUGARGLASS_ADMIN_TOKEN", ADMIN_TOKEN)
    return ADMIN_TOKEN


@pytest.fixture
def live(tmp_path: Path, admin_token: str):
    """A server with an admin token, a store path and a publisher feeding it every 0.25 s."""
    hub = LiveHub()
    settings = LiveSettings(port=0, tick_seconds=0.25, visitor_limit=5, visitor_window_seconds=600)
    store = tmp_path / "store.sqlite"
    with running_server(hub, settings, store) as server, Publisher(hub, seed=11, store=store) as publisher:
        server.publisher = publisher
        yield server


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Debian's, via Playwright; never `playwright install`);
    Playwright gives it a fresh temporary profile."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh context (no cookies shared between tests) with one page."""
    context = browser.new_context(viewport={"width": 600, "height": 800})
    yield context.new_page()
    context.close()
