"""Levels to a file, one tick a line, written under a temporary name until the run closes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import numpy as np


class LevelsFile:
    """``jsonl``: ``{"tick": t, "levels": [...]}``; ``rows-2019``: ``l0,l1,...,l47``.

    A record, not a drive: it holds the society's own levels (those the painting is rendered
    from), and in ``jsonl`` also ``"limited": [...]`` on the ticks where the safety limits sent
    the hardware other levels."""

    hardware = False

    def __init__(self, path: Path, format: str = "jsonl"):
        self.path = path
        self.format = format
        self._partial = path.with_name(path.name + ".partial")
        self._handle: IO[str] | None = None
        self.name = f"levels file {path.name}"

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self._partial.open("w", encoding="utf-8", newline="\n")

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float], limited: np.ndarray | None = None) -> None:
        assert self._handle is not None, "open() first"
        values = levels.tolist()
        if self.format == "rows-2019":
            self._handle.write(",".join(map(str, values)) + "\n")
        else:
            line = {"tick": tick, "levels": values} | ({} if limited is None else {"limited": limited.tolist()})
            self._handle.write(json.dumps(line, separators=(",", ":")) + "\n")

    def close(self, complete: bool = True) -> None:
        """Give the file its name only if the run completed; otherwise remove the partial."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            if complete:
                self._partial.replace(self.path)
            else:
                self._partial.unlink(missing_ok=True)
