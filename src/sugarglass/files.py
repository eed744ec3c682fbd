"""Writing files so that a crash never leaves half of one under its real name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable, not only the renamed file's bytes."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _shared_mode() -> int:
    """0644 under the usual umask: outputs are for sharing, readable by others, not the private
    0600 ``mkstemp`` gives; a stricter umask the user set is still honoured."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


SHARED = _shared_mode()


def shared_path(path: Path, base: Path) -> str:
    """A path as an output may show it: relative to ``base`` (the work's folder), or only its
    name when it lies elsewhere; an absolute path names the machine's folders, often the user."""
    path, base = Path(path).resolve(), Path(base).resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name


def write_atomic(path: Path, data: bytes) -> Path:
    """Write to a temporary file in the same folder, fsync it, rename it over the target and
    fsync the folder: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, SHARED)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path
