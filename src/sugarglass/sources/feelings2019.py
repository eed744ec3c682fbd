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
    """Rows of ``FEELINGS`` in ID order, checked for an integer ID, for range and for a
    COMPNORM that agrees. A bad row is named by its SQLite rowid, which every row has even
    when its ID is NULL or text (a table made by hand need not declare ID a key)."""
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
        row, named = _row_number(connection)
        rows = connection.execute(f"SELECT {row}, {', '.join(COLUMNS)} FROM FEELINGS ORDER BY ID, 1")
        count, previous = 0, None
        for rowid, row_id, *scores in rows:
            count += 1
            problem = _check_id(row_id, previous) or _check(*scores)
            if problem:
                report.bad_record(None, f"row ID {row_id}: {problem}" if _is_integer(row_id)
                                  else f"FEELINGS row {named.format(rowid)}: {problem}")
                continue
            previous = row_id
            compound, _, pos, neg, neu = scores
            yield ScoredPost(str(row_id), Scores(compound, pos, neg, neu), None, source.id, rowid)
        if count == 0:
            raise ReadError(path, "FEELINGS has no rows")
    except sqlite3.DatabaseError as exc:
        raise ReadError(path, f"cannot read the database: {exc}") from None
    finally:
        connection.close()


def _row_number(connection: sqlite3.Connection) -> tuple[str, str]:
    """What names a row: its rowid, or for a WITHOUT ROWID table its place in ID order."""
    try:
        connection.execute("SELECT _rowid_ FROM FEELINGS LIMIT 0")
        return "_rowid_", "with rowid {}"
    except sqlite3.OperationalError:
        return "ROW_NUMBER() OVER (ORDER BY ID)", "{} in ID order"


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    """A stored value as SQLite typed it, for a message: NULL, text 'x', real 2.5, a blob."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"a {len(value)}-byte blob"
    kind = {str: "text", float: "real"}.get(type(value), type(value).__name__)
    return f"{kind} {value!r}"


def _check_id(row_id: object, previous: int | None) -> str | None:
    """The ID must be an integer (the 2019 key) and, rows being in ID order, not the last one's."""
    if not _is_integer(row_id):
        return f"ID is {_describe(row_id)}, not an integer"
    if row_id == previous:
        return "ID repeats the row before it"
    return None


def _check(*values: object) -> str | None:
    for name, value in zip(COLUMNS[1:], values):
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return f"{name} is {_describe(value)}, not a finite number"
    compound, compnorm, *shares = values
    if not -1.0 <= compound <= 1.0:
        return f"COMPOUND {compound} is outside [-1, 1]"
    if not all(0.0 <= share <= 1.0 for share in (compnorm, *shares)):
        return "COMPNORM, POSITIVE, NEGATIVE and NEUTRAL must lie in [0, 1]"
    if abs(compnorm - (compound + 1.0) / 2.0) > 1e-6:
        return f"COMPNORM {compnorm} disagrees with COMPOUND {compound}"
    return None
