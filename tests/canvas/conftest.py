"""Shared inputs for the canvas tests: synthetic levels with the 2019 output's statistics."""

from __future__ import annotations

import numpy as np
import pytest

from sugarglass.canvas.synthetic import levels_like_2019


@pytest.fixture
def levels() -> np.ndarray:
    return levels_like_2019(40)
