"""Personal data exports: an X/Twitter archive's ``tweets.js`` and a Mastodon ``outbox.json``,
each read from the export archive as downloaded or as the file alone.

Both are one large JSON document. Their items are decoded one at a time from the array's
position in the text, so a bad item is named by the line it starts on, and a truncated file
fails at the line where it stops; inside an archive, errors name the archive and the member.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ReadError
from ..records import Post
from ..work import MastodonOutboxSource, TwitterArchiveSource
from .jsondoc import TooDeep, json_array_items, loads
from .packed import members, packing
from .report import ReadReport
from .text import decode_document, parse_time, read_document, too_long

_TWEETS_PREFIX = re.compile(r"\s*window\.YTD\.[A-Za-z_]+\.part\d+\s*=\s*")
_ORDERED_ITEMS = re.compile(r'"orderedItems"\s*:\s*')
PUBLIC = {"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"}

TWEET_MEMBERS = re.compile(r"(?:^|/)data/tweets?(?:-part(?P<part>\d+))?\.js$")
"""``data/tweets.js`` and, for large accounts, ``data/tweets-part1.js``...; archives made before
late 2022 name them ``tweet.js``, ``tweet-part1.js``. Never ``deleted-tweets.js`` (posts their
author deleted) or ``tweet-headers.js``."""
OUTBOX_MEMBER = re.compile(r"(?:^|/)outbox\.json$")

Reader = Callable[[object, str, Path, ReadReport], Iterator[Post]]


def documents(source: TwitterArchiveSource | MastodonOutboxSource, path: Path, report: ReadReport, wanted: re.Pattern[str],
              looking_for: str, read: Reader, single: bool = False) -> Iterator[Post]:
    """The posts of a plain document, or of each wanted member of an export archive. While a
    member is read, ``report.member`` names it, and an error the JSON reading raises is raised
    again naming the archive and the member (line numbers are the member's own)."""
    if packing(path) is None:
        yield from read(source, read_document(path, source.encoding), path, report)
        return
    for name, data in members(path, wanted, looking_for, single):
        report.member, where = name, Path(name)
        try:
            yield from read(source, decode_document(data, where, source.encoding), where, report)
        except ReadError as exc:
            if exc.path != where:
                raise
            raise report.error(exc.reason, exc.line) from None
    report.member = None


def read_tweets_js(source: TwitterArchiveSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """Tweets of an X/Twitter archive (the ``.zip``, or one ``tweets.js`` file)."""
    return documents(source, path, report, TWEET_MEMBERS, "data/tweets.js (or tweet.js, tweets-part1.js)", _tweets)


def read_mastodon_outbox(source: MastodonOutboxSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """Public notes of a Mastodon export (the ``.zip`` or ``.tar.gz``, or its ``outbox.json``)."""
    return documents(source, path, report, OUTBOX_MEMBER, "outbox.json", _notes, single=True)


def _tweets(source: TwitterArchiveSource, text: str, path: Path, report: ReadReport) -> Iterator[Post]:
    """Tweets from ``window.YTD.tweets.part0 = [{"tweet": {...}}, ...]``."""
    prefix = _TWEETS_PREFIX.match(text)
    if prefix is None:
        raise ReadError(path, "not a Twitter archive file: it should begin 'window.YTD.tweets.part0 = ['", 1)
    for line, item in json_array_items(text, prefix.end(), path):
        if isinstance(item, TooDeep):
            report.bad_record(line, item.reason)
            continue
        tweet = item.get("tweet", item) if isinstance(item, dict) else None
        if not isinstance(tweet, dict):
            report.bad_record(line, "expected an object with a 'tweet'")
            continue
        missing = [key for key in ("id_str", "full_text", "created_at") if not isinstance(tweet.get(key), str)]
        if missing:
            report.bad_record(line, f"tweet lacks {', '.join(missing)}")
            continue
        try:
            created = parse_time(tweet["created_at"])
        except ValueError as exc:
            report.bad_record(line, f"bad created_at: {exc}")
            continue
        if problem := too_long(tweet["full_text"]):
            report.bad_record(line, problem)
            continue
        yield Post(tweet["id_str"], tweet["full_text"], created, source.id, line)


def _notes(source: MastodonOutboxSource, text: str, path: Path, report: ReadReport) -> Iterator[Post]:
    """Public notes from an ActivityPub OrderedCollection; boosts and non-public posts are
    left out (and counted), since only what the author published openly may be read."""
    for line, activity in _outbox_items(text, path):
        if isinstance(activity, TooDeep):
            report.bad_record(line, activity.reason)
            continue
        if not isinstance(activity, dict):
            report.bad_record(line, "activity is not an object")
            continue
        kind = activity.get("type")
        if kind == "Announce":
            report.leave_out("boost (Announce)")
            continue
        if kind != "Create":
            report.leave_out(f"activity {kind}")
            continue
        note = activity.get("object")
        if not isinstance(note, dict) or note.get("type") != "Note":
            report.leave_out("not a Note")
            continue
        audience = _addresses(note.get("to")) | _addresses(note.get("cc")) | _addresses(activity.get("to")) | _addresses(activity.get("cc"))
        if not audience & PUBLIC:
            report.leave_out("not public")
            continue
        content, published = note.get("content"), note.get("published") or activity.get("published")
        if not isinstance(content, str) or not isinstance(published, str):
            report.bad_record(line, "note lacks content or published")
            continue
        try:
            created = parse_time(published)
        except ValueError as exc:
            report.bad_record(line, f"bad published: {exc}")
            continue
        if problem := too_long(content):
            report.bad_record(line, problem)
            continue
        yield Post(str(note.get("id") or activity.get("id") or f"line-{line}"), content, created, source.id, line)


def _outbox_items(text: str, path: Path) -> list[tuple[int, object]]:
    """The (line, activity) pairs of an outbox's ``orderedItems``, once the document around
    them is known to be an OrderedCollection.

    The items are decoded one by one, so a bad one is named by its line (and a too-deep one
    can be skipped); the rest of the document is then decoded with the array emptied, its
    newlines kept so that lines still match the file.
    """
    for found in _ORDERED_ITEMS.finditer(text):  # the collection's own, not one nested before it
        end: list[int] = []
        items = list(json_array_items(text, found.end(), path, end))
        emptied = text[: found.end()] + "[" + "\n" * text.count("\n", found.end(), end[0]) + "]" + text[end[0] :]
        document = loads(emptied, path)
        if not isinstance(document, dict) or document.get("type") != "OrderedCollection":
            break
        if document.get("orderedItems") == []:
            return items
    raise ReadError(path, "not a Mastodon outbox: expected an OrderedCollection with orderedItems")


def _addresses(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()
