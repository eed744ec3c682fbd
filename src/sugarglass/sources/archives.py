"""Personal data exports: an X/Twitter archive's ``tweets.js`` and a Mastodon ``outbox.json``.

Both are one large JSON document. Their items are decoded one at a time from the array's
position in the text, so a bad item is named by the line it starts on, and a truncated file
fails at the line where it stops.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import ReadError
from ..records import Post
from ..work import MastodonOutboxSource, TwitterArchiveSource
from .report import ReadReport
from .text import parse_time, read_document

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"\s*")
_TWEETS_PREFIX = re.compile(r"\s*window\.YTD\.[A-Za-z_]+\.part\d+\s*=\s*")
PUBLIC = {"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"}


class _Located:
    """Turns character offsets into 1-based line numbers, cheaply, as offsets only grow."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def line_at(self, offset: int) -> int:
        if offset < self.offset:
            return self.text.count("\n", 0, offset) + 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def json_array_items(text: str, start: int, path: Path) -> Iterator[tuple[int, object]]:
    """(line, item) for each item of the JSON array that opens at ``text[start]``."""
    where = _Located(text)
    if start >= len(text) or text[start] != "[":
        raise ReadError(path, "expected a JSON array", where.line_at(start))
    position = _WHITESPACE.match(text, start + 1).end()
    if text.startswith("]", position):
        return
    while True:
        line = where.line_at(position)
        try:
            item, position = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            truncated = exc.pos >= len(text.rstrip())
            raise ReadError(path, "file ends inside the data (truncated?)" if truncated else f"not valid JSON: {exc.msg}", where.line_at(exc.pos)) from None
        yield line, item
        position = _WHITESPACE.match(text, position).end()
        if text.startswith(",", position):
            position = _WHITESPACE.match(text, position + 1).end()
        elif text.startswith("]", position):
            return
        else:
            at_end = position >= len(text)
            raise ReadError(path, "file ends inside the array (truncated?)" if at_end else "expected ',' or ']' between items", where.line_at(position))


def read_tweets_js(source: TwitterArchiveSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """Tweets from ``window.YTD.tweets.part0 = [{"tweet": {...}}, ...]``."""
    text = read_document(path, source.encoding)
    prefix = _TWEETS_PREFIX.match(text)
    if prefix is None:
        raise ReadError(path, "not a Twitter archive file: it should begin 'window.YTD.tweets.part0 = ['", 1)
    for line, item in json_array_items(text, prefix.end(), path):
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
        yield Post(tweet["id_str"], tweet["full_text"], created, source.id, line)


def read_mastodon_outbox(source: MastodonOutboxSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """Public notes from an ActivityPub OrderedCollection; boosts and non-public posts are
    left out (and counted), since only what the author published openly may be read."""
    text = read_document(path, source.encoding)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())
        raise ReadError(path, "file ends inside the data (truncated?)" if truncated else f"not valid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(document, dict) or document.get("type") != "OrderedCollection" or not isinstance(document.get("orderedItems"), list):
        raise ReadError(path, "not a Mastodon outbox: expected an OrderedCollection with orderedItems")
    start = re.search(r'"orderedItems"\s*:\s*', text)
    assert start is not None  # the parsed document has the key
    for line, activity in json_array_items(text, start.end(), path):
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
        yield Post(str(note.get("id") or activity.get("id") or f"line-{line}"), content, created, source.id, line)


def _addresses(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()
