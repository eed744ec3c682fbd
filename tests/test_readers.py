"""Every reader on real files the tests write: good input, and each kind of bad input."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from support import source
from sugarglass.errors import ReadError
from sugarglass.sources import ReadReport, read_source
from sugarglass.work import load_work


def read(make_work, tmp_path: Path, kind: str, name: str, on_error: str = "fail", **options):
    work = load_work(make_work(source("src", kind, name, on_error=on_error, **options)))
    report = ReadReport(work.resolve(work.sources[0].path), on_error)
    posts = list(read_source(work.sources[0], report.path, report))
    return posts, report


# -- good input ---------------------------------------------------------------------------


def test_csv_finds_tweet_column_and_times(make_work, tmp_path):
    (tmp_path / "a.csv").write_text(
        'id,created_at,tweet\n1,2023-02-18T12:33:11Z,"Hope, at last!"\n2,2023-02-19 08:00:00+01:00,"two\nlines"\n',
        encoding="utf-8",
    )
    posts, report = read(make_work, tmp_path, "csv", "a.csv")
    assert [p.text for p in posts] == ["Hope, at last!", "two\nlines"]
    assert [p.id for p in posts] == ["1", "2"]
    assert posts[0].created_at == datetime(2023, 2, 18, 12, 33, 11, tzinfo=timezone.utc)
    assert posts[1].created_at == datetime(2023, 2, 19, 7, 0, tzinfo=timezone.utc)
    assert [p.line for p in posts] == [2, 3]
    assert report.bad == 0


def test_tsv_with_named_column_and_no_ids(make_work, tmp_path):
    (tmp_path / "a.tsv").write_text("who\tbody\nx\tfirst\ny\tsecond :)\n", encoding="utf-8")
    posts, _ = read(make_work, tmp_path, "tsv", "a.tsv", text_column="body")
    assert [(p.id, p.text, p.created_at) for p in posts] == [("line-2", "first", None), ("line-3", "second :)", None)]


def test_csv_named_column_that_is_absent(make_work, tmp_path):
    (tmp_path / "a.csv").write_text("id,body\n1,x\n", encoding="utf-8")
    with pytest.raises(ReadError, match=r"a\.csv, line 1: no text column 'message' \(the header has: body, id\)"):
        read(make_work, tmp_path, "csv", "a.csv", text_column="message")
    with pytest.raises(ReadError, match="no text column: name one with text_column"):
        read(make_work, tmp_path, "csv", "a.csv")


def test_csv_with_bom_and_latin1_encoding(make_work, tmp_path):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbftext\ncaf\xc3\xa9 ok\n")
    posts, _ = read(make_work, tmp_path, "csv", "bom.csv")
    assert posts[0].text == "café ok"
    (tmp_path / "l1.csv").write_bytes(b"text\ncaf\xe9 ok\n")
    posts, _ = read(make_work, tmp_path, "csv", "l1.csv", encoding="latin-1")
    assert posts[0].text == "café ok"


def test_jsonl_fields_by_name(make_work, tmp_path):
    lines = [
        {"id": 10, "text": "we won", "created_at": 1676723591},
        {},
        {"id": "11", "text": "vigil tonight", "published": "2023-02-18T20:00:00Z"},
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(x) if x else "" for x in lines) + "\n", encoding="utf-8")
    posts, _ = read(make_work, tmp_path, "jsonl", "a.jsonl")
    assert [(p.id, p.text, p.line) for p in posts] == [("10", "we won", 1), ("11", "vigil tonight", 3)]
    assert posts[0].created_at == datetime(2023, 2, 18, 12, 33, 11, tzinfo=timezone.utc)


TWEETS = """window.YTD.tweets.part0 = [
  {
    "tweet" : {
      "id_str" : "1626940000000000001",
      "full_text" : "RT @friends: Water is life &amp; we will not stop :)",
      "created_at" : "Sat Feb 18 12:33:11 +0000 2023"
    }
  },
  {
    "tweet" : {
      "id_str" : "1626940000000000002",
      "full_text" : "So tired tonight. But tomorrow we go again ✊",
      "created_at" : "Sun Feb 19 23:01:00 +0000 2023"
    }
  }
]
"""


def test_twitter_archive(make_work, tmp_path):
    (tmp_path / "tweets.js").write_text(TWEETS, encoding="utf-8")
    posts, _ = read(make_work, tmp_path, "twitter-archive", "tweets.js")
    assert [p.id for p in posts] == ["1626940000000000001", "1626940000000000002"]
    assert posts[0].created_at == datetime(2023, 2, 18, 12, 33, 11, tzinfo=timezone.utc)
    assert [p.line for p in posts] == [2, 9]


def outbox(*items: dict) -> str:
    return json.dumps(
        {"@context": "https://www.w3.org/ns/activitystreams", "type": "OrderedCollection",
         "totalItems": len(items), "orderedItems": list(items)},
        indent=1,
    )


PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def note(n: int, content: str, to: list[str], cc: list[str] | None = None, kind: str = "Create") -> dict:
    obj = {"id": f"https://social.example/users/g/statuses/{n}", "type": "Note", "content": content,
           "published": f"2023-03-0{n}T10:00:00Z", "to": to, "cc": cc or []}
    if kind == "Announce":
        return {"type": "Announce", "id": f"https://social.example/a/{n}", "object": obj["id"], "to": to}
    return {"type": "Create", "id": obj["id"] + "/activity", "object": obj, "to": to}


def test_mastodon_outbox_keeps_only_public_notes(make_work, tmp_path):
    items = [
        note(1, "<p>Public hope!</p>", [PUBLIC]),
        note(2, "<p>unlisted but public</p>", ["https://social.example/users/g/followers"], [PUBLIC]),
        note(3, "<p>followers only</p>", ["https://social.example/users/g/followers"]),
        note(4, "boost", [PUBLIC], kind="Announce"),
        note(5, "<p>direct</p>", ["https://social.example/users/ana"]),
    ]
    (tmp_path / "outbox.json").write_text(outbox(*items), encoding="utf-8")
    posts, report = read(make_work, tmp_path, "mastodon-outbox", "outbox.json")
    assert [p.text for p in posts] == ["<p>Public hope!</p>", "<p>unlisted but public</p>"]
    assert posts[0].id == "https://social.example/users/g/statuses/1"
    assert report.left_out == {"not public": 2, "boost (Announce)": 1}


def make_feelings_db(path: Path, rows: list[tuple]) -> None:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE FEELINGS(ID INTEGER PRIMARY KEY AUTOINCREMENT, COMPOUND REAL NOT NULL, COMPNORM REAL NOT NULL,"
        " POSITIVE REAL NOT NULL, NEGATIVE REAL NOT NULL, NEUTRAL REAL NOT NULL)"
    )
    db.executemany("INSERT INTO FEELINGS(COMPOUND, COMPNORM, POSITIVE, NEGATIVE, NEUTRAL) VALUES (?,?,?,?,?)", rows)
    db.commit()
    db.close()


def test_feelings_2019(make_work, tmp_path):
    make_feelings_db(tmp_path / "feelings.db", [(-0.5, 0.25, 0.0, 0.4, 0.6), (0.8, 0.9, 0.7, 0.0, 0.3)])
    posts, _ = read(make_work, tmp_path, "feelings-2019", "feelings.db", scope="score")
    assert [(p.id, p.scores.compound, p.scores.compnorm, p.created_at) for p in posts] == [
        ("1", -0.5, 0.25, None), ("2", 0.8, 0.9, None)
    ]


# -- bad input, reader by reader ---------------------------------------------------------

TEN_MB = "x" * (10 * 1024 * 1024)


@pytest.mark.parametrize(
    ("kind", "name", "content", "line", "reason"),
    [
        ("csv", "a.csv", 'text,id\nok,1\n"unclosed,2\n', 3, "malformed row"),
        ("csv", "a.csv", "text,id\nok,1\ntoo,many,fields\n", 3, "3 fields, the header has 2"),
        ("csv", "a.csv", b"text\nok\ncaf\xe9\n", 3, "not valid utf-8 (byte 0xe9"),
        ("csv", "a.csv", f"text\nok\n{TEN_MB}\n", 3, "over the 1,048,576-byte limit"),
        ("csv", "a.csv", b"text\nok\n\x00\x8f\x01\xfe\xff junk\n", 3, "binary data"),
        ("csv", "a.csv", "created_at,text\n2023-01-01,ok\nyesterday-ish,hi\n", 3, "bad time"),
        ("tsv", "a.tsv", b"text\tid\nok\t1\n\xff\xfe\t2\n", 3, "not valid utf-8"),
        ("jsonl", "a.jsonl", '{"text": "ok"}\n{"text": "trunc\n', 2, "not valid JSON"),
        ("jsonl", "a.jsonl", '{"text": "ok"}\n["a list"]\n', 2, "expected a JSON object"),
        ("jsonl", "a.jsonl", '{"text": "ok"}\n{"body": "no text"}\n', 2, "no text field"),
        ("jsonl", "a.jsonl", '{"text": "ok"}\n{"text": 42}\n', 2, "text is int"),
        ("jsonl", "a.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', 2, "not valid utf-8"),
        ("jsonl", "a.jsonl", '{"text": "ok"}\n{"text": "' + TEN_MB + '"}\n', 2, "over the 1,048,576-byte limit"),
    ],
)
def test_bad_rows_fail_naming_file_and_line_or_are_skipped_and_counted(make_work, tmp_path, kind, name, content, line, reason):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(ReadError) as caught:
        read(make_work, tmp_path, kind, name)
    assert caught.value.path.name == name and caught.value.line == line
    assert reason in str(caught.value) and f"{name}, line {line}:" in str(caught.value)
    posts, report = read(make_work, tmp_path, kind, name, on_error="skip")
    assert [p.text for p in posts] == ["ok"]
    assert report.bad == 1 and report.problems[0][0] == line and reason in report.problems[0][1]


@pytest.mark.parametrize("kind,name", [("csv", "a.csv"), ("tsv", "a.tsv"), ("jsonl", "a.jsonl"),
                                        ("twitter-archive", "tweets.js"), ("mastodon-outbox", "outbox.json")])
def test_empty_files_are_an_error(make_work, tmp_path, kind, name):
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ReadError, match="empty"):
        read(make_work, tmp_path, kind, name, on_error="skip")


@pytest.mark.parametrize(
    "kind,name", [("csv", "a.csv"), ("jsonl", "a.jsonl"), ("twitter-archive", "tweets.js"),
                  ("mastodon-outbox", "outbox.json"), ("feelings-2019", "feelings.db")]
)
def test_binary_junk_is_an_error_in_fail_mode(make_work, tmp_path, kind, name):
    (tmp_path / name).write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ReadError) as caught:
        read(make_work, tmp_path, kind, name)
    assert caught.value.path.name == name


def test_truncated_twitter_archive_names_the_line(make_work, tmp_path):
    cut = TWEETS[: TWEETS.index('"full_text" : "So tired')]
    (tmp_path / "tweets.js").write_text(cut, encoding="utf-8")
    with pytest.raises(ReadError, match="truncated") as caught:
        read(make_work, tmp_path, "twitter-archive", "tweets.js")
    assert caught.value.line == 12


def test_twitter_archive_bad_items(make_work, tmp_path):
    broken = TWEETS.replace('"created_at" : "Sun Feb 19 23:01:00 +0000 2023"', '"created_at" : "someday"')
    (tmp_path / "tweets.js").write_text(broken, encoding="utf-8")
    with pytest.raises(ReadError, match=r"tweets\.js, line 9: bad created_at"):
        read(make_work, tmp_path, "twitter-archive", "tweets.js")
    posts, report = read(make_work, tmp_path, "twitter-archive", "tweets.js", on_error="skip")
    assert len(posts) == 1 and report.bad == 1
    (tmp_path / "tweets.js").write_text('[{"tweet": {}}]', encoding="utf-8")
    with pytest.raises(ReadError, match="should begin 'window.YTD.tweets.part0"):
        read(make_work, tmp_path, "twitter-archive", "tweets.js")
    (tmp_path / "tweets.js").write_text('window.YTD.tweets.part0 = [{"tweet": {"id_str": "1"}}]', encoding="utf-8")
    with pytest.raises(ReadError, match="tweet lacks full_text, created_at"):
        read(make_work, tmp_path, "twitter-archive", "tweets.js")


def test_truncated_and_wrong_mastodon_outbox(make_work, tmp_path):
    text = outbox(note(1, "<p>a</p>", [PUBLIC]), note(2, "<p>b</p>", [PUBLIC]))
    (tmp_path / "outbox.json").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ReadError, match="truncated") as caught:
        read(make_work, tmp_path, "mastodon-outbox", "outbox.json")
    assert caught.value.line is not None and caught.value.line > 1
    (tmp_path / "outbox.json").write_text('{"type": "Person"}', encoding="utf-8")
    with pytest.raises(ReadError, match="not a Mastodon outbox"):
        read(make_work, tmp_path, "mastodon-outbox", "outbox.json")
    bad = note(2, "<p>b</p>", [PUBLIC])
    bad["object"]["published"] = "not a date"
    (tmp_path / "outbox.json").write_text(outbox(note(1, "<p>a</p>", [PUBLIC]), bad), encoding="utf-8")
    with pytest.raises(ReadError, match="bad published"):
        read(make_work, tmp_path, "mastodon-outbox", "outbox.json")
    posts, report = read(make_work, tmp_path, "mastodon-outbox", "outbox.json", on_error="skip")
    assert len(posts) == 1 and report.bad == 1


def test_feelings_2019_bad_input(make_work, tmp_path):
    make_feelings_db(tmp_path / "feelings.db", [(0.1, 0.55, 0.2, 0.1, 0.7), (1.7, 1.35, 0.2, 0.1, 0.7), (0.2, 0.9, 0.2, 0.1, 0.7)])
    with pytest.raises(ReadError, match=r"row ID 2: COMPOUND 1\.7 is outside"):
        read(make_work, tmp_path, "feelings-2019", "feelings.db", scope="score")
    posts, report = read(make_work, tmp_path, "feelings-2019", "feelings.db", scope="score", on_error="skip")
    assert [p.id for p in posts] == ["1"] and report.bad == 2
    assert "COMPNORM 0.9 disagrees" in report.problems[1][1]
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE T(x)")
    other.commit()
    other.close()
    with pytest.raises(ReadError, match="no FEELINGS table"):
        read(make_work, tmp_path, "feelings-2019", "other.db", scope="score")
    empty = tmp_path / "empty.db"
    make_feelings_db(empty, [])
    with pytest.raises(ReadError, match="no rows"):
        read(make_work, tmp_path, "feelings-2019", "empty.db", scope="score")


def test_an_outbox_whose_first_page_comes_before_its_items_is_still_an_outbox(make_work, tmp_path):
    page = {"type": "OrderedCollectionPage", "orderedItems": [note(9, "<p>on the first page</p>", [PUBLIC])]}
    document = {"@context": "https://www.w3.org/ns/activitystreams", "type": "OrderedCollection", "first": page,
                "orderedItems": [note(1, "<p>the collection's own</p>", [PUBLIC])]}
    (tmp_path / "outbox.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    posts, _ = read(make_work, tmp_path, "mastodon-outbox", "outbox.json")
    assert [p.text for p in posts] == ["<p>the collection's own</p>"]
