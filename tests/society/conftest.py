"""Shared fixtures for the society tests: Mesa's map file (small worlds are in worlds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mesa_map() -> Path:
    """The book's hand-drawn 50 x 50 sugar map, as Mesa 3.3.1 ships it."""
    import mesa.examples.advanced.sugarscape_g1mt as example

    return Path(example.__file__).parent / "sugar-map.txt"
