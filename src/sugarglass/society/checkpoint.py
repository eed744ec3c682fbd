"""Save and restore a society, atomically.

A checkpoint is one `.npz` file: every state array, the generator's four words, the tick
counters, and the rules as JSON. It is written to a temporary file beside the target, flushed
to disk (fsync), then renamed over it, so a crash mid-save leaves the previous checkpoint whole.
"""

from __future__ import annotations

import json
import io
from dataclasses import asdict
from pathlib import Path

import numpy as np

from sugarglass.files import write_atomic
from sugarglass.society.config import Rules
from sugarglass.society.engine import AGENT_ARRAYS, CELL_ARRAYS, Society, TickStats

FORMAT = "sugarglass-society/1"


def save_society(society: Society, path: Path) -> Path:
    """Write `society` to `path` (atomic replace); returns the path."""
    arrays = {name: getattr(society, name) for name in AGENT_ARRAYS + CELL_ARRAYS}
    header = {
        "format": FORMAT,
        "rules": society.rules.model_dump(mode="json"),
        "width": society.width,
        "height": society.height,
        "tick": society.tick,
        "next_id": society.next_id,
        "last": asdict(society.last),
    }
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(json.dumps(header)), rng=society.rng, **arrays)
    return write_atomic(path, buffer.getvalue())


def load_society(path: Path) -> Society:
    """The society saved at `path`."""
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: not a society checkpoint ({header.get('format')!r})")
        society = Society.__new__(Society)
        society.rules = Rules(**header["rules"])
        society.width, society.height = header["width"], header["height"]
        society.tick, society.next_id = header["tick"], header["next_id"]
        society.rng = data["rng"].copy()
        for name in AGENT_ARRAYS + CELL_ARRAYS:
            setattr(society, name, data[name].copy())
        society.last = TickStats(**header["last"])
    society._setup_tables()
    return society
