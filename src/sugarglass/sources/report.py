"""What a reader skipped and why, so an ingest can say exactly what it left out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReadError

KEPT_PROBLEMS = 100
REPEATED_ID = "repeated id"
"""The ``left_out`` count of posts whose id an earlier post of the same file already had."""


@dataclass
class ReadReport:
    """Bad records (skipped under ``on_error = "skip"``) and records left out by rule.

    ``problems`` keeps the first hundred bad records for display; ``bad`` counts them all.
    ``left_out`` counts records dropped on purpose (not public, boosts, duplicates, empty,
    repeated ids); ``repeated_at`` keeps where the first hundred repeated ids were (``place``).
    ``member`` is the file inside an archive (a zip, a tar.gz) being read, named in every error
    and problem, since a line number alone would point into the wrong file.
    """

    path: Path | str
    on_error: str
    bad: int = 0
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)
    repeated_at: list[str] = field(default_factory=list)
    member: str | None = None

    def bad_record(self, line: int | None, reason: str) -> None:
        """Skip and count a bad record, or raise, as the source's ``on_error`` says."""
        if self.on_error != "skip":
            raise self.error(reason, line)
        self.bad += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append((line, reason) if self.member is None else (None, self._in_member(reason, line)))

    def error(self, reason: str, line: int | None = None) -> ReadError:
        """The error for a problem at ``line`` of the file (or of the archive member) being read."""
        if self.member is None:
            return ReadError(self.path, reason, line)
        return ReadError(self.path, self._in_member(reason, line))

    def place(self, line: int | None) -> str:
        """Where a record is, for a list of lines: ``12``, or ``data/tweets-part1.js:12``."""
        return str(line) if self.member is None else f"{self.member}:{line}"

    def repeated_id(self, line: int | None) -> None:
        """Count a post skipped because its id repeats an earlier post's (the first is kept)."""
        self.left_out[REPEATED_ID] += 1
        if len(self.repeated_at) < KEPT_PROBLEMS:
            self.repeated_at.append(self.place(line))

    def leave_out(self, why: str) -> None:
        self.left_out[why] += 1

    def _in_member(self, reason: str, line: int | None) -> str:
        return f"{self.member}" + (f", line {line}" if line is not None else "") + f": {reason}"
