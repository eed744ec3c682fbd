"""Readers: each turns one source of the work file into posts, and counts what it skipped.

A reader never decides whether a source may be read; ``ingest`` checks consent before calling
one. Readers stream where the format allows, so archives larger than memory still pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..records import Post, ScoredPost
from ..work import Source
from .archives import read_mastodon_outbox, read_tweets_js
from .bluesky import read_repo_car
from .feelings2019 import read_feelings_2019
from .report import ReadReport
from .tables import read_jsonl, read_table
from ..scale.parquet import read_parquet

READERS = {
    "csv": read_table,
    "tsv": read_table,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "twitter-archive": read_tweets_js,
    "mastodon-outbox": read_mastodon_outbox,
    "feelings-2019": read_feelings_2019,
    "bluesky-repo": read_repo_car,
}


def read_source(source: Source, path: Path, report: ReadReport) -> Iterator[Post | ScoredPost]:
    """The posts of one source file, as its kind is read."""
    return READERS[source.kind](source, path, report)


__all__ = ["READERS", "ReadReport", "read_source"]
