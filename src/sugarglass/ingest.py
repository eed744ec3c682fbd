"""Ingest: consent checked, source read, posts cleaned, deduplicated, scored and stored.

Each source file is one transaction: it lands whole or not at all. A file that has not changed
since its last ingest with the same analyzer is not read again; a file that grew adds only the
posts the store does not have, so ingest can be run as often as the artist likes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .affect import Analyzers, LanguageGuesser, clean, make_analyzers
from .affect.cleaning import LEGACY_KEY, Cleaned, folded_key
from .errors import ReadError, SugarglassError
from .records import Post, ScoredPost
from .sources import ReadReport, read_source
from .consent import Consent
from .store import VISITORS, NewPost, Store, receipt_digest
from .sources.feeds import FeedFetch, fetch_feed
from .sources.social import AccountFetch
from .work import BlueskySource, FeedSource, MastodonSource, Source, Work

log = logging.getLogger("sugarglass.ingest")

BATCH = 2000


@dataclass
class IngestResult:
    """What one source's ingest did; ``unchanged`` means the file was not read again, and
    ``skipped`` (e.g. "withdrawn on 2026-11-02") that the source was not read at all."""

    source: str
    path: Path | str
    file_sha256: str
    read: int = 0
    added: int = 0
    unchanged: bool = False
    ingest_id: int | None = None
    report: ReadReport | None = None
    left_out: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def bad(self) -> int:
        return self.report.bad if self.report else 0

    @property
    def note(self) -> str | None:
        """The line to show for a source that was skipped, None for one that was read."""
        if self.skipped is None:
            return None
        return f"{self.source}: {self.skipped} — skipped; remove it from the work file to silence this"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise ReadError(path, "no such file") from None
    except OSError as exc:
        raise ReadError(path, f"cannot open: {exc.strerror or exc}") from None
    return digest.hexdigest()


def check_consents(work: Work, store: Store, today: date | None = None, sources: list[Source] | None = None) -> None:
    """Refuse the whole work (or the sources named) before anything is read if any of them may
    not be used."""
    for source in work.sources if sources is None else sources:
        store.check_not_withdrawn(source.id)
        source.consent.check_in_force(source.id, today)


def sources_to_read(work: Work, store: Store, names: list[str] | None = None) -> tuple[list[Source], dict[str, IngestResult]]:
    """The sources an ingest reads, and a note for each it leaves out. Of the whole work, a
    withdrawn source is left out with a note: the store has already deleted its data and refuses
    it for good, so nothing is gained by stopping every other source until the work file is
    edited. A source named on purpose (``--source``) is never left out quietly; a withdrawn one
    is then refused by ``check_consents``."""
    if names is not None:
        return [work.source(name) for name in names], {}
    chosen: list[Source] = []
    skipped: dict[str, IngestResult] = {}
    for source in work.sources:
        when = store.withdrawn_at(source.id)
        if when:
            skipped[source.id] = IngestResult(source.id, source.location, "", skipped=f"withdrawn on {when[:10]}")
        else:
            chosen.append(source)
    return chosen, skipped


def ingest_work(
    work: Work,
    store: Store,
    *,
    analyzer: Analyzers | None = None,
    sources: list[str] | None = None,
    on_post: Callable[[str], None] | None = None,
) -> list[IngestResult]:
    """Ingest every source of the work (or those named), after checking all their consents, in
    the work's order. A withdrawn source of the whole work gives a result with ``skipped`` set
    and is never read; named, it is refused. A consent not yet or no longer in force refuses
    the whole ingest: the source's stored feelings would still reach the signal if it were
    merely not read, and its dates are the artist's promise to its authors."""
    chosen, skipped = sources_to_read(work, store, sources)
    check_consents(work, store, sources=chosen)
    analyzer = analyzer or make_analyzers(work.analyzer)
    guesser = LanguageGuesser(work.analyzer.guess_among)
    results: list[IngestResult] = []
    for source in work.sources if sources is None else chosen:
        if source.id in skipped:
            results.append(skipped[source.id])
        else:
            results += ingest_source(work, source, store, analyzer, guesser, on_post)
    return results


def ingest_source(
    work: Work,
    source: Source,
    store: Store,
    analyzer: Analyzers,
    guesser: LanguageGuesser,
    on_post: Callable[[str], None] | None = None,
) -> list[IngestResult]:
    """One source, each of its files all or nothing. A source whose path is a folder reads
    every file in it (a watched inbox), its posts' ids prefixed by their file's name."""
    store.check_not_withdrawn(source.id)
    source.consent.check_in_force(source.id)
    if isinstance(source, FeedSource):
        report = ReadReport(source.url, source.on_error)
        return [ingest_feed(work, source, store, analyzer, guesser, fetch_feed(source, report), report)]
    if isinstance(source, MastodonSource | BlueskySource):
        return [read_and_ingest_account(work, source, store, analyzer, guesser)]
    path = work.resolve(source.path)
    if not path.is_dir():
        return [ingest_file(work, source, path, store, analyzer, guesser, on_post)]
    return [ingest_file(work, source, p, store, analyzer, guesser, on_post, id_prefix=f"{p.name}:") for p in source_files(path)]


def source_files(path: Path) -> list[Path]:
    """The files a source's path names: itself, or a folder's visible files in name order."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def ingest_file(
    work: Work,
    source: Source,
    path: Path,
    store: Store,
    analyzer: Analyzers,
    guesser: LanguageGuesser,
    on_post: Callable[[str], None] | None = None,
    id_prefix: str = "",
) -> IngestResult:
    digest = file_sha256(path)
    report = ReadReport(path, source.on_error)
    items = read_source(source, path, report)
    if id_prefix:
        items = (dataclasses.replace(item, id=id_prefix + item.id) for item in items)
    return store_posts(work, source, store, analyzer, guesser, digest, items, report, on_post)


def ingest_feed(work: Work, source: FeedSource, store: Store, analyzer: Analyzers, guesser: LanguageGuesser,
                fetched: FeedFetch, report: ReadReport) -> IngestResult:
    """Store what one fetch of a feed gave: the items its publisher has not opted out of
    (``report`` is the one the fetch counted its refusals in)."""
    return store_posts(work, source, store, analyzer, guesser, fetched.body_sha256 or "failed fetch", fetched.posts, report)


def read_and_ingest_account(work: Work, source: MastodonSource | BlueskySource, store: Store, analyzer: Analyzers,
                            guesser: LanguageGuesser) -> IngestResult:
    """Read a Mastodon or Bluesky account from where the last ingest stopped and store what is
    new. A rate limit is waited out (up to the source's ``max_rate_wait_seconds``); a failure
    raises, or under ``on_error = "skip"`` is counted and stores nothing."""
    import httpx

    from .sources.accounts import read_account

    report = ReadReport(source.location, source.on_error)
    with httpx.Client() as client:
        try:
            fetched = read_account(source, client, report, store.source_cursor(source.id), wait=True)
        except ReadError as exc:
            if source.on_error == "fail":
                raise
            report.bad_record(None, str(exc))
            return IngestResult(source.id, source.location, "", report=report)
    return ingest_account(work, source, store, analyzer, guesser, fetched, report)


def ingest_account(work: Work, source: MastodonSource | BlueskySource, store: Store, analyzer: Analyzers,
                   guesser: LanguageGuesser, fetched: AccountFetch, report: ReadReport) -> IngestResult:
    """Store one read of an account, and what the account said of being read, in the consent
    ledger. An account that refuses (its signal named in ``fetched.refused``) is not read; if the
    store holds its posts from before it said so, they are withdrawn, as if its author had
    asked: the refusal is theirs, the work only hears it late."""
    with store.transaction():
        store.register(source.id, source.kind, source.location, source.consent)
        store.record_signals(source.id, fetched.signals, fetched.refused)
    if fetched.refused:
        log.info("%s %s refused: %s", source.kind, source.location, fetched.refused)
        note = f"refused by {source.location}: {fetched.refused}"
        held = store.posts_held(source.id)
        if held:
            store.withdraw(source.id, reason=f"{source.location}: {fetched.refused}")
            note += f"; its {held} stored post{'s' * (held != 1)} withdrawn"
        return IngestResult(source.id, source.location, "", skipped=note)
    cursor = (source.id, fetched.cursor) if fetched.cursor else None
    return store_posts(work, source, store, analyzer, guesser, fetched.body_sha256, fetched.posts, report, cursor=cursor)


def store_posts(
    work: Work,
    source: Source,
    store: Store,
    analyzer: Analyzers,
    guesser: LanguageGuesser,
    content_sha256: str,
    items: Iterable[Post | ScoredPost],
    report: ReadReport,
    on_post: Callable[[str], None] | None = None,
    cursor: tuple[str, str] | None = None,
) -> IngestResult:
    """Clean, deduplicate, score and store posts of one source in one transaction.

    ``items`` may be a lazy reader: it is not touched when content with this hash was already
    ingested by this analyzer. Feeds and watched folders come through here as files do; an
    account's ``cursor`` (its name and where the next read starts) is kept in the same
    transaction as its posts, so a kill between them can neither skip posts nor take them twice."""
    result = IngestResult(source.id, report.path, content_sha256)
    keep_text = source.consent.keeps_text
    skip_foreign = work.analyzer.non_english == "skip"
    with store.transaction():
        store.check_not_withdrawn(source.id)  # a watched file or a feed withdrawn while a live run polls it
        store.register(source.id, source.kind, source.location, source.consent)
        if cursor is not None:
            store.set_source_cursor(*cursor)
        if store.already_ingested(source.id, content_sha256, analyzer.name, analyzer.version):
            result.unchanged = True
            return result
        result.report = report
        known_ids, known_keys = store.known_posts(source.id)
        legacy = any(key.startswith(LEGACY_KEY) for key in known_keys)
        ingest_id = store.begin_ingest(source.id, content_sha256, analyzer.name, analyzer.version, analyzer.licence)
        result.ingest_id = ingest_id
        batch: list[NewPost] = []
        lines_of_ids: dict[str, int | str] = {}  # the ids this file has stored, and where (a line, or member:line)
        for item in items:
            result.read += 1
            if on_post is not None:
                on_post(source.id)
            if item.id in known_ids:
                if item.id in lines_of_ids:
                    repeated(source, item.id, item.line, lines_of_ids[item.id], report)
                else:
                    report.leave_out("already stored")
                continue
            new = prepare_post(item, keep_text, guesser, analyzer, known_keys, report, skip_foreign, legacy)
            if new is None:
                continue
            known_ids.add(item.id)
            lines_of_ids[item.id] = item.line if report.member is None else report.place(item.line)
            batch.append(new)
            if len(batch) >= BATCH:
                store.add_posts(source.id, ingest_id, batch)
                result.added += len(batch)
                batch.clear()
        if batch:
            store.add_posts(source.id, ingest_id, batch)
            result.added += len(batch)
        result.left_out = dict(report.left_out)
        store.finish_ingest(ingest_id, read=result.read, added=result.added, bad=report.bad, left_out=result.left_out)
    return result


def repeated(source: Source, post_id: str, line: int | None, first: int | str, report: ReadReport) -> None:
    """A post whose id a post stored earlier from the same file had (at ``first``: its line, or
    its archive member and line): the same post exported twice, or an edit of it. Skipped and
    counted, the first kept, unless the source says ``on_repeated_id = "fail"``. (A source kind
    without the setting, a feed or Parquet, skips.)"""
    if getattr(source, "on_repeated_id", "skip") == "fail":
        where = f"line {first}" if isinstance(first, int) else first
        raise report.error(f"id {post_id!r} repeats the post on {where} (on_repeated_id = \"fail\")", line)
    report.repeated_id(line)


def is_duplicate(cleaned: Cleaned, known_keys: set[str], legacy: bool) -> bool:
    """Whether the source has this text already: the same cleaned text exactly, or, in a store
    keyed before keys stopped folding case (``legacy``), the same text folded as it was then."""
    return cleaned.key in known_keys or (legacy and folded_key(cleaned.text) in known_keys)


def prepare_post(
    item: Post | ScoredPost,
    keep_text: bool,
    guesser: LanguageGuesser,
    analyzer: Analyzers,
    known_keys: set[str],
    report: ReadReport,
    skip_foreign: bool,
    legacy: bool = False,
) -> NewPost | None:
    """Clean, deduplicate and score one post with the analyzer for its language (its declared
    language, else the guess); None when it is left out (and counted). A post in a language the
    work has no analyzer for is left out under ``skip_foreign``, else scored by English VADER
    and flagged, as in 2019."""
    created = item.created_at.timestamp() if item.created_at else None
    if isinstance(item, ScoredPost):
        s = item.scores
        return NewPost(item.id, item.line, created, None, None, None, False, (s.compound, s.compnorm, s.pos, s.neg, s.neu))
    cleaned = clean(item.text, guesser, item.language)
    if not cleaned.text:
        report.leave_out("empty after cleaning")
        return None
    if is_duplicate(cleaned, known_keys, legacy):
        report.leave_out("duplicate text")
        return None
    scorer = analyzer.for_language(cleaned.language)
    if scorer is None:
        if skip_foreign:
            report.leave_out("not English" if analyzer.languages == ["en"] else "no analyzer for its language")
            return None
        scorer = analyzer.english
    known_keys.add(cleaned.key)
    s = scorer.score(cleaned.text)
    return NewPost(
        item.id,
        item.line,
        created,
        cleaned.key,
        cleaned.text if keep_text else None,
        cleaned.language,
        not cleaned.is_english,
        (s.compound, s.compnorm, s.pos, s.neg, s.neu),
        scorer.name,
    )


RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a screen


def new_receipt() -> str:
    """A code a visitor can write down: 12 characters in groups of four, about 60 bits."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


class VisitorRefused(SugarglassError):
    """A visitor's message that cannot be taken in; the message says why, to the visitor."""


def visitor_consent(day: date) -> Consent:
    """The visitors' source record; each message's own scope is kept beside it (receipts)."""
    return Consent(
        granted_by="each visitor, for their own message, on the visitor form",
        basis="visitor",
        scope="keep-text",
        licence="the visitor's own consent on the form, for this work only; withdrawable by receipt code",
        granted_at=day,
        evidence="receipts table: the scope each visitor chose and the hash of their receipt code",
    )


def ingest_visitor(store: Store, analyzer: Analyzers, guesser: LanguageGuesser, text: str, scope: str,
                   received_at: datetime, skip_foreign: bool = False) -> str:
    """Store a visitor's message and return its receipt code: the code exists only once the
    message (its scores, and its words under ``keep-text``) is committed, so every receipt
    given out withdraws a stored post. Cleaned and scored like any post; two visitors may write
    the same words, so visitors' messages are never dropped as duplicates. Words that clean
    to nothing (markup, a bare link, an @name) are refused with the reason."""
    store.check_not_withdrawn(VISITORS)  # before the scoring; again inside the transaction below
    report = ReadReport(Path("visitor form"), "skip")
    post = Post("visitor", text, received_at, VISITORS, 0)
    new = prepare_post(post, scope == "keep-text", guesser, analyzer, set(), report, skip_foreign)
    if new is None:
        if "not English" in report.left_out or "no analyzer for its language" in report.left_out:
            languages = analyzer.describe_languages()
            raise VisitorRefused(f"this work reads words in {languages} only; please write your message in "
                                 + ("English" if languages == "English" else "one of them"))
        raise VisitorRefused("your message has no words left once links, @names and markup are taken out; "
                             "please write a few words of your own")
    for _ in range(4):
        receipt = new_receipt()
        digest = receipt_digest(receipt)
        with store.transaction():
            store.check_not_withdrawn(VISITORS)  # closed while this message was being scored
            if store.has_receipt(digest):
                continue  # about one chance in 10^18; a fresh code is drawn
            store.register(VISITORS, "visitor-form", "visitor form", visitor_consent(received_at.date()))
            # the ingest record outlives a withdrawal, so it holds a random mark, never the receipt's hash
            ingest_id = store.begin_ingest(VISITORS, secrets.token_hex(32), analyzer.name, analyzer.version, analyzer.licence)
            stored = dataclasses.replace(new, post_id=digest[:20], text_key=None)
            store.add_visitor_post(VISITORS, ingest_id, stored, receipt, scope, received_at.isoformat(timespec="seconds"))
            store.finish_ingest(ingest_id, read=1, added=1, bad=0, left_out={})
        return receipt
    raise RuntimeError("four receipt codes in a row were taken: the random source is broken")
