"""Checkpoints of a perpetual run: everything needed to carry on exactly, written atomically.

A checkpoint is a numbered generation folder (the society's own checkpoint file beside one
`live.npz` of everything else), made durable, and only then named current by atomically
replacing a small `current.json`. A run killed at any moment finds either the previous complete
checkpoint or the new complete one, never a mixture.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import fsync_folder, write_atomic

FORMAT = "sugarglass-live/1"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the society's file, the arrays by name, and the JSON header."""

    society_path: Path
    arrays: dict[str, np.ndarray]
    header: dict


def current_generation(folder: Path) -> int | None:
    pointer = folder / "current.json"
    if not pointer.is_file():
        return None
    return int(json.loads(pointer.read_text(encoding="utf-8"))["generation"])


def save_checkpoint(folder: Path, society: object, arrays: dict[str, np.ndarray], header: dict) -> Path:
    """Write a new generation and make it current; older generations are then removed."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = current_generation(folder)
    generation = 0 if previous is None else previous + 1
    target = folder / f"generation-{generation:08d}"
    if target.exists():
        shutil.rmtree(target)  # left by a run killed before it named this generation current
    target.mkdir()
    society.save(target / "society.npz")
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(json.dumps({"format": FORMAT, **header})), **arrays)
    write_atomic(target / "live.npz", buffer.getvalue())
    fsync_folder(target)
    write_atomic(folder / "current.json", json.dumps({"generation": generation, "tick": header.get("tick")}).encode())
    fsync_folder(folder)
    for old in folder.glob("generation-*"):
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_checkpoint(folder: Path) -> Checkpoint | None:
    """The current checkpoint, or None when the run has none yet."""
    generation = current_generation(folder)
    if generation is None:
        return None
    target = folder / f"generation-{generation:08d}"
    with np.load(target / "live.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{target}: not a live checkpoint ({header.get('format')!r})")
        arrays = {name: data[name].copy() for name in data.files if name != "header"}
    return Checkpoint(target / "society.npz", arrays, header)
