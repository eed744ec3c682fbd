"""CSV, TSV and JSON Lines: one post a row, fields found by name."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ReadError
from ..records import Post
from ..work import JsonLinesSource, TableSource
from .jsondoc import scan, too_deep
from .report import ReadReport
from .text import MAX_RECORD_BYTES, decoded_lines, parse_time

TEXT_NAMES = ("text", "tweet")
ID_NAMES = ("id", "id_str")
TIME_NAMES = ("created_at", "timestamp", "time", "date", "published")


def pick_name(available: Iterable[str], chosen: str | None, defaults: tuple[str, ...], what: str, path: Path) -> str | None:
    """The column (or field) to use: the one the work file names, else a usual name, matched
    without regard to case. A named column that is absent is an error; a default is optional."""
    by_folded = {name.strip().casefold(): name for name in available}
    if chosen is not None:
        if chosen.casefold() not in by_folded:
            listed = ", ".join(sorted(by_folded.values())) or "none"
            raise ReadError(path, f"no {what} column {chosen!r} (the header has: {listed})", 1)
        return by_folded[chosen.casefold()]
    return next((by_folded[name] for name in defaults if name in by_folded), None)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` up to ``stop`` (None: the end) of a text file, whose first line is
    ``first_line``: the whole file for the serial readers, a partition for a Dask worker."""

    start: int
    stop: int | None
    first_line: int


@dataclass(frozen=True, slots=True)
class TableLayout:
    """What the header of a CSV/TSV says, so a reader of a later range needs no header."""

    text: int
    id: int | None
    time: int | None
    width: int


@dataclass
class Counts:
    """What the whole-file checks at the end of a read need: rows after a CSV header and JSON
    Lines records, blank ones not counted."""

    rows: int = 0
    records: int = 0


def csv_rows(source: TableSource, path: Path, report: ReadReport, part: ByteRange, at: list[int]) -> Iterator[list[str]]:
    """A csv reader over the range's decoded lines; ``at`` tracks [last line read, offset after
    it], so a quoted field over several lines is still placed by the line it starts on."""

    def lines() -> Iterator[str]:
        for number, end, text in decoded_lines(path, source.encoding, report, part.start, part.stop, part.first_line):
            at[0], at[1] = number, end
            yield text

    csv.field_size_limit(MAX_RECORD_BYTES)
    return csv.reader(lines(), delimiter="\t" if source.kind == "tsv" else ",", strict=True)


def table_layout(source: TableSource, path: Path, report: ReadReport) -> tuple[TableLayout, ByteRange]:
    """The header's columns and the range of the records after it. Header problems are errors
    naming line 1; undecodable lines before it are bad records of ``report``."""
    at = [0, 0]
    rows = csv_rows(source, path, report, ByteRange(0, None, 1), at)
    try:
        header = next(rows)
    except StopIteration:
        raise ReadError(path, "file is empty (a header row is needed)") from None
    except csv.Error as exc:
        raise ReadError(path, f"header row is malformed: {exc}", 1) from None
    if len(set(header)) != len(header):
        raise ReadError(path, "the header repeats a column name", 1)
    text_col = pick_name(header, source.text_column, TEXT_NAMES, "text", path)
    if text_col is None:
        raise ReadError(path, f"no text column: name one with text_column (the header has: {', '.join(header)})", 1)
    id_col = pick_name(header, source.id_column, ID_NAMES, "id", path)
    time_col = pick_name(header, source.time_column, TIME_NAMES, "time", path)
    index = {name: i for i, name in enumerate(header)}
    layout = TableLayout(index[text_col], index.get(id_col), index.get(time_col), len(header))
    return layout, ByteRange(at[1], None, at[0] + 1)


def table_posts(source: TableSource, path: Path, part: ByteRange, layout: TableLayout, report: ReadReport,
                counts: Counts) -> Iterator[Post]:
    """The rows of a range as posts; errors name the line a row starts on."""
    at = [part.first_line - 1, part.start]
    rows = csv_rows(source, path, report, part, at)
    while True:
        start = at[0] + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            report.bad_record(start, f"malformed row: {exc}")
            continue
        if not row or row == [""]:
            continue
        counts.rows += 1
        if len(row) != layout.width:
            report.bad_record(start, f"row has {len(row)} fields, the header has {layout.width}")
            continue
        post = _post(
            source.id, start,
            text=row[layout.text],
            post_id=row[layout.id] if layout.id is not None else None,
            time=row[layout.time] if layout.time is not None else None,
            report=report,
        )
        if post is not None:
            yield post


def jsonl_posts(source: JsonLinesSource, path: Path, part: ByteRange, report: ReadReport, counts: Counts) -> Iterator[Post]:
    """The records of a range as posts; blank lines are allowed."""
    for number, _, line in decoded_lines(path, source.encoding, report, part.start, part.stop, part.first_line):
        if not line.strip():
            continue
        counts.records += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            report.bad_record(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            report.bad_record(number, too_deep(scan(line, 0).depth))
            continue
        if not isinstance(record, dict):
            report.bad_record(number, f"expected a JSON object, found {type(record).__name__}")
            continue
        text_key = _field(record, source.text_field, TEXT_NAMES)
        if text_key is None:
            report.bad_record(number, f"no text field ({source.text_field or ' or '.join(TEXT_NAMES)})")
            continue
        time_key = _field(record, source.time_field, TIME_NAMES)
        if source.time_field and time_key is None:
            report.bad_record(number, f"no time field {source.time_field!r}")
            continue
        id_key = _field(record, source.id_field, ID_NAMES)
        post = _post(
            source.id, number,
            text=record[text_key],
            post_id=record.get(id_key) if id_key else None,
            time=record.get(time_key) if time_key else None,
            report=report,
        )
        if post is not None:
            yield post


def read_table(source: TableSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """Rows of a CSV or TSV with a header. A quoted field may span lines; errors name the
    line the row starts on."""
    layout, records = table_layout(source, path, report)
    counts = Counts()
    yield from table_posts(source, path, records, layout, report, counts)
    if counts.rows == 0:
        raise ReadError(path, "no rows after the header")


def read_jsonl(source: JsonLinesSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """One JSON object a line; blank lines are allowed."""
    counts = Counts()
    yield from jsonl_posts(source, path, ByteRange(0, None, 1), report, counts)
    if counts.records == 0 and report.bad == 0:
        raise ReadError(path, "file is empty")


def _field(record: dict, chosen: str | None, defaults: tuple[str, ...]) -> str | None:
    if chosen is not None:
        return chosen if chosen in record else None
    return next((name for name in defaults if name in record), None)


def _post(source_id: str, line: int, *, text: object, post_id: object, time: object, report: ReadReport) -> Post | None:
    if not isinstance(text, str):
        report.bad_record(line, f"text is {type(text).__name__}, not a string")
        return None
    if post_id is None or post_id == "":
        post_id = f"line-{line}"
    elif not isinstance(post_id, str | int):
        report.bad_record(line, f"id is {type(post_id).__name__}, not a string or number")
        return None
    created = None
    if time is not None and time != "":
        try:
            created = parse_time(time)
        except (ValueError, OverflowError, OSError) as exc:
            report.bad_record(line, f"bad time: {exc}")
            return None
    return Post(str(post_id), text, created, source_id, line)
