"""Shared test helpers: real work files and real source files written into tmp_path."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import tomli_w

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


@pytest.fixture
def make_work(tmp_path: Path):
    """Write a work file with the given sources; returns its path."""

    def make(*sources: dict, name: str = "test", **top) -> Path:
        path = tmp_path / f"{name}.toml"
        document = {"name": name, "seed": 7, **top, "sources": list(sources)}
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        return path

    return make
