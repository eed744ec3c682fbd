"""Manifests: what went into an output, written beside it and checked against it.

A manifest names the work, every source with its consent record and the hash of the file it
was read from, the analyzer with its licence, the society's preset and every resolved option,
the couplings, the seed, the package version, and the SHA-256 of each file the run wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__

FORMAT = "sugarglass-manifest"
VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over the target: a
    reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def build_manifest(*, work: Any, sources: list[dict], analyzer: dict, seed: int, steps: int,
                   sections: dict[str, Any], files: list[Path], out_dir: Path) -> dict:
    """The manifest of one run; ``sections`` holds each stage's resolved settings."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "generator": {"name": "sugarglass", "version": __version__},
        "work": {
            "name": work.name, "title": work.title, "artist": work.artist,
            "file": work.path.name, "sha256": sha256_file(work.path),
        },
        "seed": seed,
        "steps": steps,
        "sources": sources,
        "analyzer": analyzer,
        **sections,
        "files": {str(path.relative_to(out_dir)): sha256_file(path) for path in sorted(files)},
    }


def write_manifest(path: Path, manifest: dict) -> Path:
    return write_atomic(path, (json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8"))
