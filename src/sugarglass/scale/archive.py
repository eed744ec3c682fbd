"""Archive scoring: partitions of a large source cleaned and scored on Dask workers, written to
the store by the client in file order, so the store ends as a serial ``ingest_work`` leaves it.

The split of work follows what can run apart. A worker reads its partition, cleans each post,
tells its language and scores it (its analyzer is built once per worker process). Everything
that depends on the posts before it stays on the client, in order: the id and duplicate-text
rules of ``ingest.store_posts``, the counts, and the writes. The client asks the store, not a
set in memory, which ids and texts it already holds, so its memory stays flat however large the
archive (SQLite sees this ingest's own uncommitted rows). Each file is one transaction, as in
the serial path: a bad record under ``on_error = "fail"`` raises the serial path's error, naming
the file and line, and the file's rows are rolled back; under ``"skip"`` it is counted.
"""

from __future__ import annotations

import functools
import heapq
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..affect import Analyzers, LanguageGuesser, clean, make_analyzers
from ..errors import ReadError, SugarglassError
from ..ingest import IngestResult, check_consents, file_sha256, ingest_source, repeated, sources_to_read
from ..sources.report import KEPT_PROBLEMS, ReadReport
from ..store import NewPost, Store
from ..work import Source, Work
from .cluster import in_order, worker_threads
from .parquet import ParquetSource, chosen_columns, open_parquet
from ..sources.tables import Counts, TableLayout, table_layout
from .partitions import PARTITIONED, ArchiveSource, Partition, plan_lines, plan_row_groups, plan_table, read_partition

CACHE_KIB = 64 * 1024


@dataclass
class ScoredPartition:
    """A partition's posts, cleaned and scored, as columns; ``key`` None means empty after
    cleaning, ``scores`` None means not scored (a language the work has no analyzer for, and it
    skips those); ``analyzers`` names what scored each post.
    ``error`` is the (path, reason, line) of the bad record that stopped the read."""

    analyzer: tuple[str, str]
    report: ReadReport
    counts: Counts = field(default_factory=Counts)
    lines: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    created: list[float | None] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    texts: list[str | None] = field(default_factory=list)
    languages: list[str | None] = field(default_factory=list)
    non_english: list[bool] = field(default_factory=list)
    scores: list[tuple[float, ...] | None] = field(default_factory=list)
    analyzers: list[str | None] = field(default_factory=list)
    error: tuple[str, str, int | None] | None = None


Choice = tuple[tuple[tuple[str, str], ...], tuple[str, ...] | None]
"""The work's analyzer per language and the classifier's languages, as a task can carry them."""


def analyzer_choice(work: Work) -> Choice:
    among = tuple(work.analyzer.guess_among) if work.analyzer.guess_among else None
    return tuple(sorted(work.analyzer.languages.items())), among


@functools.cache
def _tools(choice: Choice) -> tuple[Analyzers, LanguageGuesser]:
    """One set of analyzers and language model per worker process, however many partitions it scores."""
    languages, among = choice
    return Analyzers(dict(languages)), LanguageGuesser(list(among) if among else None)


def score_partition(source: ArchiveSource, path: Path, part: Partition, layout: TableLayout | None, id_prefix: str,
                    keep_text: bool, skip_foreign: bool, choice: Choice) -> ScoredPartition:
    """The worker's task: read, clean, tell the language and score one partition.

    A ``ReadError`` is returned, not raised, with the posts read before it: Dask could not
    carry the exception back, and the client must first apply the rules to the earlier posts
    (one of them may be the serial path's first error)."""
    analyzers, guesser = _tools(choice)
    out = ScoredPartition((analyzers.name, analyzers.version), ReadReport(path, source.on_error))
    scored: dict[tuple[str, str], tuple[float, ...]] = {}  # a repeated text (a retweet) is scored once
    try:
        for post in read_partition(source, path, part, layout, out.report, out.counts):
            cleaned = clean(post.text, guesser, post.language)
            english = cleaned.is_english
            scores = None
            scorer = analyzers.for_language(cleaned.language) or (None if skip_foreign else analyzers.english)
            if cleaned.text and scorer is not None:
                scores = scored.get((scorer.name, cleaned.text))
                if scores is None:
                    s = scorer.score(cleaned.text)
                    scores = scored[scorer.name, cleaned.text] = (s.compound, s.compnorm, s.pos, s.neg, s.neu)
            out.lines.append(post.line)
            out.ids.append(id_prefix + post.id)
            out.created.append(post.created_at.timestamp() if post.created_at else None)
            out.keys.append(cleaned.key if cleaned.text else None)
            out.texts.append(cleaned.text if keep_text else None)
            out.languages.append(cleaned.language)
            out.non_english.append(not english)
            out.scores.append(scores)
            out.analyzers.append(scorer.name if scorer is not None else None)
    except ReadError as exc:
        out.error = (str(exc.path), exc.reason, exc.line)
    return out


def plan(source: ArchiveSource, path: Path, rows: int, report: ReadReport
         ) -> tuple[TableLayout | None, list[Partition] | Iterator[Partition]]:
    """The partitions of one file; what can be checked before any work (a CSV header, the
    Parquet columns) is checked here and raises the serial reader's error. Parquet and JSON
    Lines are planned at once (metadata, a byte scan); CSV lazily, while the workers score."""
    if source.kind == "parquet":
        chosen_columns(source, path, open_parquet(path).schema_arrow.names)
        return None, list(plan_row_groups(path, rows))
    if source.kind == "jsonl":
        return None, list(plan_lines(path, rows))
    layout, records = table_layout(source, path, report)
    return layout, plan_table(source, path, rows, records)


def ingest_archive(work: Work, store: Store, client: Any, *, partition_rows: int, progress: Any = None,
                   sources: list[Source | ParquetSource] | None = None) -> list[IngestResult]:
    """Every source of the work (or those given), after checking all their consents; CSV, TSV,
    JSON Lines and Parquet files in partitions on the cluster, the other kinds as ``ingest``
    reads them (they are single documents or feeds)."""
    chosen, skipped = (sources, {}) if sources else sources_to_read(work, store)
    check_consents(work, store, sources=chosen)
    analyzer = make_analyzers(work.analyzer)
    results: list[IngestResult] = []
    for source in sources or work.sources:
        if source.id in skipped:
            results.append(skipped[source.id])
            continue
        if source.kind not in PARTITIONED:
            results += ingest_source(work, source, store, analyzer, LanguageGuesser(work.analyzer.guess_among))
            continue
        store.check_not_withdrawn(source.id)
        source.consent.check_in_force(source.id)
        path = work.resolve(source.path)
        files = [(path, "")] if not path.is_dir() else [
            (p, f"{p.name}:") for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
        ]
        for file, prefix in files:
            results.append(ingest_archive_file(work, source, file, store, client, analyzer, id_prefix=prefix,
                                               partition_rows=partition_rows, progress=progress))
    return results


def ingest_archive_file(work: Work, source: ArchiveSource, path: Path, store: Store, client: Any, analyzer: Analyzers, *,
                        id_prefix: str = "", partition_rows: int, progress: Any = None) -> IngestResult:
    """One file, all or nothing, in partitions scored by the cluster and written here in order.

    The store's page cache is raised to 64 MiB for the file: the id and text indexes of a large
    archive outgrow SQLite's default 2 MiB, and every insert and lookup then goes to the disk
    cache; the client's memory stays bounded (and flat) either way."""
    previous = store.db.execute("PRAGMA cache_size").fetchone()[0]
    store.db.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
    try:
        return _ingest_file(work, source, path, store, client, analyzer, id_prefix, partition_rows, progress)
    finally:
        store.db.execute(f"PRAGMA cache_size = {int(previous)}")


def _ingest_file(work: Work, source: ArchiveSource, path: Path, store: Store, client: Any, analyzer: Analyzers,
                 id_prefix: str, partition_rows: int, progress: Any) -> IngestResult:
    digest = file_sha256(path)
    result = IngestResult(source.id, path, digest)
    report = ReadReport(path, source.on_error)
    skip_foreign = work.analyzer.non_english == "skip"
    with store.transaction():
        store.register(source.id, source.kind, str(source.path), source.consent)
        if store.already_ingested(source.id, digest, analyzer.name, analyzer.version):
            result.unchanged = True
            return result
        result.report = report
        result.ingest_id = ingest_id = store.begin_ingest(source.id, digest, analyzer.name, analyzer.version, analyzer.licence)
        layout, parts = plan(source, path, partition_rows, report)
        if progress:
            task = progress.add_task(f"{source.id}: {path.name} partitions", total=len(parts) if isinstance(parts, list) else None)
        keep_text = source.consent.keeps_text
        choice = analyzer_choice(work)
        tasks = ((source, path, part, layout, id_prefix, keep_text, skip_foreign, choice) for part in parts)
        counts = Counts()
        written = 0
        with closing(in_order(client, score_partition, tasks, window=2 * worker_threads(client) + 1)) as results:
            for scored in results:
                if scored.analyzer != (analyzer.name, analyzer.version):
                    raise SugarglassError(
                        f"a worker scores with {'/'.join(scored.analyzer)}, this client with {analyzer.name}/{analyzer.version}: "
                        "install the same versions of sugarglass and its analyzers on every worker"
                    )
                write_partition(store, source, ingest_id, scored, report, result, skip_foreign)
                counts.rows += scored.counts.rows
                counts.records += scored.counts.records
                written += 1
                if progress:
                    progress.update(task, completed=written)
        if progress:
            progress.update(task, total=written)
        if source.kind in ("csv", "tsv") and counts.rows == 0:
            raise ReadError(path, "no rows after the header")
        if source.kind == "parquet" and counts.rows == 0:
            raise ReadError(path, "no rows")
        if source.kind == "jsonl" and counts.records == 0 and report.bad == 0:
            raise ReadError(path, "file is empty")
        result.left_out = dict(report.left_out)
        store.finish_ingest(ingest_id, read=result.read, added=result.added, bad=report.bad, left_out=result.left_out)
    return result


def write_partition(store: Store, source: ArchiveSource, ingest_id: int, scored: ScoredPartition, report: ReadReport,
                    result: IngestResult, skip_foreign: bool) -> None:
    """The rules of ``ingest.store_posts`` applied to one partition, in order, and its new posts
    written; the ids and texts stored before are looked up in the store for this partition."""
    source_id = source.id
    stored_ids = {
        post_id: (seq if ingest else None)
        for post_id, seq, ingest in store.db.execute(
            "SELECT post_id, seq, ingest_id = ? FROM posts WHERE source_id = ? AND post_id IN (SELECT value FROM json_each(?))",
            (ingest_id, source_id, json.dumps(scored.ids)),
        )
    }
    known_keys = {
        key for (key,) in store.db.execute(
            "SELECT text_key FROM posts WHERE source_id = ? AND text_key IN (SELECT value FROM json_each(?))",
            (source_id, json.dumps([k for k in scored.keys if k is not None])),
        )
    }
    mine = ReadReport(report.path, report.on_error)
    lines_of_ids: dict[str, int] = {}
    batch: list[NewPost] = []
    for i, post_id in enumerate(scored.ids):
        result.read += 1
        if post_id in lines_of_ids or post_id in stored_ids:
            first = lines_of_ids.get(post_id) or stored_ids.get(post_id)
            if first is not None:
                repeated(source, post_id, scored.lines[i], first, mine)
            else:
                mine.leave_out("already stored")
            continue
        key = scored.keys[i]
        if key is None:
            mine.leave_out("empty after cleaning")
            continue
        if key in known_keys:
            mine.leave_out("duplicate text")
            continue
        if scored.scores[i] is None:
            mine.leave_out("no analyzer for its language" if "+" in scored.analyzer[0] else "not English")
            continue
        known_keys.add(key)
        lines_of_ids[post_id] = scored.lines[i]
        batch.append(NewPost(post_id, scored.lines[i], scored.created[i], key, scored.texts[i], scored.languages[i],
                             scored.non_english[i], scored.scores[i], scored.analyzers[i]))
    if batch:
        store.add_posts(source_id, ingest_id, batch)
        result.added += len(batch)
    _merge(report, scored.report, mine)
    if scored.error is not None:
        raise ReadError(*scored.error)


def _merge(report: ReadReport, *parts: ReadReport) -> None:
    """Add partition reports to the file's: counts summed, problems kept in line order."""
    room = KEPT_PROBLEMS - len(report.problems)
    report.problems += list(heapq.merge(*(p.problems for p in parts), key=lambda problem: problem[0] or 0))[:max(room, 0)]
    for part in parts:
        report.repeated_at += part.repeated_at[: max(KEPT_PROBLEMS - len(report.repeated_at), 0)]
        report.bad += part.bad
        report.left_out.update(part.left_out)


def ingest_parallel(work: Work, store: Store, *, scheduler: str | None = None, partition_rows: int | None = None,
                    progress: Any = None, sources: list[str] | None = None) -> list[IngestResult]:
    """Ingest every source of the work (or those named, as ``--source``), large files in
    partitions scored on the cluster; the store ends as ``ingest_work`` would leave it.
    ``progress``: a rich ``Progress``, one task per file counting its partitions."""
    from .cluster import open_client, scale_settings

    scale = scale_settings(work)
    chosen = [work.source(name) for name in sources] if sources else None
    check_consents(work, store, sources=sources_to_read(work, store, sources)[0])  # before connecting
    with open_client(scheduler or scale.scheduler, workers=scale.workers, timeout=scale.connect_timeout) as client:
        return ingest_archive(work, store, client, partition_rows=partition_rows or scale.partition_rows,
                              progress=progress, sources=chosen)
