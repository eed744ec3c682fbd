"""Ingest into the SQLite store on disk: idempotent, atomic per file, consent-bound."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from support import consent, source
from sugarglass.errors import ConsentError, ReadError, StoreError
from sugarglass.ingest import ingest_work
from sugarglass.store import Store
from sugarglass.work import load_work

SECRET = "Zanzibar-lilac-7734 is our secret meeting phrase"


def rows(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("posts", "feelings", "ingests", "consents")}
    finally:
        db.close()


def write_csv(path: Path, texts: list[str], start: int = 1) -> None:
    lines = ["id,created_at,text"] + [
        f'{start + i},2026-03-{1 + (start + i) % 28:02d}T10:00:00Z,"{t}"' for i, t in enumerate(texts)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


TEXTS = ["We won today!!", "So tired :(", "We  won   today!!", "we won TODAY!!", "Hoy marchamos por el agua y la vida"]


@pytest.fixture
def work(make_work, tmp_path):
    write_csv(tmp_path / "a.csv", TEXTS)
    return load_work(make_work(source("a", "csv", "a.csv")))


def test_ingest_cleans_dedupes_scores_and_flags(work, tmp_path):
    """Only the same words with other spacing are one post: VADER scores capitals apart."""
    with Store(tmp_path / "s.sqlite") as store:
        [result] = ingest_work(work, store)
        assert (result.read, result.added, result.left_out) == (5, 4, {"duplicate text": 1})
        texts = store.db.execute("SELECT text, language, non_english FROM posts ORDER BY seq").fetchall()
    assert texts == [("We won today!!", "en", 0), ("So tired :(", "en", 0), ("we won TODAY!!", "en", 0),
                     ("Hoy marchamos por el agua y la vida", "es", 1)]
    assert store.db is not None and (tmp_path / "s.sqlite").is_file()


def test_store_is_wal_on_disk(work, tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_ingest_is_idempotent_and_adds_only_new_rows(work, tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        ingest_work(work, store)
        before = rows(store.path)
        [again] = ingest_work(work, store)
        assert again.unchanged and rows(store.path) == before
        write_csv(tmp_path / "a.csv", [*TEXTS, "New day, new hope"])
        [grown] = ingest_work(work, store)
        assert grown.added == 1 and grown.left_out == {"already stored": 4, "duplicate text": 1}
        assert rows(store.path)["posts"] == before["posts"] + 1


def test_a_file_that_fails_halfway_leaves_the_store_as_it_was(make_work, tmp_path):
    write_csv(tmp_path / "good.csv", ["first good post", "second good post"])
    texts = [f"post number {i} is fine" for i in range(5000)]
    write_csv(tmp_path / "bad.csv", texts)
    with (tmp_path / "bad.csv").open("ab") as handle:
        handle.write(b'9999,2026-03-01T10:00:00Z,"caf\xe9 broken"\n')
    work = load_work(make_work(source("good", "csv", "good.csv"), source("bad", "csv", "bad.csv")))
    with Store(tmp_path / "s.sqlite") as store:
        ingest_work(work, store, sources=["good"])
        before = rows(store.path)
        with pytest.raises(ReadError, match=r"bad\.csv, line 5002"):
            ingest_work(work, store, sources=["bad"])
        assert rows(store.path) == before
        assert store.db.execute("SELECT count(*) FROM sources WHERE id = 'bad'").fetchone()[0] == 0


def test_skip_mode_stores_the_good_rows_and_counts_the_bad(make_work, tmp_path):
    (tmp_path / "a.csv").write_bytes(b'text\nfine one\ncaf\xe9\n"fine two"\n')
    work = load_work(make_work(source("a", "csv", "a.csv", on_error="skip")))
    with Store(tmp_path / "s.sqlite") as store:
        [result] = ingest_work(work, store)
        assert (result.added, result.bad) == (2, 1)
        assert store.db.execute("SELECT bad FROM ingests").fetchone()[0] == 1


def test_score_scope_keeps_no_text_on_disk(make_work, tmp_path):
    write_csv(tmp_path / "a.csv", [SECRET, "another quiet post"])
    work = load_work(make_work(source("a", "csv", "a.csv", scope="score")))
    store_path = tmp_path / "s.sqlite"
    with Store(store_path) as store:
        ingest_work(work, store)
        assert store.db.execute("SELECT count(*) FROM posts WHERE text IS NOT NULL").fetchone()[0] == 0
        assert store.db.execute("SELECT count(*) FROM feelings").fetchone()[0] == 2
    for file in tmp_path.glob("s.sqlite*"):
        assert b"Zanzibar" not in file.read_bytes()


def test_narrowing_scope_to_score_removes_stored_text(make_work, tmp_path):
    write_csv(tmp_path / "a.csv", [SECRET])
    with Store(tmp_path / "s.sqlite") as store:
        ingest_work(load_work(make_work(source("a", "csv", "a.csv"))), store)
        assert store.db.execute("SELECT text FROM posts").fetchone()[0] == SECRET
        narrowed = {"id": "a", "kind": "csv", "path": "a.csv", "consent": consent("score", evidence="narrowed by email")}
        ingest_work(load_work(make_work(narrowed)), store)
        assert store.db.execute("SELECT text FROM posts").fetchone()[0] is None
        assert store.db.execute("SELECT count(*) FROM consents WHERE source_id = 'a'").fetchone()[0] == 2


def test_withdrawal_deletes_everything_of_the_source_and_refuses_it_later(make_work, tmp_path):
    write_csv(tmp_path / "a.csv", [SECRET, "second post of a"])
    write_csv(tmp_path / "b.csv", ["a post of b"], start=50)
    work = load_work(make_work(source("a", "csv", "a.csv"), source("b", "csv", "b.csv")))
    store_path = tmp_path / "s.sqlite"
    with Store(store_path) as store:
        ingest_work(work, store)
        assert store.withdraw("a", reason="asked by email") == (2, 2)
        assert store.db.execute("SELECT count(*) FROM posts WHERE source_id = 'a'").fetchone()[0] == 0
        assert store.db.execute("SELECT count(*) FROM feelings").fetchone()[0] == 1
        [log] = store.withdrawals()
        assert (log["source"], log["posts_removed"], log["feelings_removed"], log["reason"]) == ("a", 2, 2, "asked by email")
        with pytest.raises(ConsentError, match="'a' was withdrawn"):
            ingest_work(work, store, sources=["a"])
        with pytest.raises(ConsentError, match="withdrawn"):
            store.withdraw("a")
        with pytest.raises(StoreError, match="no source 'zz'"):
            store.withdraw("zz")
        assert len(store.feelings()) == 1
    for file in tmp_path.glob("s.sqlite*"):
        assert b"Zanzibar" not in file.read_bytes(), f"withdrawn text still readable in {file.name}"


def test_a_withdrawn_source_is_skipped_with_a_note_and_the_others_go_on(make_work, tmp_path):
    write_csv(tmp_path / "a.csv", ["a post of a"])
    write_csv(tmp_path / "b.csv", ["a post of b"], start=50)
    work = load_work(make_work(source("a", "csv", "a.csv"), source("b", "csv", "b.csv")))
    with Store(tmp_path / "s.sqlite") as store:
        ingest_work(work, store)
        store.withdraw("a", reason="asked by email")
        (tmp_path / "a.csv").write_bytes(b"\x00\x01 never read again")
        write_csv(tmp_path / "b.csv", ["a post of b", "another post of b"], start=50)
        skipped, grown = ingest_work(work, store)
        today = store.withdrawn_at("a")[:10]
        assert (skipped.source, skipped.skipped, skipped.read, skipped.report) == ("a", f"withdrawn on {today}", 0, None)
        assert skipped.note == f"a: withdrawn on {today} — skipped; remove it from the work file to silence this"
        assert (grown.source, grown.added, grown.skipped, grown.note) == ("b", 1, None, None)
        write_csv(tmp_path / "b.csv", ["a post of b", "another post of b", "a third"], start=50)
        [only_b] = ingest_work(work, store, sources=["b"])
        assert only_b.added == 1
        with pytest.raises(ConsentError, match="'a' was withdrawn on .*; it is not read again"):
            ingest_work(work, store, sources=["a"])
        assert store.counts() == {"b": {"posts": 3, "non_english": 0, "with_text": 3}}


def test_a_consent_out_of_force_still_stops_the_whole_work_but_not_another_source(make_work, tmp_path):
    """Not reading an expired source would still leave its stored feelings in the signal."""
    write_csv(tmp_path / "a.csv", ["a post of a"])
    write_csv(tmp_path / "b.csv", ["a post of b"], start=50)
    expired = {"id": "a", "kind": "csv", "path": "a.csv", "consent": consent(expires=date(2026, 2, 1))}
    work = load_work(make_work(expired, source("b", "csv", "b.csv")))
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ConsentError, match="'a': consent expired on 2026-02-01"):
            ingest_work(work, store)
        assert rows(store.path)["posts"] == 0
        [result] = ingest_work(work, store, sources=["b"])
        assert result.added == 1


def test_a_repeated_id_is_skipped_and_counted_the_first_kept(make_work, tmp_path):
    (tmp_path / "a.csv").write_text("id,text\n1,first words\n2,second\n1,first words edited\n3,third\n2,second again\n",
                                    encoding="utf-8")
    work = load_work(make_work(source("a", "csv", "a.csv")))
    with Store(tmp_path / "s.sqlite") as store:
        [result] = ingest_work(work, store)
        assert (result.read, result.added, result.bad, result.left_out) == (5, 3, 0, {"repeated id": 2})
        assert result.report.repeated_at == ["4", "6"]
        assert store.db.execute("SELECT text FROM posts WHERE post_id = '1'").fetchone() == ("first words",)
        assert store.db.execute("SELECT left_out FROM ingests").fetchone() == ('{"repeated id": 2}',)
        with (tmp_path / "a.csv").open("a", encoding="utf-8") as handle:
            handle.write("4,fourth\n")
        [grown] = ingest_work(work, store)
        assert (grown.added, grown.left_out) == (1, {"already stored": 5})  # ids stored before: their repeats too


def test_an_id_repeats_only_a_post_that_was_stored(make_work, tmp_path):
    """The first post under an id that was left out (empty, a duplicate) keeps nothing, so the
    next post under that id is read as new (the Dask ingest remembers stored ids only)."""
    (tmp_path / "a.csv").write_text("id,text\n1,@only_a_handle\n1,words under the same id\n", encoding="utf-8")
    with Store(tmp_path / "s.sqlite") as store:
        [result] = ingest_work(load_work(make_work(source("a", "csv", "a.csv"))), store)
    assert (result.added, result.left_out) == (1, {"empty after cleaning": 1})


def test_on_repeated_id_fail_makes_a_repeat_an_error_naming_both_lines(make_work, tmp_path):
    (tmp_path / "a.csv").write_text("id,text\n1,first\n2,second\n1,again\n", encoding="utf-8")
    work = load_work(make_work(source("a", "csv", "a.csv", on_error="skip", on_repeated_id="fail")))
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ReadError, match=r"a\.csv, line 4: id '1' repeats the post on line 2"):
            ingest_work(work, store)
        assert rows(store.path)["posts"] == 0


def _schema_1(store_path: Path, texts: dict[str, str]) -> None:
    """Turn a store into one as schema 1 left it: every key the hash of the text folded."""
    import hashlib
    import unicodedata

    db = sqlite3.connect(store_path)
    for post_id, text in texts.items():
        folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
        key = hashlib.blake2b(folded.encode(), digest_size=16).hexdigest()
        db.execute("UPDATE posts SET text_key = ? WHERE post_id = ?", (key, post_id))
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    db.commit()
    db.close()


def test_a_schema_1_store_is_keyed_again_and_takes_no_old_post_twice(make_work, tmp_path):
    from sugarglass.affect import duplicate_key

    write_csv(tmp_path / "kept.csv", ["STUPID rain"])
    write_csv(tmp_path / "scored.csv", ["Quiet day"], start=50)
    work = load_work(make_work(source("kept", "csv", "kept.csv"), source("scored", "csv", "scored.csv", scope="score")))
    with Store(tmp_path / "s.sqlite") as store:
        ingest_work(work, store)
    _schema_1(tmp_path / "s.sqlite", {"1": "STUPID rain", "50": "Quiet day"})
    with Store(tmp_path / "s.sqlite") as store:
        assert store.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)
        keys = dict(store.db.execute("SELECT source_id, text_key FROM posts"))
        assert keys["kept"] == duplicate_key("STUPID rain") and keys["scored"].startswith("folded:")
        write_csv(tmp_path / "kept.csv", ["STUPID rain", "stupid rain"])
        write_csv(tmp_path / "scored.csv", ["Quiet day", "quiet  DAY"], start=50)
        kept, scored = ingest_work(work, store)
    assert (kept.added, kept.left_out) == (1, {"already stored": 1})  # the text is kept: keyed exactly again
    assert (scored.added, scored.left_out) == (0, {"already stored": 1, "duplicate text": 1})  # no text: the old rule


def test_a_damaged_store_file_is_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable Sugarglass store"):
        Store(path)


def _feelings_db_with_a_bad_row(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE FEELINGS(ID INTEGER PRIMARY KEY, COMPOUND REAL, COMPNORM REAL, POSITIVE REAL, NEGATIVE REAL, NEUTRAL REAL)")
    db.executemany("INSERT INTO FEELINGS VALUES (?,?,?,?,?,?)", [(i, 0.2, 0.6, 0.3, 0.1, 0.6) for i in range(1, 3000)])
    db.execute("INSERT INTO FEELINGS VALUES (3000, 5.0, 3.0, 0.3, 0.1, 0.6)")
    db.commit()
    db.close()


BROKEN_FILES = {
    "csv": ("bad.csv", lambda p: p.write_bytes(b"text\n" + b"".join(b"post %d\n" % i for i in range(3000)) + b"caf\xe9\n")),
    "tsv": ("bad.tsv", lambda p: p.write_bytes(b"text\tid\n" + b"".join(b"post %d\t%d\n" % (i, i) for i in range(3000)) + b"a\tb\tc\n")),
    "jsonl": ("bad.jsonl", lambda p: p.write_text("".join(f'{{"text": "post {i}"}}\n' for i in range(3000)) + '{"text": "cut', encoding="utf-8")),
    "twitter-archive": ("tweets.js", lambda p: p.write_text(
        "window.YTD.tweets.part0 = [" + ",".join(
            f'{{"tweet": {{"id_str": "{i}", "full_text": "post {i}", "created_at": "Sat Feb 18 12:33:11 +0000 2023"}}}}'
            for i in range(3000)) + ', {"tweet": {"id_str": "x"', encoding="utf-8")),
    "mastodon-outbox": ("outbox.json", lambda p: p.write_text(
        '{"type": "OrderedCollection", "orderedItems": [' + ",".join(
            f'{{"type": "Create", "object": {{"type": "Note", "id": "n{i}", "content": "<p>post {i}</p>",'
            f' "published": "2023-01-01T00:00:00Z", "to": ["https://www.w3.org/ns/activitystreams#Public"]}}}}'
            for i in range(3000)) + ', {"type": "Create", "object": {"type": "Note", "id": "z", "content": "x",'
            ' "published": "never", "to": ["https://www.w3.org/ns/activitystreams#Public"]}}]}', encoding="utf-8")),
    "feelings-2019": ("feelings.db", _feelings_db_with_a_bad_row),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_every_reader_leaves_the_store_unchanged_when_its_file_fails(make_work, tmp_path, kind):
    """3,000 good records (more than one write batch) and then a bad one: nothing of it lands."""
    name, write = BROKEN_FILES[kind]
    write(tmp_path / name)
    write_csv(tmp_path / "good.csv", ["an earlier post that must survive"])
    work = load_work(make_work(source("good", "csv", "good.csv"), source("bad", kind, name, scope="score")))
    with Store(tmp_path / "s.sqlite") as store:
        ingest_work(work, store, sources=["good"])
        before = rows(store.path)
        with pytest.raises(ReadError) as caught:
            ingest_work(work, store, sources=["bad"])
        assert caught.value.path.name == name
        assert rows(store.path) == before
        assert store.db.execute("SELECT text FROM posts").fetchall() == [("an earlier post that must survive",)]
