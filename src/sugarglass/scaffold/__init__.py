"""A new work to start from: ``sugarglass init FOLDER`` writes it.

The folder gets ``work.toml`` (every table, commented, with its defaults), the sample posts in
``data/`` with their consent record, and a commented source for the artist's own words whose
consent says "FILL IN" until it is filled in (Sugarglass refuses it until then). As it stands the
work runs and paints: the sample posts were written for Sugarglass, and their consent is real.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..errors import SugarglassError
from ..files import write_atomic

FILES = ("work.toml", "data/sample-posts.csv", "data/SAMPLE-CONSENT.md")


def work_name(folder: Path) -> str:
    """The folder's name as a work name: lower case, letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    return name or "my-work"


def scaffold(folder: Path) -> list[Path]:
    """Write a new work into ``folder`` (made if missing); returns the files written. A folder
    that already holds any of them is left alone: nothing of the artist's is overwritten."""
    folder = Path(folder)
    taken = [name for name in FILES if (folder / name).exists()]
    if taken:
        raise SugarglassError(f"{folder / taken[0]} exists: `sugarglass init` writes only into a folder without a work; "
                              "choose a new folder")
    source = resources.files(__package__)
    written = []
    for name in FILES:
        data = source.joinpath(name).read_bytes()
        if name == "work.toml":
            data = data.replace(b'name = "my-work"', f'name = "{work_name(folder)}"'.encode(), 1)
        written.append(write_atomic(folder / name, data))
    return written


__all__ = ["FILES", "scaffold", "work_name"]
