"""The embedded SQLite store: sources, their consent records, posts, feelings, withdrawals.

One file on disk in WAL mode, so a live run can read while an ingest writes. Text is stored only
for sources whose consent scope is ``keep-text``; ``secure_delete`` is on so that a withdrawal
overwrites the freed pages instead of leaving the withdrawn rows readable in the file.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .affect.cleaning import LEGACY_KEY, duplicate_key
from .consent import Consent
from .errors import ConsentError, StoreBusy, StoreError

SCHEMA_VERSION = 3
"""3: each post names the analyzer that scored it, accounts' signals are kept in a ledger;
2: duplicate keys hash the cleaned text exactly; 1 folded it for case (see ``_exact_keys``)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    withdrawn_at TEXT,
    withdrawal_reason TEXT
);
CREATE TABLE IF NOT EXISTS consents (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(id),
    record_sha256 TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    basis TEXT NOT NULL,
    scope TEXT NOT NULL,
    licence TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    evidence TEXT NOT NULL,
    expires TEXT,
    recorded_at TEXT NOT NULL,
    UNIQUE (source_id, record_sha256)
);
CREATE TABLE IF NOT EXISTS ingests (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(id),
    file_sha256 TEXT NOT NULL,
    analyzer TEXT NOT NULL,
    analyzer_version TEXT NOT NULL,
    analyzer_licence TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    read INTEGER NOT NULL,
    added INTEGER NOT NULL,
    bad INTEGER NOT NULL,
    left_out TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL REFERENCES sources(id),
    post_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at REAL,
    text_key TEXT,
    text TEXT,
    language TEXT,
    non_english INTEGER NOT NULL DEFAULT 0,
    ingest_id INTEGER NOT NULL REFERENCES ingests(id),
    analyzer TEXT,
    UNIQUE (source_id, post_id),
    UNIQUE (source_id, text_key)
);
CREATE TABLE IF NOT EXISTS feelings (
    post INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    compound REAL NOT NULL,
    compnorm REAL NOT NULL,
    pos REAL NOT NULL,
    neg REAL NOT NULL,
    neu REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS withdrawals (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL,
    withdrawn_at TEXT NOT NULL,
    posts_removed INTEGER NOT NULL,
    feelings_removed INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    receipt_sha256 TEXT PRIMARY KEY,
    post INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (
    id INTEGER PRIMARY KEY,
    folder TEXT NOT NULL,
    kind TEXT NOT NULL,
    manifest_sha256 TEXT,
    work TEXT NOT NULL,
    sources TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_signals (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    signals TEXT NOT NULL,
    refused TEXT
);
CREATE INDEX IF NOT EXISTS posts_by_time ON posts (created_at, source_id, seq);
CREATE INDEX IF NOT EXISTS posts_by_ingest ON posts (ingest_id);
"""

FEELING_FIELDS = ("compound", "compnorm", "pos", "neg", "neu")
WAIT_SECONDS = 30.0  # how long a write waits for another writer before it is StoreBusy


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def receipt_digest(receipt: str) -> str:
    return hashlib.sha256(receipt.strip().upper().encode()).hexdigest()


def consent_digest(consent: Consent) -> str:
    return hashlib.sha256(json.dumps(consent.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewPost:
    """A cleaned, scored post ready to be written; ``text`` is None unless scope keeps it."""

    post_id: str
    seq: int
    created_at: float | None
    text_key: str | None
    text: str | None
    language: str | None
    non_english: bool
    scores: tuple[float, float, float, float, float]
    analyzer: str | None = None


@dataclass(frozen=True, slots=True)
class Feelings:
    """Stored feelings in signal order, as arrays: times are Unix seconds (NaN when unknown)."""

    created_at: np.ndarray
    compound: np.ndarray
    compnorm: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    neu: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.compound)


VISITORS = "visitors"


@dataclass(frozen=True, slots=True)
class FreshFeelings:
    """What came into the store since a live run last looked: ``upto`` is the newest ingest id
    seen, ``feelings`` the new posts' scores by field, ``visitors`` a random mark (hex) for each
    visitor's message among them (where it ripples), ``sources`` how many came from each source."""

    upto: int
    feelings: dict[str, np.ndarray]
    visitors: list[str]
    sources: dict[str, int]

    def __len__(self) -> int:
        return len(self.feelings["compound"])


EXPORT_COLUMNS = ("source", "post_id", "created_at", "language", "non_english",
                  "compound", "compnorm", "pos", "neg", "neu", "analyzer")
"""The columns of every export of stored feelings (``sugarglass feelings export``, /admin/export)."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def iso_utc(created: float | None) -> str:
    """A post's time as `sugarglass feelings export` writes it: ISO 8601 in UTC with a `Z`
    (microseconds only when there are some); empty for a post without a time."""
    if created is None:
        return ""
    return datetime.fromtimestamp(created, timezone.utc).isoformat().replace("+00:00", "Z")


def spreadsheet_safe(row: Iterable[object]) -> list[object]:
    """An export row whose text cells a spreadsheet will not run as a formula (OWASP: a leading
    =, +, -, @, tab or carriage return gets a leading apostrophe). Post ids come from the
    sources, so they are anyone's to choose. Write it with CRLF row ends (RFC 4180), which also
    makes Python's writer quote a carriage return inside a cell."""
    return ["'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in row]


class Store:
    """A connection to one store file. Use as a context manager; writes go through
    ``transaction()`` so a failure leaves the file as it was."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=WAIT_SECONDS)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA secure_delete = ON")
            self.db.execute("PRAGMA synchronous = FULL")  # a commit survives a power cut, not only a kill
            self._migrate()
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise self._busy_error() from None
            raise StoreError(f"{self.path}: not a usable Sugarglass store ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable Sugarglass store ({exc})") from None

    def _migrate(self) -> None:
        """Create what is missing and bring a schema-1 store's duplicate keys to schema 2; a store
        that is current is only read, so opening one never waits for another writer (the live
        run's ingest, a visitor's message)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() if self._has_meta() else None
        if row is not None and int(row[0]) not in (1, 2, SCHEMA_VERSION):
            raise StoreError(f"{self.path}: store schema {row[0]}, this Sugarglass reads {SCHEMA_VERSION}")
        if row is not None and int(row[0]) == SCHEMA_VERSION and self._has_every_index():
            return
        self.db.executescript(SCHEMA)
        with self.transaction():
            found = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if found is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                return
            # read again inside the transaction: another process may have moved it on
            if int(found[0]) == 1:
                self._exact_keys()
            if int(found[0]) < 3:
                columns = {r[1] for r in self.db.execute("PRAGMA table_info(posts)")}
                if "analyzer" not in columns:  # older posts: the analyzer of their ingest scored them
                    self.db.execute("ALTER TABLE posts ADD COLUMN analyzer TEXT")
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))

    def _exact_keys(self) -> None:
        """Schema 1 to 2: a post's duplicate key was the hash of its text folded for case; now it
        is the hash of the text exactly. A post whose text is kept is keyed again from it; one
        whose text was never stored keeps its old key, marked ``folded:``, and ingest compares new
        posts with such keys the old way, so an old store never takes in a post twice. Every key
        is marked first, so that no new key meets an old one under the unique index."""
        self.db.execute("UPDATE posts SET text_key = ? || text_key WHERE text_key IS NOT NULL", (LEGACY_KEY,))
        rows = self.db.execute("SELECT id, text FROM posts WHERE text_key IS NOT NULL AND text IS NOT NULL").fetchall()
        self.db.executemany("UPDATE OR IGNORE posts SET text_key = ? WHERE id = ?",
                            [(duplicate_key(text), post) for post, text in rows])

    def _has_meta(self) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is not None

    def _has_every_index(self) -> bool:
        names = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        return set(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", SCHEMA)) <= names

    def _busy_error(self) -> StoreBusy:
        return StoreBusy(f"{self.path}: the store is busy with another writer; try again shortly")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: an exception inside rolls every write back. Waiting longer than the
        connection's timeout for another writer raises `StoreBusy`."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise self._busy_error() from None
            raise
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- sources and consent -------------------------------------------------------------

    def withdrawn_at(self, source_id: str) -> str | None:
        row = self.db.execute("SELECT withdrawn_at FROM sources WHERE id = ?", (source_id,)).fetchone()
        return row[0] if row else None

    def not_withdrawn(self, source_ids: Iterable[str]) -> list[str]:
        """The sources of ``source_ids`` that may still be used, in their order: a run made
        after a withdrawal neither reads nor names the withdrawn one."""
        return [source_id for source_id in source_ids if not self.withdrawn_at(source_id)]

    def check_not_withdrawn(self, source_id: str) -> None:
        when = self.withdrawn_at(source_id)
        if when:
            raise ConsentError(
                f"source {source_id!r} was withdrawn on {when}; it is not read again. "
                "Data given anew needs a new source id and a new consent record."
            )

    def register(self, source_id: str, kind: str, path: str, consent: Consent) -> None:
        """Record the source and its consent record (a changed record is kept beside the old).
        A scope narrowed to ``score`` removes any text stored under the earlier scope."""
        self.db.execute(
            "INSERT INTO sources (id, kind, path, registered_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, path = excluded.path",
            (source_id, kind, path, now()),
        )
        record = consent.model_dump(mode="json")
        self.db.execute(
            "INSERT OR IGNORE INTO consents (source_id, record_sha256, granted_by, basis, scope, licence,"
            " granted_at, evidence, expires, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (source_id, consent_digest(consent), record["granted_by"], record["basis"], record["scope"],
             record["licence"], record["granted_at"], record["evidence"], record["expires"], now()),
        )
        if not consent.keeps_text:
            self.db.execute("UPDATE posts SET text = NULL WHERE source_id = ? AND text IS NOT NULL", (source_id,))

    def consents(self) -> list[dict]:
        """Every source with its newest consent record, post count and withdrawal."""
        rows = self.db.execute(
            """
            SELECT s.id, s.kind, s.path, s.withdrawn_at, s.withdrawal_reason,
                   c.granted_by, c.basis, c.scope, c.licence, c.granted_at, c.evidence, c.expires,
                   c.recorded_at, (SELECT count(*) FROM posts p WHERE p.source_id = s.id)
            FROM sources s
            LEFT JOIN consents c ON c.id = (SELECT max(id) FROM consents WHERE source_id = s.id)
            ORDER BY s.id
            """
        )
        keys = ("source", "kind", "path", "withdrawn_at", "withdrawal_reason", "granted_by", "basis",
                "scope", "licence", "granted_at", "evidence", "expires", "recorded_at", "posts")
        return [dict(zip(keys, row)) for row in rows]

    def withdraw(self, source_id: str, reason: str = "") -> tuple[int, int]:
        """Delete a source's posts and feelings, mark it withdrawn, and log the withdrawal
        (how many rows, never what they said). Returns (posts, feelings) removed."""
        with self.transaction():
            if self.db.execute("SELECT 1 FROM sources WHERE id = ?", (source_id,)).fetchone() is None:
                raise StoreError(f"{self.path}: no source {source_id!r} in the store")
            self.check_not_withdrawn(source_id)
            feelings = self.db.execute(
                "SELECT count(*) FROM feelings WHERE post IN (SELECT id FROM posts WHERE source_id = ?)", (source_id,)
            ).fetchone()[0]
            posts = self.db.execute("DELETE FROM posts WHERE source_id = ?", (source_id,)).rowcount
            when = now()
            self.db.execute(
                "UPDATE sources SET withdrawn_at = ?, withdrawal_reason = ? WHERE id = ?", (when, reason, source_id)
            )
            self.db.execute(
                "INSERT INTO withdrawals (source_id, withdrawn_at, posts_removed, feelings_removed, reason) VALUES (?, ?, ?, ?, ?)",
                (source_id, when, posts, feelings, reason),
            )
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return posts, feelings

    def provenance(self, source_ids: Iterable[str]) -> list[dict]:
        """For a manifest: each source's newest consent record, the file and analyzer of its
        newest ingest, how many of its posts the store holds now, in which languages and scored
        by which analyzer, and (for an account) what it last said of being read."""
        summaries = []
        for source_id in source_ids:
            consent = self.db.execute(
                "SELECT granted_by, basis, scope, licence, granted_at, evidence, expires, record_sha256"
                " FROM consents WHERE source_id = ? ORDER BY id DESC LIMIT 1", (source_id,)
            ).fetchone()
            ingest = self.db.execute(
                "SELECT file_sha256, analyzer, analyzer_version, analyzer_licence, finished_at FROM ingests"
                " WHERE source_id = ? ORDER BY id DESC LIMIT 1", (source_id,)
            ).fetchone()
            kind_path = self.db.execute("SELECT kind, path FROM sources WHERE id = ?", (source_id,)).fetchone()
            posts = self.posts_held(source_id)
            account = self.account_signals(source_id)
            if ingest is None and account is not None and account["refused"]:  # asked, and said no: nothing read
                ingest = ("", "", "", "", account["checked_at"])
            if consent is None or ingest is None or kind_path is None:
                raise StoreError(f"{self.path}: source {source_id!r} has not been ingested")
            keys = ("granted_by", "basis", "scope", "licence", "granted_at", "evidence", "expires", "record_sha256")
            summary = {
                "id": source_id, "kind": kind_path[0], "path": kind_path[1], "file_sha256": ingest[0],
                "ingested_at": ingest[4], "posts": posts, "consent": dict(zip(keys, consent)),
                "analyzer": {"name": ingest[1], "version": ingest[2], "licence": ingest[3]} if ingest[1] else {},
                "languages": self.languages([source_id]),
            }
            if account is not None:
                summary["account"] = account
            summaries.append(summary)
        return summaries

    def posts_held(self, source_id: str) -> int:
        return int(self.db.execute("SELECT count(*) FROM posts WHERE source_id = ?", (source_id,)).fetchone()[0])

    def language_totals(self, source_ids: Iterable[str]) -> dict[str, int]:
        """How many posts of each language these sources hold (``?``: could not be told)."""
        return {language: sum(by.values()) for language, by in self.languages(source_ids).items()}

    def add_visitor_post(self, source_id: str, ingest_id: int, post: NewPost, receipt: str, scope: str, received_at: str) -> None:
        """A visitor's message with its own consent: the scope the visitor chose, and the hash
        of the receipt code that lets them withdraw it (the code itself is never stored)."""
        self.add_posts(source_id, ingest_id, [post])
        row = self.db.execute("SELECT id FROM posts WHERE source_id = ? AND post_id = ?", (source_id, post.post_id)).fetchone()
        self.db.execute(
            "INSERT INTO receipts (receipt_sha256, post, scope, received_at) VALUES (?, ?, ?, ?)",
            (receipt_digest(receipt), row[0], scope, received_at),
        )

    def withdraw_receipt(self, receipt: str) -> int:
        """Delete the message a receipt code was given for; returns how many posts went (1).
        The audit log keeps that a visitor's message was withdrawn, never which or what."""
        with self.transaction():
            row = self.db.execute(
                "SELECT r.post, p.source_id FROM receipts r JOIN posts p ON p.id = r.post WHERE r.receipt_sha256 = ?",
                (receipt_digest(receipt),),
            ).fetchone()
            if row is None:
                raise StoreError("no message is stored under that receipt code (already withdrawn, or mistyped?)")
            self.db.execute("DELETE FROM posts WHERE id = ?", (row[0],))
            self.db.execute(
                "INSERT INTO withdrawals (source_id, withdrawn_at, posts_removed, feelings_removed, reason) VALUES (?, ?, 1, 1, ?)",
                (row[1], now(), "a visitor withdrew their message by receipt"),
            )
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return 1

    def live_cursor(self, folder: Path) -> int | None:
        """The newest ingest a live run in ``folder`` has taken in, as of its last checkpoint (or
        its start): a run that must start afresh — killed before its first checkpoint, or its
        checkpoints lost — still takes in every visitor's words stored after it."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (f"live-cursor:{folder.resolve()}",)).fetchone()
        return None if row is None else int(row[0])

    def set_live_cursor(self, folder: Path, ingest: int) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            (f"live-cursor:{folder.resolve()}", str(ingest)))

    def source_cursor(self, source_id: str) -> str | None:
        """Where an account's next read starts (a status id, a record key, a Jetstream time), as
        the last ingest that stored its posts left it."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (f"source-cursor:{source_id}",)).fetchone()
        return None if row is None else row[0]

    def set_source_cursor(self, source_id: str, cursor: str) -> None:
        """Inside the transaction that stores the posts the cursor is past."""
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (f"source-cursor:{source_id}", cursor))

    def record_signals(self, source_id: str, signals: dict, refused: str | None) -> None:
        """Keep what an account says of being read (``indexable``, ``discoverable``, its labels)
        and whether it refused, in the consent ledger: a row each time it changes."""
        text = json.dumps(signals, sort_keys=True, default=str)
        last = self.db.execute("SELECT signals, refused FROM account_signals WHERE source_id = ? ORDER BY id DESC LIMIT 1",
                               (source_id,)).fetchone()
        if last != (text, refused):
            self.db.execute("INSERT INTO account_signals (source_id, checked_at, signals, refused) VALUES (?, ?, ?, ?)",
                            (source_id, now(), text, refused))

    def account_signals(self, source_id: str) -> dict | None:
        """The newest signals recorded for an account, with when and whether it refused."""
        row = self.db.execute("SELECT checked_at, signals, refused FROM account_signals WHERE source_id = ?"
                              " ORDER BY id DESC LIMIT 1", (source_id,)).fetchone()
        return None if row is None else {"checked_at": row[0], "signals": json.loads(row[1]), "refused": row[2]}

    def delete_posts(self, source_id: str, post_ids: Sequence[str], reason: str) -> int:
        """Delete posts their author deleted (a Jetstream ``delete``), logged like a withdrawal
        (how many, never which); returns how many the store held."""
        with self.transaction():
            removed = 0
            for post_id in post_ids:
                removed += self.db.execute("DELETE FROM posts WHERE source_id = ? AND post_id = ?", (source_id, post_id)).rowcount
            if removed:
                self.db.execute(
                    "INSERT INTO withdrawals (source_id, withdrawn_at, posts_removed, feelings_removed, reason) VALUES (?, ?, ?, ?, ?)",
                    (source_id, now(), removed, removed, reason))
        return removed

    def deleted_since(self, after: int) -> set[str]:
        """Sources that lost single posts (deleted by their authors) after withdrawal ``after``."""
        rows = self.db.execute(
            "SELECT DISTINCT w.source_id FROM withdrawals w JOIN sources s ON s.id = w.source_id"
            " WHERE w.id > ? AND s.withdrawn_at IS NULL AND w.source_id != ?", (after, VISITORS))
        return {row[0] for row in rows}

    def languages(self, sources: Iterable[str]) -> dict[str, dict[str, int]]:
        """For each language held (``?`` where it could not be told), how many posts each analyzer
        scored (``ingest`` for posts scored before posts named their analyzer)."""
        names = list(sources)
        rows = self.db.execute(
            "SELECT coalesce(p.language, '?'), coalesce(p.analyzer, i.analyzer), count(*) FROM posts p"
            f" JOIN ingests i ON i.id = p.ingest_id WHERE p.source_id IN ({', '.join('?' * len(names))})"
            " GROUP BY 1, 2 ORDER BY 1, 2", names)
        held: dict[str, dict[str, int]] = {}
        for language, analyzer, count in rows:
            held.setdefault(language, {})[analyzer] = count
        return held

    def has_receipt(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM receipts WHERE receipt_sha256 = ?", (digest,)).fetchone() is not None

    def last_ingest(self) -> int:
        """The newest ingest's id (0 for none). Ingest records are never deleted, so ids only grow
        and a live run can keep its place among them with one number."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchone()[0])

    def fresh_feelings(self, after: int, sources: Iterable[str]) -> FreshFeelings:
        """The feelings of every ingest after ``after`` from these sources, in store order, read
        from one snapshot together with the newest ingest id: what a live tick takes in, whoever
        stored it (the run itself, the visitor form, an ingest from the command line)."""
        names = list(sources)
        self.db.execute("BEGIN")
        try:
            last = self.last_ingest()
            rows = self.db.execute(
                "SELECT i.source_id, i.file_sha256, f.compound, f.compnorm, f.pos, f.neg, f.neu FROM ingests i"
                " JOIN posts p ON p.ingest_id = i.id JOIN feelings f ON f.post = p.id JOIN sources s ON s.id = i.source_id"
                f" WHERE i.id > ? AND i.id <= ? AND s.withdrawn_at IS NULL AND i.source_id IN ({', '.join('?' * len(names))})"
                " ORDER BY p.id",
                (after, last, *names),
            ).fetchall()
        finally:
            self.db.execute("COMMIT")
        columns = np.array([row[2:] for row in rows], dtype=np.float64).reshape(-1, len(FEELING_FIELDS))
        return FreshFeelings(
            last, {name: columns[:, i] for i, name in enumerate(FEELING_FIELDS)},
            [mark for source, mark, *_ in rows if source == VISITORS],
            dict(Counter(source for source, *_ in rows)),
        )

    def record_output(self, folder: Path, manifest: Path | None, work: str, sources: list[str], kind: str = "run") -> None:
        """Remember what a run (or a live run) wrote and from which sources, so that a later
        withdrawal can find and mark it."""
        from .provenance import sha256_file

        with self.transaction():
            self.db.execute(
                "INSERT INTO outputs (folder, kind, manifest_sha256, work, sources, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (str(folder.resolve()), kind, sha256_file(manifest) if manifest else None, work, json.dumps(sorted(sources)), now()),
            )

    def outputs_using(self, source_id: str) -> list[tuple[Path, str]]:
        """(folder, kind) of every recorded output made with this source."""
        rows = self.db.execute("SELECT DISTINCT folder, kind, sources FROM outputs ORDER BY id").fetchall()
        return [(Path(folder), kind) for folder, kind, sources in rows if source_id in json.loads(sources)]

    def last_withdrawal(self) -> int:
        """The newest withdrawal's id (0 for none): a live run compares it once a tick."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM withdrawals").fetchone()[0])

    def withdrawn_since(self, after: int) -> set[str]:
        """The sources withdrawn as a whole after withdrawal ``after`` (not single receipts)."""
        rows = self.db.execute(
            "SELECT w.source_id FROM withdrawals w JOIN sources s ON s.id = w.source_id"
            " WHERE w.id > ? AND s.withdrawn_at IS NOT NULL", (after,))
        return {row[0] for row in rows}

    def withdrawals(self) -> list[dict]:
        keys = ("source", "withdrawn_at", "posts_removed", "feelings_removed", "reason")
        rows = self.db.execute(
            "SELECT source_id, withdrawn_at, posts_removed, feelings_removed, reason FROM withdrawals ORDER BY id"
        )
        return [dict(zip(keys, row)) for row in rows]

    # -- ingest ----------------------------------------------------------------------------

    def already_ingested(self, source_id: str, content_sha256: str, analyzer: str, analyzer_version: str) -> bool:
        """Whether this exact content was ingested for the source by this analyzer before."""
        return self.db.execute(
            "SELECT 1 FROM ingests WHERE source_id = ? AND file_sha256 = ? AND analyzer = ? AND analyzer_version = ? LIMIT 1",
            (source_id, content_sha256, analyzer, analyzer_version),
        ).fetchone() is not None

    def known_posts(self, source_id: str) -> tuple[set[str], set[str]]:
        """The post ids and duplicate keys a source already has, to make re-ingest add nothing
        (keys marked ``folded:`` are a schema-1 store's, see ``_exact_keys``)."""
        ids: set[str] = set()
        keys: set[str] = set()
        for post_id, key in self.db.execute("SELECT post_id, text_key FROM posts WHERE source_id = ?", (source_id,)):
            ids.add(post_id)
            if key is not None:
                keys.add(key)
        return ids, keys

    def begin_ingest(self, source_id: str, file_sha256: str, analyzer: str, version: str, licence: str) -> int:
        """Open an ingest record inside the current transaction; its counts are set at the end."""
        cursor = self.db.execute(
            "INSERT INTO ingests (source_id, file_sha256, analyzer, analyzer_version, analyzer_licence, finished_at,"
            " read, added, bad, left_out) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, '{}')",
            (source_id, file_sha256, analyzer, version, licence, now()),
        )
        return int(cursor.lastrowid)

    def add_posts(self, source_id: str, ingest_id: int, posts: Sequence[NewPost]) -> None:
        """Write a batch of posts and their feelings, with row ids assigned here so that the
        two tables can be filled with one ``executemany`` each."""
        first = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM posts").fetchone()[0]
        self.db.executemany(
            "INSERT INTO posts (id, source_id, post_id, seq, created_at, text_key, text, language, non_english, ingest_id,"
            " analyzer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (first + i, source_id, p.post_id, p.seq, p.created_at, p.text_key, p.text, p.language, p.non_english, ingest_id,
                 p.analyzer)
                for i, p in enumerate(posts)
            ],
        )
        self.db.executemany(
            "INSERT INTO feelings (post, compound, compnorm, pos, neg, neu) VALUES (?, ?, ?, ?, ?, ?)",
            [(first + i, *p.scores) for i, p in enumerate(posts)],
        )

    def finish_ingest(self, ingest_id: int, *, read: int, added: int, bad: int, left_out: dict[str, int]) -> None:
        self.db.execute(
            "UPDATE ingests SET finished_at = ?, read = ?, added = ?, bad = ?, left_out = ? WHERE id = ?",
            (now(), read, added, bad, json.dumps(left_out, sort_keys=True), ingest_id),
        )

    # -- reading feelings --------------------------------------------------------------------

    def feelings(self, sources: Iterable[str] | None = None) -> Feelings:
        """Feelings in signal order: by time, then source and row; timeless posts after timed
        ones, in their sources' row order. Withdrawn sources have no rows left to return."""
        query = (
            "SELECT p.created_at, f.compound, f.compnorm, f.pos, f.neg, f.neu, p.source_id FROM posts p"
            " JOIN feelings f ON f.post = p.id"
        )
        params: list[str] = []
        if sources is not None:
            params = list(sources)
            query += f" WHERE p.source_id IN ({', '.join('?' * len(params))})"
        query += " ORDER BY p.created_at IS NULL, p.created_at, p.source_id, p.seq"
        rows = self.db.execute(query, params).fetchall()
        columns = list(zip(*rows)) if rows else [()] * 7
        return Feelings(
            created_at=np.array([np.nan if v is None else v for v in columns[0]], dtype=np.float64),
            compound=np.array(columns[1], dtype=np.float64),
            compnorm=np.array(columns[2], dtype=np.float64),
            pos=np.array(columns[3], dtype=np.float64),
            neg=np.array(columns[4], dtype=np.float64),
            neu=np.array(columns[5], dtype=np.float64),
            source=np.array(columns[6], dtype=object),
        )

    def export_rows(self, sources: Iterable[str] | None = None) -> Iterator[tuple]:
        """One row a post, as ``EXPORT_COLUMNS`` names them: source, post id, time, language, flag,
        every score, and the analyzer that gave it."""
        query = (
            "SELECT p.source_id, p.post_id, p.created_at, p.language, p.non_english, f.compound, f.compnorm,"
            " f.pos, f.neg, f.neu, coalesce(p.analyzer, i.analyzer) FROM posts p JOIN feelings f ON f.post = p.id"
            " JOIN ingests i ON i.id = p.ingest_id"
        )
        params: list[str] = []
        if sources is not None:
            params = list(sources)
            query += f" WHERE p.source_id IN ({', '.join('?' * len(params))})"
        query += " ORDER BY p.created_at IS NULL, p.created_at, p.source_id, p.seq"
        yield from self.db.execute(query, params)

    def counts(self) -> dict[str, dict[str, int]]:
        """Posts per source, and how many of them are flagged as not English."""
        rows = self.db.execute(
            "SELECT source_id, count(*), sum(non_english), sum(text IS NOT NULL) FROM posts GROUP BY source_id"
        )
        return {source: {"posts": n, "non_english": int(ne or 0), "with_text": int(wt or 0)} for source, n, ne, wt in rows}
