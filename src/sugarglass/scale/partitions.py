"""Cutting an archive into partitions that workers can read on their own, and reading one.

JSON Lines: any line start is a record start (a newline inside a JSON string is always written
``\\n``), so the file is cut every ``rows`` lines by a byte scan. CSV/TSV: a quoted field may
hold newlines, and quote counting cannot tell where records start (a stray quote inside an
unquoted field is literal to Python's csv module, so one such quote would flip every later
guess). The client therefore runs the same csv parser over the file as the serial reader does,
only noting where each record starts; a worker then starts a fresh parser at such a start,
which is exactly the parser's own state there. This costs the client about 1.3 µs a row, streamed
while the workers score. Parquet: row groups (sliced when one is larger than ``rows``).

Every partition carries the line number it starts on, so a post keeps the line (and the store
the order) the serial reader gives it, and an error names the file and the line.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ReadError
from ..records import Post
from ..sources.report import ReadReport
from ..sources.tables import ID_NAMES, TEXT_NAMES, TIME_NAMES, _field, _post, pick_name
from ..sources.text import MAX_RECORD_BYTES, check_encoding
from ..work import JsonLinesSource, TableSource
from .parquet import ParquetSource, open_parquet, read_row_slice

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``start`` up to ``stop`` of a text file; the first of its lines is ``first_line``."""

    start: int
    stop: int
    first_line: int


@dataclass(frozen=True, slots=True)
class RowSlice:
    """``count`` rows from ``offset`` in one Parquet row group; its first is row ``first_row``."""

    row_group: int
    offset: int
    count: int
    first_row: int


@dataclass(frozen=True, slots=True)
class TableLayout:
    """What the header of a CSV/TSV says, so a worker never reads the header itself."""

    text: int
    id: int | None
    time: int | None
    width: int


Partition = ByteRange | RowSlice
ArchiveSource = TableSource | JsonLinesSource | ParquetSource
PARTITIONED = ("csv", "tsv", "jsonl", "parquet")


# -- lines of a byte range, decoded as the serial reader decodes them ---------------------------


def range_lines(path: Path, encoding: str, report: ReadReport, part: ByteRange) -> Iterator[tuple[int, int, str]]:
    """(line number, byte offset after the line, text) for each line of the range; a line that
    cannot be decoded is a bad record, as in ``sources.text.decoded_lines``."""
    check_encoding(path, encoding)
    decode = codecs.getdecoder(encoding)
    utf8 = encoding.replace("_", "-").lower().startswith("utf-8")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        handle.seek(part.start)
        at = part.start
        for number, raw in enumerate(handle, start=part.first_line):
            if at >= part.stop:
                return
            at += len(raw)
            if number == 1 and utf8 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            if len(raw) > MAX_RECORD_BYTES:
                report.bad_record(number, f"line is {len(raw):,} bytes long, over the {MAX_RECORD_BYTES:,}-byte limit for one post")
                continue
            if b"\x00" in raw:
                report.bad_record(number, "binary data (a NUL byte): is this the right file?")
                continue
            try:
                text, _ = decode(raw)
            except UnicodeDecodeError as exc:
                report.bad_record(
                    number,
                    f"not valid {encoding} (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "set the source's encoding if the file uses another",
                )
                continue
            yield number, at, text


def _whole(path: Path) -> ByteRange:
    return ByteRange(0, path.stat().st_size, 1)


# -- planning ---------------------------------------------------------------------------------


def plan_lines(path: Path, rows: int) -> Iterator[ByteRange]:
    """Every ``rows`` physical lines of a JSON Lines file, found with a byte scan."""
    size = path.stat().st_size
    start, first, line, offset = 0, 1, 1, 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            # the line after the newline at ends[k] is number line + k + 1
            cut = (first + rows - line - 1)
            while cut < len(ends):
                stop = offset + int(ends[cut]) + 1
                if stop < size:
                    yield ByteRange(start, stop, first)
                    start, first = stop, line + cut + 1
                cut += rows
            line += len(ends)
            offset += len(chunk)
    if start < size:
        yield ByteRange(start, size, first)


def _csv_rows(source: TableSource, path: Path, report: ReadReport, part: ByteRange, at: list[int]):
    """A csv reader over the range's decoded lines; ``at`` tracks [last line read, offset after it]."""

    def lines() -> Iterator[str]:
        for number, end, text in range_lines(path, source.encoding, report, part):
            at[0], at[1] = number, end
            yield text

    csv.field_size_limit(MAX_RECORD_BYTES)
    return csv.reader(lines(), delimiter="\t" if source.kind == "tsv" else ",", strict=True)


def table_layout(source: TableSource, path: Path, report: ReadReport) -> tuple[TableLayout, int, int]:
    """The header's columns, as the serial reader picks them, and the (line, offset) where the
    first record after it starts. Header problems are errors naming line 1; lines before the
    header that cannot be decoded are bad records of ``report``, as in the serial reader."""
    at = [0, 0]
    rows = _csv_rows(source, path, report, _whole(path), at)
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
    return layout, at[0] + 1, at[1]


def plan_table(source: TableSource, path: Path, rows: int, first_line: int, start: int) -> Iterator[ByteRange]:
    """Every ``rows`` records of a CSV/TSV after its header, cut where the parser starts a record."""
    at = [first_line - 1, start]
    size = path.stat().st_size
    reader = _csv_rows(source, path, ReadReport(path, "skip"), ByteRange(start, size, first_line), at)
    first, begin, records = first_line, start, 0
    while True:
        if records == rows:
            yield ByteRange(begin, at[1], first)
            first, begin, records = at[0] + 1, at[1], 0
        try:
            next(reader)
        except StopIteration:
            break
        except csv.Error:
            pass
        records += 1
    if begin < size:
        yield ByteRange(begin, size, first)


def plan_row_groups(path: Path, rows: int) -> Iterator[RowSlice]:
    """Each row group of a Parquet file, sliced into pieces of at most ``rows`` rows."""
    metadata = open_parquet(path).metadata
    first = 1
    for group in range(metadata.num_row_groups):
        size = metadata.row_group(group).num_rows
        for offset in range(0, size, rows):
            count = min(rows, size - offset)
            yield RowSlice(group, offset, count, first + offset)
        first += size


# -- reading one partition, as the serial readers read the whole file -------------------------


@dataclass
class Counts:
    """What a partition adds to the whole-file checks the serial readers make at their end."""

    rows: int = 0  # CSV rows after the header, blank ones not counted
    records: int = 0  # JSON Lines records, blank lines not counted


def read_partition(source: ArchiveSource, path: Path, part: Partition, layout: TableLayout | None,
                   report: ReadReport, counts: Counts) -> Iterator[Post]:
    """The posts of one partition, with the lines (or rows) the serial reader gives them."""
    if isinstance(part, RowSlice):
        assert isinstance(source, ParquetSource)
        counts.rows += part.count
        return read_row_slice(source, path, part.row_group, part.offset, part.count, part.first_row, report)
    if source.kind == "jsonl":
        return _jsonl_range(source, path, part, report, counts)
    assert layout is not None
    return _table_range(source, path, part, layout, report, counts)


def _table_range(source: TableSource, path: Path, part: ByteRange, layout: TableLayout, report: ReadReport,
                 counts: Counts) -> Iterator[Post]:
    at = [part.first_line - 1, part.start]
    rows = _csv_rows(source, path, report, part, at)
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


def _jsonl_range(source: JsonLinesSource, path: Path, part: ByteRange, report: ReadReport, counts: Counts) -> Iterator[Post]:
    for number, _, line in range_lines(path, source.encoding, report, part):
        if not line.strip():
            continue
        counts.records += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            report.bad_record(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
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
