"""The errors Sugarglass raises on purpose, each carrying where the problem is.

An artist reading an error in a gallery at midnight needs the file, the line or the key, and what
to do; so every error here formats those into its message rather than leaving them to a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SugarglassError(Exception):
    """Base of every error that is the input's fault, not the program's."""


class WorkFileError(SugarglassError):
    """The work file is missing, malformed, or names a value that cannot be used."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"work file {self.path}:\n{listed}")


class ConsentError(SugarglassError):
    """A source has no usable consent record: missing, incomplete, expired or withdrawn."""


class ReadError(SugarglassError):
    """A source file cannot be read; names the file and, where known, the line or record."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        self.path = path if isinstance(path, str) and "://" in path else Path(path)
        self.line = line
        self.reason = message
        where = f"{self.path}, line {line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


class StoreError(SugarglassError):
    """The store refuses an operation (an unknown source, a corrupt database)."""


class StoreBusy(StoreError):
    """Another writer held the store for longer than the wait allows: try again shortly."""


class CheckpointError(SugarglassError):
    """No checkpoint of a live run can be resumed from: every kept generation is damaged."""
