"""Save and restore a society, atomically.

A checkpoint is one `.npz` file: every array of `Society.state()` (the generator's four words,
the agents, the cells) and a JSON header with its scalars (rules, size, tick counters, the last
tick's stats) and the format's name. It is written to a temporary file beside the target,
flushed to disk (fsync), then renamed over it, so a crash mid-save leaves the previous
checkpoint whole. This module knows the file; the engine knows only its own state.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from sugarglass.files import write_atomic
from sugarglass.society.engine import Society

FORMAT = "sugarglass-society/1"


def save_society(society: Society, path: Path | str) -> Path:
    """Write `society` to `path` (atomic replace); returns the path."""
    scalars, arrays = society.state()
    header = {"format": FORMAT, **scalars}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(json.dumps(header)), **arrays)
    return write_atomic(Path(path), buffer.getvalue())


def load_society(path: Path | str) -> Society:
    """The society saved at `path`: stepping it continues the saved run bit for bit."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: not a society checkpoint ({header.get('format')!r})")
        arrays = {name: data[name] for name in data.files if name != "header"}
    return Society.from_state(header, arrays)
