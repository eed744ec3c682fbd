"""Helpers for the garden tests: work files with a consent record, and small image folders."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import tomli_w

from sugarglass.garden.plants import generate_plants


def consent(**changes) -> dict:
    record = {
        "granted_by": "Sugarglass project",
        "basis": "authored",
        "scope": "keep-text",
        "licence": "CC0-1.0",
        "granted_at": date(2026, 1, 1),
        "evidence": "drawn by sugarglass.garden.plants for the tests",
    }
    record.update(changes)
    return record


def write_work(folder: Path, dataset: Path | str, *, name: str = "garden-test", seed: int = 3, size: int = 32,
               train: dict | None = None, passes: list[dict] | None = None, dataset_extra: dict | None = None,
               **garden) -> Path:
    """A garden work file in ``folder`` training at ``size`` px on ``dataset``."""
    document = {
        "name": name, "seed": seed, "title": "Test garden", "artist": "Tester",
        "garden": {
            "size": size, "latent": 16, "width": 8,
            "dataset": {"id": "plants", "folder": str(dataset), "consent": consent(), **(dataset_extra or {})},
            "train": {"batch": 8, "steps": 4, "sample_every": 2, "checkpoint_every": 2, "eval_every": 2,
                      "eval_images": 16, **(train or {})},
            "grow": {"count": 4, "columns": 2, "keyframes": 2, "frames_between": 2, "fps": 4, "video_scale": 2},
            **garden,
        },
    }
    if passes is not None:
        document["garden"]["passes"] = passes
    path = folder / f"{name}.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def plant_folder(folder: Path, count: int = 40, seed: int = 1) -> Path:
    generate_plants(folder, count, seed)
    return folder
