"""Parquet archives as a source: one post a row, read a row group at a time.

Columns are found by name as the CSV reader finds them (``text``/``tweet``, ``id``/``id_str``,
``created_at``/``timestamp``/...), or as the work file names them. A post's ``line`` is its row
number in the file, counted from 1, so errors and the store's order point at the row. Only the
chosen columns are read, a batch at a time, so an archive larger than memory still passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from ..errors import ReadError
from ..records import Post
from ..sources.report import ReadReport
from ..sources.tables import ID_NAMES, TEXT_NAMES, TIME_NAMES, _post, pick_name
from .config import ParquetSource

BATCH_ROWS = 10_000


def open_parquet(path: Path):
    """The file's metadata and reader; anything that is not Parquet is a ``ReadError``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise ReadError(path, "no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(path, f"not a readable Parquet file ({exc})") from None


def chosen_columns(source: ParquetSource, path: Path, names: list[str]) -> tuple[str, str | None, str | None]:
    """(text, id, time) column names, as the CSV reader picks them; no text column is an error."""
    text = pick_name(names, source.text_column, TEXT_NAMES, "text", path)
    if text is None:
        raise ReadError(path, f"no text column: name one with text_column (the file has: {', '.join(names)})")
    return text, pick_name(names, source.id_column, ID_NAMES, "id", path), pick_name(names, source.time_column, TIME_NAMES, "time", path)


def read_parquet(source: ParquetSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """Every row of the file as a post, streamed in batches (the ``parquet`` reader)."""
    import pyarrow as pa

    parquet = open_parquet(path)
    if parquet.metadata.num_rows == 0:
        raise ReadError(path, "no rows")
    columns = chosen_columns(source, path, parquet.schema_arrow.names)
    row = 1
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=_unique(columns)):
            yield from batch_posts(source, batch, columns, row, report)
            row += batch.num_rows
    except pa.ArrowException as exc:
        raise ReadError(path, f"damaged Parquet data after row {row - 1} ({exc})") from None


def read_row_slice(source: ParquetSource, path: Path, row_group: int, offset: int, count: int, first_row: int,
                   report: ReadReport) -> Iterator[Post]:
    """Rows ``offset .. offset + count`` of one row group (its first row is ``first_row`` of
    the file): one partition of an archive."""
    import pyarrow as pa

    parquet = open_parquet(path)
    columns = chosen_columns(source, path, parquet.schema_arrow.names)
    try:
        table = parquet.read_row_group(row_group, columns=_unique(columns)).slice(offset, count)
    except pa.ArrowException as exc:
        raise ReadError(path, f"damaged Parquet data in rows {first_row}..{first_row + count - 1} ({exc})") from None
    row = first_row
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        yield from batch_posts(source, batch, columns, row, report)
        row += batch.num_rows


def batch_posts(source: ParquetSource, batch, columns: tuple[str, str | None, str | None], first_row: int,
                report: ReadReport) -> Iterator[Post]:
    """Posts of one record batch; a bad value is a bad record of its row, as in a CSV."""
    text_col, id_col, time_col = columns
    texts = batch.column(text_col).to_pylist()
    ids = batch.column(id_col).to_pylist() if id_col else [None] * len(texts)
    times = batch.column(time_col).to_pylist() if time_col else [None] * len(texts)
    for i, (text, post_id, time) in enumerate(zip(texts, ids, times)):
        if isinstance(time, date):  # a Parquet timestamp or date: ISO text keeps every microsecond
            time = time.isoformat()
        post = _post(source.id, first_row + i, text=text, post_id=post_id, time=time, report=report)
        if post is not None:
            yield post


def _unique(columns: tuple[str | None, ...]) -> list[str]:
    return list(dict.fromkeys(c for c in columns if c is not None))
