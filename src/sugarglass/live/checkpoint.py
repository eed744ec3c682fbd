"""Checkpoints of a perpetual run, kept so that damage costs a few minutes of it, never the run.

    checkpoints/
      current.json              {"generation": 12, "tick": 720}: a hint for people and tools
      generation-00000012/
        society.npz             the society's own checkpoint
        live.npz                the rest: canvas, readout, and a JSON header
        checksums.json          the SHA-256 of each file above, written last

A save writes the files, then their checksums, each durable, and only then names the generation
current; the oldest generations beyond ``keep`` are removed after that. A generation without
checksums was cut short by a kill and is never read. Loading tries generations newest first and
falls back past any whose file is missing, fails its checksum or fails to parse, with a warning
naming the file. current.json is only a hint: damage to it costs nothing, since the folders are
scanned. Saving and rewriting hold a lock on the folder, so a withdrawal's rewrite from another
process never interleaves with a running installation's save.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..files import fsync_folder, write_atomic
from ..provenance.manifest import sha256_file

FORMAT = "sugarglass-live/1"
SUMS_FORMAT = "sugarglass-checksums/1"
SUMS = "checksums.json"
POINTER = "current.json"
FILES = ("society.npz", "live.npz")
GENERATION = re.compile(r"generation-(\d+)", re.ASCII)
# what reading a damaged .npz or its JSON header raises; a file that passed its checksum and still
# raises one of these was written bad, which is damage too
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)

log = logging.getLogger("sugarglass.live")


@dataclass
class Checkpoint:
    """A loaded checkpoint: the society's file, the arrays by name, the JSON header, and the
    society itself when ``load_checkpoint`` was given a way to open it."""

    society_path: Path
    arrays: dict[str, np.ndarray]
    header: dict
    society: Any = None


class Damaged(Exception):
    """Why one generation cannot be resumed from: the file and the reason."""

    def __init__(self, file: str, reason: str):
        self.file, self.reason = file, reason
        super().__init__(f"{file}: {reason}")


# -- the folder ------------------------------------------------------------------------------------


def generations(folder: Path) -> list[tuple[int, Path]]:
    """Every generation folder, newest first (the numbers, not current.json, say which is newest)."""
    found = []
    for path in folder.glob("generation-*"):
        match = GENERATION.fullmatch(path.name)
        if match and path.is_dir():
            found.append((int(match[1]), path))
    return sorted(found, reverse=True)


def current_generation(folder: Path) -> int | None:
    """The generation current.json names, or None when it is missing or damaged (a warning says
    which; the hint is not needed to load)."""
    pointer = folder / POINTER
    try:
        document = json.loads(pointer.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s/%s: unreadable (%s); it is only a hint, the generation folders are scanned instead",
                    folder.name, POINTER, exc)
        return None
    generation = document.get("generation") if isinstance(document, dict) else None
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        log.warning("%s/%s: no generation number in it; it is only a hint, the generation folders are scanned instead",
                    folder.name, POINTER)
        return None
    return generation


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder, between threads and processes alike (flock locks belong
    to the open file, so two opens in one process exclude each other too)."""
    with open(folder / ".lock", "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# -- one generation --------------------------------------------------------------------------------


def _live_bytes(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(json.dumps({**header, "format": FORMAT})), **arrays)
    return buffer.getvalue()


def _write_sums(target: Path, sums: dict[str, list[str]]) -> None:
    """Each file lists the digests it may have: one, except for a moment while it is rewritten."""
    write_atomic(target / SUMS, json.dumps({"format": SUMS_FORMAT, "sha256": sums}, indent=1).encode())


def _read_sums(target: Path) -> dict[str, list[str]]:
    try:
        document = json.loads((target / SUMS).read_bytes())
    except FileNotFoundError:
        raise Damaged(SUMS, "missing, so the save that wrote this generation was cut short") from None
    except (OSError, ValueError) as exc:
        raise Damaged(SUMS, f"unreadable ({exc})") from None
    sums = document.get("sha256") if isinstance(document, dict) and document.get("format") == SUMS_FORMAT else None
    if not isinstance(sums, dict) or set(sums) != set(FILES) or not all(
            isinstance(v, list) and v and all(isinstance(h, str) for h in v) for v in sums.values()):
        raise Damaged(SUMS, "not a checksum list of this generation's files")
    return sums


def _verify(target: Path, sums: dict[str, list[str]], name: str) -> str:
    """The file's digest, once it is known to be one its checksums allow."""
    try:
        digest = sha256_file(target / name)
    except FileNotFoundError:
        raise Damaged(name, "missing") from None
    except OSError as exc:
        raise Damaged(name, f"unreadable ({exc})") from None
    if digest not in sums[name]:
        raise Damaged(name, "checksum mismatch")
    return digest


def _read_live(target: Path) -> tuple[dict[str, np.ndarray], dict]:
    try:
        with np.load(target / "live.npz", allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {name: data[name].copy() for name in data.files if name != "header"}
    except UNREADABLE as exc:
        raise Damaged("live.npz", f"unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Damaged("live.npz", "not a live checkpoint")
    return arrays, header


def load_generation(target: Path, open_society: Callable[[Path], Any] | None = None) -> Checkpoint:
    """One generation, every file checked against its checksum first; raises Damaged."""
    sums = _read_sums(target)
    for name in FILES:
        _verify(target, sums, name)
    arrays, header = _read_live(target)
    society = None
    if open_society is not None:
        try:
            society = open_society(target / "society.npz")
        except UNREADABLE as exc:
            raise Damaged("society.npz", f"passes its checksum but does not load ({type(exc).__name__}: {exc})") from None
    return Checkpoint(target / "society.npz", arrays, header, society)


# -- saving and loading ----------------------------------------------------------------------------


def save_checkpoint(folder: Path, society: Any, arrays: dict[str, np.ndarray], header: dict, keep: int = 3) -> Path:
    """Write a new generation, make it current, then remove all but the ``keep`` newest."""
    from ..society import save_society

    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        finished = [n for n, path in generations(folder) if (path / SUMS).is_file()]
        generation = max(finished, default=-1) + 1
        target = folder / f"generation-{generation:08d}"
        if target.exists():
            shutil.rmtree(target)  # left by a run killed before it wrote this generation's checksums
        target.mkdir()
        fsync_folder(folder)
        save_society(society, target / "society.npz")
        write_atomic(target / "live.npz", _live_bytes(header, arrays))
        _write_sums(target, {name: [sha256_file(target / name)] for name in FILES})  # last: the generation is whole
        write_atomic(folder / POINTER, json.dumps({"generation": generation, "tick": header.get("tick")}).encode())
        _prune(folder, generation, keep)
    return target


def _prune(folder: Path, current: int, keep: int) -> None:
    """Keep the current generation and the ``keep - 1`` finished ones before it; anything else
    (older ones, saves cut short) goes. Called only once the new one is current."""
    older = [path for n, path in generations(folder) if n < current and (path / SUMS).is_file()]
    kept = {folder / f"generation-{current:08d}", *older[: keep - 1]}
    for _, path in generations(folder):
        if path not in kept:
            shutil.rmtree(path, ignore_errors=True)


def load_checkpoint(folder: Path, open_society: Callable[[Path], Any] | None = None) -> Checkpoint | None:
    """The newest usable generation, or None when the run has none yet (no folder, no
    generations, or only a first save cut short). Each damaged generation passed over is
    logged as a warning naming its file; when none is usable, CheckpointError says what to do."""
    found = generations(folder)
    hint = current_generation(folder)
    if hint is not None and all(n != hint for n, _ in found):
        log.warning("%s/%s names generation %d, which is missing; using the newest generation there is",
                    folder.name, POINTER, hint)
    if not found:
        if hint is not None:
            log.warning("%s: no generation folders at all; starting afresh", folder)
        return None
    damaged: list[str] = []
    unfinished = 0
    for number, target in found:
        try:
            saved = load_generation(target, open_society)
        except Damaged as exc:
            damaged.append(f"{folder.name}/{target.name}/{exc}")
            unfinished += not (target / SUMS).exists()
            continue
        for line in damaged:
            log.warning("%s; resuming from generation %d (tick %s)", line, number, saved.header.get("tick"))
        return saved
    if unfinished == len(found) and not (folder / POINTER).exists():
        log.warning("%s: only a first checkpoint cut short; starting afresh", folder)
        return None
    raise CheckpointError(f"no usable checkpoint in {folder} ({len(damaged)} damaged: {'; '.join(damaged)}); "
                          "move the folder aside to start afresh, or restore it from a backup")


# -- withdrawal ------------------------------------------------------------------------------------


def without_sources(header: dict, sources: set[str]) -> dict:
    """The header without the feed state and watched-file marks of these sources: all that a live
    checkpoint holds about a source (never texts or feelings)."""
    return header | {key: {k: v for k, v in header[key].items() if k not in sources}
                     for key in ("feeds", "watched") if isinstance(header.get(key), dict)}


def rewrite_header(target: Path, edit: Callable[[dict], dict]) -> bool:
    """Rewrite one generation's live.npz with ``edit(header)``, keeping it loadable at every
    moment: the checksums first allow the old and the new file, then the file is replaced, then
    only the new one is allowed. A kill anywhere leaves the generation old-and-valid or
    new-and-valid, never "damaged", so a load never falls back past it. Returns whether the
    header changed; raises Damaged when live.npz is not intact (then it cannot be trusted to be
    rewritten faithfully)."""
    sums = _read_sums(target)
    old = _verify(target, sums, "live.npz")
    arrays, header = _read_live(target)
    edited = edit(header)
    if edited == header:
        return False
    data = _live_bytes(edited, arrays)
    new = hashlib.sha256(data).hexdigest()
    _write_sums(target, sums | {"live.npz": [old, new]})
    write_atomic(target / "live.npz", data)
    _write_sums(target, sums | {"live.npz": [new]})
    return True


def scrub_sources(folder: Path, sources: set[str]) -> list[Path]:
    """Rewrite every generation without what it holds about these sources, newest first (so a
    restart after a kill mid-scrub reads a scrubbed one). A generation whose live.npz is damaged
    or which was cut short cannot be cleaned, is never resumed from, and may hold the sources'
    marks: it is removed. Returns the live.npz files rewritten."""
    if not folder.is_dir():
        return []
    rewritten = []
    with _locked(folder):
        for _, target in generations(folder):
            try:
                if rewrite_header(target, lambda header: without_sources(header, sources)):
                    rewritten.append(target / "live.npz")
            except Damaged as exc:
                log.warning("%s/%s/%s; removed, since it cannot be cleaned of withdrawn data",
                            folder.name, target.name, exc)
                shutil.rmtree(target)
    return rewritten
