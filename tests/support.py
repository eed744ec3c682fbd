"""Shared test helpers: consent records and source tables for the work files tests write."""

from __future__ import annotations

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
