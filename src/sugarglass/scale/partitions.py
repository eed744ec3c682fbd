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

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..records import Post
from ..sources.report import ReadReport
from ..sources.tables import ByteRange, Counts, TableLayout, csv_rows, jsonl_posts, table_posts
from ..work import JsonLinesSource, TableSource
from .parquet import ParquetSource, open_parquet, read_row_slice

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class RowSlice:
    """``count`` rows from ``offset`` in one Parquet row group; its first is row ``first_row``."""

    row_group: int
    offset: int
    count: int
    first_row: int


Partition = ByteRange | RowSlice
ArchiveSource = TableSource | JsonLinesSource | ParquetSource
PARTITIONED = ("csv", "tsv", "jsonl", "parquet")


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


def plan_table(source: TableSource, path: Path, rows: int, records: ByteRange) -> Iterator[ByteRange]:
    """Every ``rows`` records of a CSV/TSV after its header (``records``, from ``table_layout``),
    cut where the parser starts a record."""
    start, first_line = records.start, records.first_line
    at = [first_line - 1, start]
    size = path.stat().st_size
    reader = csv_rows(source, path, ReadReport(path, "skip"), ByteRange(start, size, first_line), at)
    first, begin, records_seen = first_line, start, 0
    while True:
        if records_seen == rows:
            yield ByteRange(begin, at[1], first)
            first, begin, records_seen = at[0] + 1, at[1], 0
        try:
            next(reader)
        except StopIteration:
            break
        except csv.Error:
            pass
        records_seen += 1
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


def read_partition(source: ArchiveSource, path: Path, part: Partition, layout: TableLayout | None,
                   report: ReadReport, counts: Counts) -> Iterator[Post]:
    """The posts of one partition, with the lines (or rows) the serial reader gives them."""
    if isinstance(part, RowSlice):
        assert isinstance(source, ParquetSource)
        counts.rows += part.count
        return read_row_slice(source, path, part.row_group, part.offset, part.count, part.first_row, report)
    if source.kind == "jsonl":
        return jsonl_posts(source, path, part, report, counts)
    assert layout is not None
    return table_posts(source, path, part, layout, report, counts)
