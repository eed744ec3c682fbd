"""Export archives as the services hand them out: an X/Twitter .zip, a Mastodon .zip or .tar.gz.

The layouts are the real ones: X puts ``data/tweets.js`` (``window.YTD.tweets.part0``) beside
``tweets-part1.js``... for a large account, and named it ``tweet.js`` before late 2022, next to
``deleted-tweets.js``, ``tweet-headers.js``, an HTML viewer and media; Mastodon puts
``outbox.json`` beside ``actor.json``, ``likes.json``, ``bookmarks.json`` and
``media_attachments/`` (a .tar.gz until 4.1, a .zip since). Every post here is invented.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from support import source
from sugarglass.errors import ReadError
from sugarglass.ingest import ingest_work
from sugarglass.sources import ReadReport, read_source, packed
from sugarglass.store import Store
from sugarglass.work import load_work

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def tweets_js(part: int, tweets: list[tuple[str, str]], name: str = "tweets", when: str = "Sat Feb 18 12:33:11 +0000 2023") -> str:
    """A part of an archive's tweets, nine lines a tweet (the first on line 2)."""
    items = [{"tweet": {"id_str": tweet_id, "full_text": text, "created_at": when if tweet_id != "bad" else "someday",
                        "lang": "en", "retweeted": False}} for tweet_id, text in tweets]
    return f"window.YTD.{name}.part{part} = " + json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def x_archive(path: Path, parts: dict[str, str], extra: dict[str, bytes] | None = None) -> Path:
    """An X archive as downloaded: the viewer, the data folder and a media file around the tweets."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Your archive.html", "<html><body>Your archive</body></html>")
        archive.writestr("data/account.js", 'window.YTD.account.part0 = [{"account": {"username": "lowvale"}}]')
        archive.writestr("data/deleted-tweets.js", tweets_js(0, [("9", "I deleted this, do not read it")], "deleted_tweets"))
        archive.writestr("data/tweet-headers.js", 'window.YTD.tweet_headers.part0 = [{"tweet": {"tweet_id": "1"}}]')
        archive.writestr("data/tweets_media/1-abc.jpg", b"\xff\xd8\xff not really a jpeg")
        for name, text in parts.items():
            archive.writestr(name, text)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def outbox(*notes: tuple[int, str], public: bool = True) -> str:
    items = [{"id": f"https://social.example/users/g/statuses/{n}/activity", "type": "Create",
              "actor": "https://social.example/users/g", "published": "2023-03-01T10:00:00Z",
              "to": [PUBLIC] if public else ["https://social.example/users/g/followers"],
              "object": {"id": f"https://social.example/users/g/statuses/{n}", "type": "Note", "content": f"<p>{text}</p>",
                         "published": "2023-03-01T10:00:00Z", "to": [PUBLIC] if public else [], "cc": []}}
             for n, text in notes]
    return json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": "outbox.json",
                       "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}, indent=1)


MASTODON_OTHERS = {
    "actor.json": json.dumps({"type": "Person", "preferredUsername": "g"}).encode(),
    "likes.json": json.dumps({"type": "OrderedCollection", "orderedItems": ["https://elsewhere.example/1"]}).encode(),
    "bookmarks.json": json.dumps({"type": "OrderedCollection", "orderedItems": []}).encode(),
    "media_attachments/files/000/000/001/original/a.png": b"\x89PNG not really",
}


def mastodon_zip(path: Path, outbox_text: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in MASTODON_OTHERS.items():
            archive.writestr(name, data)
        archive.writestr("outbox.json", outbox_text)
    return path


def mastodon_tar(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz written as Mastodon's old backup service wrote it: media first, then the rest."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def read(make_work, kind: str, name: str, on_error: str = "fail"):
    work = load_work(make_work(source("src", kind, name, on_error=on_error)))
    report = ReadReport(work.resolve(work.sources[0].path), on_error)
    return list(read_source(work.sources[0], report.path, report)), report


# -- X / Twitter -------------------------------------------------------------------------


def test_an_x_archive_zip_is_read_as_downloaded_every_part_and_nothing_else(make_work, tmp_path):
    x_archive(tmp_path / "twitter-2023-02-20-abc.zip", {
        "data/tweets.js": tweets_js(0, [("1", "Water is life &amp; we will not stop :)"), ("2", "So tired tonight ✊")]),
        "data/tweets-part1.js": tweets_js(1, [("3", "An older post from 2012")]),
        "data/tweets-part2.js": tweets_js(2, [("4", "The oldest post of all")]),
    })
    posts, report = read(make_work, "twitter-archive", "twitter-2023-02-20-abc.zip")
    assert [p.id for p in posts] == ["1", "2", "3", "4"]
    assert [p.line for p in posts] == [2, 11, 2, 2]  # each member's own lines
    assert report.bad == 0 and report.member is None


def test_an_older_x_archive_names_its_tweets_tweet_js(make_work, tmp_path):
    x_archive(tmp_path / "old.zip", {"data/tweet.js": tweets_js(0, [("5", "Before the rename")], "tweet"),
                                     "data/tweet-part1.js": tweets_js(1, [("6", "and its second part")], "tweet")})
    posts, _ = read(make_work, "twitter-archive", "old.zip")
    assert [(p.id, p.text) for p in posts] == [("5", "Before the rename"), ("6", "and its second part")]


def test_an_x_archive_unpacked_into_a_folder_and_zipped_again_is_read_once(make_work, tmp_path):
    part = tweets_js(0, [("1", "from the archive")])
    x_archive(tmp_path / "again.zip", {"twitter-2023/data/tweets.js": part, "twitter-2023/backup/data/tweets.js": part})
    posts, _ = read(make_work, "twitter-archive", "again.zip")
    assert [p.id for p in posts] == ["1"]


def test_a_zip_without_tweets_names_the_zip_and_what_it_looked_for(make_work, tmp_path):
    mastodon_zip(tmp_path / "wrong.zip", outbox((1, "a toot")))
    with pytest.raises(ReadError) as caught:
        read(make_work, "twitter-archive", "wrong.zip")
    assert caught.value.path.name == "wrong.zip"
    assert "no data/tweets.js (or tweet.js, tweets-part1.js) inside this archive" in str(caught.value)


def test_a_bad_tweet_inside_a_part_names_the_zip_the_member_and_the_line(make_work, tmp_path):
    bad = tweets_js(1, [("3", "fine"), ("bad", "broken time")])
    x_archive(tmp_path / "x.zip", {"data/tweets.js": tweets_js(0, [("1", "fine too")]), "data/tweets-part1.js": bad})
    with pytest.raises(ReadError) as caught:
        read(make_work, "twitter-archive", "x.zip")
    assert caught.value.path.name == "x.zip"
    assert str(caught.value).endswith("x.zip: data/tweets-part1.js, line 11: bad created_at: 'someday' is not a time "
                                      "(use ISO 8601, e.g. 2023-02-18T12:33:11Z)")
    posts, report = read(make_work, "twitter-archive", "x.zip", on_error="skip")
    assert [p.id for p in posts] == ["1", "3"] and report.bad == 1
    assert report.problems == [(None, "data/tweets-part1.js, line 11: bad created_at: 'someday' is not a time "
                                      "(use ISO 8601, e.g. 2023-02-18T12:33:11Z)")]


def test_a_truncated_member_names_the_zip_the_member_and_the_line(make_work, tmp_path):
    whole = tweets_js(0, [("1", "one"), ("2", "two")])
    x_archive(tmp_path / "cut.zip", {"data/tweets.js": whole[: whole.index('"two"')]})
    with pytest.raises(ReadError, match=r"cut\.zip: data/tweets\.js, line 14: the file ends before its JSON array closes"):
        read(make_work, "twitter-archive", "cut.zip")
    x_archive(tmp_path / "js.zip", {"data/tweets.js": "var tweets = [];"})
    with pytest.raises(ReadError, match=r"js\.zip: data/tweets\.js, line 1: not a Twitter archive file"):
        read(make_work, "twitter-archive", "js.zip")


def test_repeated_ids_across_parts_are_skipped_and_placed_by_member(make_work, tmp_path):
    x_archive(tmp_path / "x.zip", {"data/tweets.js": tweets_js(0, [("1", "first"), ("2", "second")]),
                                   "data/tweets-part1.js": tweets_js(1, [("2", "second, exported again"), ("3", "third")])})
    work = load_work(make_work(source("x", "twitter-archive", "x.zip")))
    with Store(tmp_path / "s.sqlite") as store:
        [result] = ingest_work(work, store)
        assert (result.read, result.added, result.left_out) == (4, 3, {"repeated id": 1})
        assert result.report.repeated_at == ["data/tweets-part1.js:2"]
        [again] = ingest_work(work, store)
        assert again.unchanged
    strict = load_work(make_work(source("x", "twitter-archive", "x.zip", on_repeated_id="fail")))
    with Store(tmp_path / "t.sqlite") as store, pytest.raises(ReadError) as caught:
        ingest_work(strict, store)
    assert str(caught.value).endswith("x.zip: data/tweets-part1.js, line 2: id '2' repeats the post on "
                                      "data/tweets.js:11 (on_repeated_id = \"fail\")")


def test_a_damaged_zip_is_a_clear_error(make_work, tmp_path):
    whole = x_archive(tmp_path / "whole.zip", {"data/tweets.js": tweets_js(0, [("1", "one")])}).read_bytes()
    (tmp_path / "damaged.zip").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReadError, match=r"damaged\.zip: not a readable zip archive .*download the export again"):
        read(make_work, "twitter-archive", "damaged.zip")


# -- bounds: what an archive may unpack to ------------------------------------------------


def test_a_member_that_would_unpack_past_the_limit_is_refused_before_it_is_read(make_work, tmp_path, monkeypatch):
    monkeypatch.setattr(packed, "MAX_MEMBER_BYTES", 1 << 20)
    padding = " " * (2 << 20)  # 2 MiB of JSON whitespace: a few kB packed
    x_archive(tmp_path / "big.zip", {"data/tweets.js": tweets_js(0, [("1", "one")]) + padding})
    assert (tmp_path / "big.zip").stat().st_size < 64 * 1024
    with pytest.raises(ReadError, match=r"big\.zip: data/tweets\.js: unpacks to 2,097,\d{3} bytes, over the 1,048,576-byte limit"):
        read(make_work, "twitter-archive", "big.zip")


def _lie_about_size(path: Path, member: str, size: int) -> None:
    """Rewrite a member's uncompressed size in its local header and its central directory entry
    (offsets 22 and 24; the name follows at 30 and 46), as a zip bomb does."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at: start + name_at + len(name)] == name:
                data[start + size_at: start + size_at + 4] = struct.pack("<I", size)
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def test_a_member_that_unpacks_to_more_than_it_declares_is_never_read_past_its_declared_size(make_work, tmp_path):
    x_archive(tmp_path / "bomb.zip", {"data/tweets.js": tweets_js(0, [("1", "one")]) + " " * 100_000})
    _lie_about_size(tmp_path / "bomb.zip", "data/tweets.js", 64)
    with zipfile.ZipFile(tmp_path / "bomb.zip") as archive:
        assert archive.getinfo("data/tweets.js").file_size == 64
    with pytest.raises(ReadError, match=r"bomb\.zip: data/tweets\.js: cannot be unpacked \(Bad CRC-32"):
        read(make_work, "twitter-archive", "bomb.zip")


def test_a_tar_gz_is_given_up_on_past_the_scan_limit(make_work, tmp_path, monkeypatch):
    monkeypatch.setattr(packed, "MAX_SCAN_BYTES", 1 << 20)
    mastodon_tar(tmp_path / "archive.tar.gz", {"media_attachments/files/video.mp4": bytes(2 << 20),
                                               "outbox.json": outbox((1, "a toot")).encode()})
    with pytest.raises(ReadError, match=r"archive\.tar\.gz: unpacks to more than 1,048,576 bytes before the posts are found"):
        read(make_work, "mastodon-outbox", "archive.tar.gz")


# -- Mastodon ----------------------------------------------------------------------------


def test_a_mastodon_zip_is_read_as_downloaded(make_work, tmp_path):
    mastodon_zip(tmp_path / "archive-20260901-abc.zip", outbox((1, "We won the vote!"), (2, "Vigil tonight")))
    posts, report = read(make_work, "mastodon-outbox", "archive-20260901-abc.zip")
    assert [p.text for p in posts] == ["<p>We won the vote!</p>", "<p>Vigil tonight</p>"]
    assert posts[0].id == "https://social.example/users/g/statuses/1" and report.bad == 0


def test_a_mastodon_tar_gz_is_read_with_its_media_before_the_outbox(make_work, tmp_path):
    members = {name: data for name, data in MASTODON_OTHERS.items() if name.startswith("media")}
    members |= {"outbox.json": outbox((1, "An old export"), (2, "followers only"), public=False).encode()}
    members |= {name: data for name, data in MASTODON_OTHERS.items() if not name.startswith("media")}
    mastodon_tar(tmp_path / "archive-20220101-def.tar.gz", members)
    posts, report = read(make_work, "mastodon-outbox", "archive-20220101-def.tar.gz")
    assert posts == [] and report.left_out == {"not public": 2}
    members["outbox.json"] = outbox((1, "An old export")).encode()
    mastodon_tar(tmp_path / "archive-20220101-def.tar.gz", members)
    work = load_work(make_work(source("toots", "mastodon-outbox", "archive-20220101-def.tar.gz")))
    with Store(tmp_path / "s.sqlite") as store:
        [result] = ingest_work(work, store)
        assert (result.read, result.added) == (1, 1)
        assert store.db.execute("SELECT text FROM posts").fetchall() == [("An old export",)]


def test_a_mastodon_archive_without_an_outbox_or_with_a_broken_one(make_work, tmp_path):
    mastodon_tar(tmp_path / "no-outbox.tar.gz", {"actor.json": MASTODON_OTHERS["actor.json"]})
    with pytest.raises(ReadError, match=r"no-outbox\.tar\.gz: no outbox\.json inside this archive"):
        read(make_work, "mastodon-outbox", "no-outbox.tar.gz")
    mastodon_zip(tmp_path / "person.zip", json.dumps({"type": "Person"}))
    with pytest.raises(ReadError, match=r"person\.zip: outbox\.json: not a Mastodon outbox"):
        read(make_work, "mastodon-outbox", "person.zip")
    whole = mastodon_tar(tmp_path / "whole.tar.gz", {"outbox.json": outbox((1, "x")).encode() * 50}).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReadError, match=r"cut\.tar\.gz: .*download the export again"):
        read(make_work, "mastodon-outbox", "cut.tar.gz")
    import gzip

    (tmp_path / "outbox.json.gz").write_bytes(gzip.compress(outbox((1, "x")).encode()))
    with pytest.raises(ReadError, match=r"outbox\.json\.gz: gzip-compressed but not a readable tar archive"):
        read(make_work, "mastodon-outbox", "outbox.json.gz")
