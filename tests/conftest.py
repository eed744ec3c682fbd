"""Fixtures shared by the top-level tests (helpers live in support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w


@pytest.fixture
def make_work(tmp_path: Path):
    """Write a work file with the given sources; returns its path."""

    def make(*sources: dict, name: str = "test", **top) -> Path:
        path = tmp_path / f"{name}.toml"
        document = {"name": name, "seed": 7, **top, "sources": list(sources)}
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        return path

    return make
