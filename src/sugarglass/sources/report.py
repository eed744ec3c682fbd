"""What a reader skipped and why, so an ingest can say exactly what it left out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReadError

KEPT_PROBLEMS = 100


@dataclass
class ReadReport:
    """Bad records (skipped under ``on_error = "skip"``) and records left out by rule.

    ``problems`` keeps the first hundred bad records for display; ``bad`` counts them all.
    ``left_out`` counts records dropped on purpose (not public, boosts, duplicates, empty).
    """

    path: Path | str
    on_error: str
    bad: int = 0
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)

    def bad_record(self, line: int | None, reason: str) -> None:
        """Skip and count a bad record, or raise, as the source's ``on_error`` says."""
        if self.on_error != "skip":
            raise ReadError(self.path, reason, line)
        self.bad += 1
        if len(self.problems) < KEPT_PROBLEMS:
            self.problems.append((line, reason))

    def leave_out(self, why: str) -> None:
        self.left_out[why] += 1
