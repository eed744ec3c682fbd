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


def visit(store_path: Path, text: str, scope: str = "keep-text") -> str:
    """A visitor's message stored as the visitor form stores it; returns the receipt code."""
    from datetime import datetime, timezone

    from sugarglass.affect import Analyzers, LanguageGuesser
    from sugarglass.ingest import ingest_visitor
    from sugarglass.store import Store

    with Store(store_path) as store:
        return ingest_visitor(store, Analyzers(), LanguageGuesser(), text, scope, datetime.now(timezone.utc))


def small_demo_work(folder: Path, live: dict, **changes) -> Path:
    """The demo work with a small canvas and the given ``[live]`` table (other top-level tables
    replaced by ``changes``), its data copied beside it: a live run that starts in a second."""
    import shutil
    import tomllib

    import tomli_w

    if not (folder / "demo").exists():
        shutil.copytree(DEMO_WORK.parent / "demo", folder / "demo")
    document = tomllib.loads(DEMO_WORK.read_text(encoding="utf-8"))
    document["canvas"].update(width=60, height=80)
    document["live"] = live
    document.update(changes)
    path = folder / "demo.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path
