"""Shared test helpers: consent records and source tables for the work files tests write."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_WORK = REPO / "works" / "demo.toml"


def consent(scope: str = "keep-text", **changes) -> dict:
    record = {
        "granted_by": "Test Collective",
        "basis": "explicit",
        "scope": scope,
        "licence": "CC-BY-4.0",
        "granted_at": date(2026, 1, 1),
        "evidence": "https://example.org/consent/test",
    }
    record.update(changes)
    return record


def source(id: str, kind: str, path: str, scope: str = "keep-text", **options) -> dict:
    return {"id": id, "kind": kind, "path": path, **options, "consent": consent(scope)}


def wait_until(condition, timeout: float = 60.0) -> None:
    """Poll a condition of a run in another thread; fail, rather than hang, if it never holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.005)
