"""The 2019 artwork's ``feelings.db``: a table of VADER scores whose texts were never kept."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..errors import ReadError
from ..records import Scores, ScoredPost
from ..work import Feelings2019Source
from .report import ReadReport

COLUMNS = ("ID", "COMPOUND", "COMPNORM", "POSITIVE", "NEGATIVE", "NEUTRAL")


def read_feelings_2019(source: Feelings2019Source, path: Path, report: ReadReport) -> Iterator[ScoredPost]:
    """Rows of ``FEELINGS`` in ID order, checked for range and for a COMPNORM that agrees."""
    if not path.is_file():
        raise ReadError(path, "no such file")
    with path.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise ReadError(path, "not an SQLite database")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        columns = {row[1].upper() for row in connection.execute("PRAGMA table_info(FEELINGS)")}
        if not columns:
            raise ReadError(path, "no FEELINGS table (is this the 2019 feelings.db?)")
        missing = [name for name in COLUMNS if name not in columns]
        if missing:
            raise ReadError(path, f"FEELINGS lacks the column(s) {', '.join(missing)}")
        rows = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM FEELINGS ORDER BY ID")
        count = 0
        for row_id, compound, compnorm, pos, neg, neu in rows:
            count += 1
            problem = _check(compound, compnorm, pos, neg, neu)
            if problem:
                report.bad_record(row_id, f"row ID {row_id}: {problem}")
                continue
            yield ScoredPost(str(row_id), Scores(compound, pos, neg, neu), None, source.id, row_id)
        if count == 0:
            raise ReadError(path, "FEELINGS has no rows")
    except sqlite3.DatabaseError as exc:
        raise ReadError(path, f"cannot read the database: {exc}") from None
    finally:
        connection.close()


def _check(compound: object, compnorm: object, *shares: object) -> str | None:
    values = (compound, compnorm, *shares)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return "a score is not a finite number"
    if not -1.0 <= compound <= 1.0:
        return f"COMPOUND {compound} is outside [-1, 1]"
    if not all(0.0 <= share <= 1.0 for share in (compnorm, *shares)):
        return "COMPNORM, POSITIVE, NEGATIVE and NEUTRAL must lie in [0, 1]"
    if abs(compnorm - (compound + 1.0) / 2.0) > 1e-6:
        return f"COMPNORM {compnorm} disagrees with COMPOUND {compound}"
    return None
