"""Input made to hurt: JSON nested past the decoder's stack, a feelings.db with NULL and text
IDs, texts that made scoring quadratic, UTF-16 files, truncated archives. Each must end as a
clear error naming the file and line (or the row and field), or as a counted skip."""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import time
from pathlib import Path

import pytest

from support import REPO, source
from sugarglass.errors import ReadError
from sugarglass.ingest import ingest_work
from sugarglass.sources import ReadReport, read_source
from sugarglass.sources.tdm import parse_tdmrep
from sugarglass.store import Store
from sugarglass.work import load_work

DEEP = 100_000
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def read(make_work, kind: str, name: str, on_error: str = "fail", **options):
    work = load_work(make_work(source("src", kind, name, on_error=on_error, **options)))
    report = ReadReport(work.resolve(work.sources[0].path), on_error)
    return list(read_source(work.sources[0], report.path, report)), report


def deep(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def tweet(n: int, text: str = "ok") -> str:
    return json.dumps({"tweet": {"id_str": str(n), "full_text": text, "created_at": "Sat Feb 18 12:33:11 +0000 2023"}})


def fails_then_skips(make_work, kind: str, name: str, match: str, **options) -> list:
    """The file fails naming the problem; under on_error = "skip" one record is counted and
    the posts of the rest come back."""
    with pytest.raises(ReadError, match=match):
        read(make_work, kind, name, **options)
    posts, report = read(make_work, kind, name, on_error="skip", **options)
    assert report.bad == 1
    return posts


# -- JSON nested past the decoder's stack -------------------------------------------------


def note(n: int) -> str:
    return json.dumps({"type": "Create", "id": f"https://social.example/{n}/activity", "to": [PUBLIC],
                       "object": {"id": f"https://social.example/{n}", "type": "Note", "content": f"<p>post {n}</p>",
                                  "published": "2023-03-01T10:00:00Z", "to": [PUBLIC]}})


def test_deep_item_in_a_mastodon_outbox_is_named_or_skipped(make_work, tmp_path):
    (tmp_path / "outbox.json").write_text(
        '{"type": "OrderedCollection",\n "orderedItems": [\n' + note(1) + ",\n" + deep() + ",\n" + note(2) + "\n]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ReadError) as caught:
        read(make_work, "mastodon-outbox", "outbox.json")
    assert caught.value.path.name == "outbox.json" and caught.value.line == 4
    assert "nested 100,000 levels deep" in str(caught.value)
    posts, report = read(make_work, "mastodon-outbox", "outbox.json", on_error="skip")
    assert [p.text for p in posts] == ["<p>post 1</p>", "<p>post 2</p>"]
    assert report.bad == 1 and report.problems[0][0] == 4


def test_deep_json_outside_the_items_is_named_by_line(make_work, tmp_path):
    (tmp_path / "outbox.json").write_text(
        '{"type": "OrderedCollection",\n "orderedItems": [\n' + note(1) + '\n],\n"@context":\n' + deep() + "}\n",
        encoding="utf-8",
    )
    for on_error in ("fail", "skip"):
        with pytest.raises(ReadError, match="nested 100,001 levels deep") as caught:
            read(make_work, "mastodon-outbox", "outbox.json", on_error=on_error)
        assert caught.value.line == 6


def test_deep_line_in_json_lines_and_deep_tweet(make_work, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "ok"}\n{"text": ' + deep() + "}\n", encoding="utf-8")
    posts = fails_then_skips(make_work, "jsonl", "a.jsonl", r"a\.jsonl, line 2: JSON nested 100,001 levels deep")
    assert [p.text for p in posts] == ["ok"]
    (tmp_path / "tweets.js").write_text(f"window.YTD.tweets.part0 = [\n{tweet(1)},\n{deep()}\n]\n", encoding="utf-8")
    posts = fails_then_skips(make_work, "twitter-archive", "tweets.js", r"tweets\.js, line 3: JSON nested")
    assert [p.text for p in posts] == ["ok"]


def test_deep_tdmrep_is_unreadable_not_a_crash():
    with pytest.raises(ValueError, match="nested 100,000 levels deep"):
        parse_tdmrep(deep())


# -- truncation and wide encodings --------------------------------------------------------


def test_truncated_tweets_js_is_called_truncated(make_work, tmp_path):
    whole = f"window.YTD.tweets.part0 = [\n{tweet(1)},\n{tweet(2)}\n]\n"
    for cut in (whole.rindex('"full_text": "ok"') + 17, whole.rindex("ok") + 1, len(whole) - 3, len(whole) - 2):
        (tmp_path / "tweets.js").write_text(whole[:cut], encoding="utf-8")
        with pytest.raises(ReadError) as caught:
            read(make_work, "twitter-archive", "tweets.js", on_error="skip")
        assert "the file ends before its JSON array closes: it may be truncated" in str(caught.value)
        assert caught.value.path.name == "tweets.js" and caught.value.line == 3


UTF16_CSV = "text,id\nhope,1\n"


@pytest.mark.parametrize(("kind", "name", "content"), [
    ("csv", "a.csv", UTF16_CSV.encode("utf-16")),
    ("csv", "a.csv", UTF16_CSV.encode("utf-16-le")),
    ("jsonl", "a.jsonl", '{"text": "hope"}\n'.encode("utf-16-be")),
    ("csv", "a.csv", UTF16_CSV.encode("utf-32")),
], ids=["utf-16-bom", "utf-16-le", "utf-16-be", "utf-32-bom"])
def test_wide_encodings_are_named_not_called_binary(make_work, tmp_path, kind, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ReadError) as caught:
        read(make_work, kind, name, on_error="skip")
    wide = "UTF-32" if b"\x00\x00" in content[:4] else "UTF-16"
    assert caught.value.path.name == name and f"this file is {wide}; save it as UTF-8" in str(caught.value)
    assert "binary" not in str(caught.value)


def test_utf16_archive_names_the_encoding_setting_and_reads_with_it(make_work, tmp_path):
    (tmp_path / "tweets.js").write_bytes(f"window.YTD.tweets.part0 = [{tweet(1, 'élan ✊')}]".encode("utf-16"))
    with pytest.raises(ReadError, match='this file is UTF-16; save it as UTF-8 or set encoding = "utf-16" in the source'):
        read(make_work, "twitter-archive", "tweets.js")
    posts, _ = read(make_work, "twitter-archive", "tweets.js", encoding="utf-16")
    assert [p.text for p in posts] == ["élan ✊"]


def test_a_post_over_a_megabyte_inside_a_document_is_a_bad_record(make_work, tmp_path):
    (tmp_path / "tweets.js").write_text(f"window.YTD.tweets.part0 = [\n{tweet(1)},\n{tweet(2, 'x' * (1 << 21))}\n]", encoding="utf-8")
    posts = fails_then_skips(make_work, "twitter-archive", "tweets.js", r"tweets\.js, line 3: post is 2,097,152 bytes long")
    assert [p.id for p in posts] == ["1"]


# -- the 2019 feelings.db -----------------------------------------------------------------


def loose_feelings_db(path: Path, rows: list[tuple]) -> None:
    """A FEELINGS table as someone might make it by hand: no types, no key."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE FEELINGS(ID, COMPOUND, COMPNORM, POSITIVE, NEGATIVE, NEUTRAL)")
    db.executemany("INSERT INTO FEELINGS VALUES (?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


GOOD = (0.5, 0.75, 0.4, 0.0, 0.6)


@pytest.mark.parametrize(("row", "reason"), [
    ((None, *GOOD), "FEELINGS row with rowid 2: ID is NULL, not an integer"),
    (("7", *GOOD), "FEELINGS row with rowid 2: ID is text '7', not an integer"),
    ((7.5, *GOOD), "FEELINGS row with rowid 2: ID is real 7.5, not an integer"),
    ((b"\x01", *GOOD), "FEELINGS row with rowid 2: ID is a 1-byte blob, not an integer"),
    ((1, *GOOD), "row ID 1: ID repeats the row before it"),
    ((2, 0.5, 0.75, "lots", 0.0, 0.6), "row ID 2: POSITIVE is text 'lots', not a finite number"),
    ((2, 0.5, 0.75, 0.4, None, 0.6), "row ID 2: NEGATIVE is NULL, not a finite number"),
    ((2, 0.5, 0.75, 0.4, 0.0, float("inf")), "row ID 2: NEUTRAL is real inf, not a finite number"),
])
def test_feelings_db_ids_must_be_integers_and_scores_finite(make_work, tmp_path, row, reason):
    loose_feelings_db(tmp_path / "feelings.db", [(1, *GOOD), row])
    with pytest.raises(ReadError) as caught:
        read(make_work, "feelings-2019", "feelings.db", scope="score")
    assert str(caught.value) == f"{tmp_path / 'feelings.db'}: {reason}"
    posts, report = read(make_work, "feelings-2019", "feelings.db", scope="score", on_error="skip")
    assert [p.id for p in posts] == ["1"] and report.problems == [(None, reason)]


def test_feelings_db_with_bad_ids_ingests_the_good_rows_under_skip(make_work, tmp_path):
    loose_feelings_db(tmp_path / "feelings.db", [(1, *GOOD), (None, *GOOD), ("x", *GOOD), (2, *GOOD), (2, *GOOD)])
    work = load_work(make_work(source("old", "feelings-2019", "feelings.db", scope="score", on_error="skip")))
    with Store(tmp_path / "store.sqlite") as store:
        [result] = ingest_work(work, store)
        assert (result.read, result.added, result.bad) == (2, 2, 3)
        ids = [row[0] for row in store.db.execute("SELECT post_id FROM posts ORDER BY post_id")]
    assert ids == ["1", "2"]


# -- one file failing leaves the files before it stored -----------------------------------


def test_a_failing_file_after_a_good_one_leaves_the_good_rows(make_work, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("id,text\n1,we won\n2,we march at noon\n", encoding="utf-8")
    (inbox / "b.csv").write_bytes(b"id,text\n3,first row is fine\n4,caf\xe9\n")
    work = load_work(make_work(source("inbox", "csv", "inbox")))
    with Store(tmp_path / "store.sqlite") as store:
        with pytest.raises(ReadError, match=r"b\.csv, line 3: not valid utf-8"):
            ingest_work(work, store)
        ids = [row[0] for row in store.db.execute("SELECT post_id FROM posts ORDER BY post_id")]
        feelings = store.db.execute("SELECT count(*) FROM feelings").fetchone()[0]
    assert ids == ["a.csv:1", "a.csv:2"] and feelings == 2


# -- scoring: the package's scores, in time linear in the text ----------------------------


@pytest.fixture(scope="module")
def analyzers():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from sugarglass.affect.vader import LinearVader

    return SentimentIntensityAnalyzer(), LinearVader()


def generated_posts(emojis: list[str], count: int = 600) -> list[str]:
    """Seeded posts mixing words VADER weighs, negations, "but", boosters, idioms, emoticons,
    emoji (with and without spaces around them), capitals and punctuation."""
    words = ("good great bad awful love hate not never no but very kind of sort the bomb kiss of death "
             "without doubt least at hope sad happy rage tired won lost yeah right so this ok meh").split()
    extras = [":)", ":(", ":D", "<3", "!!!", "?", "??", "LOL", "GREAT", "NOT", "n't", "😀", "💔", "✊"]
    rng = random.Random(12)
    posts = []
    for _ in range(count):
        parts = [rng.choice(words + extras + emojis[:50]) for _ in range(rng.randint(1, 60))]
        post = ""
        for part in parts:
            post += part if rng.random() < 0.15 else " " + part
        posts.append(post)
    return posts


def test_scores_identical_to_the_package_on_its_ground_truth_and_ours(analyzers):
    reference, ours = analyzers
    ground_truth = REPO / "tests" / "data" / "vader" / "tweets_GroundTruth.txt"
    texts = [line.rstrip("\r\n").split("\t")[2] for line in ground_truth.open(encoding="utf-8") if line.strip()]
    assert len(texts) == 4200
    with (REPO / "works" / "demo" / "campaign-posts.csv").open(encoding="utf-8", newline="") as handle:
        texts += [row["text"] for row in csv.DictReader(handle)]
    texts += generated_posts(sorted(reference.emojis))
    texts += ["", " ", "😀", " 😀😀 ", "a😀b", "but", "BUT good but bad but", "0 0 but 0"]
    differing = [text for text in texts if reference.polarity_scores(text) != ours.polarity_scores(text)]
    assert differing == []


def test_scoring_time_is_linear_in_emoji(analyzers):
    _, ours = analyzers
    start = time.perf_counter()
    ours.polarity_scores("😀" * 16_000)
    assert time.perf_counter() - start < 5.0  # the package takes over a minute here
