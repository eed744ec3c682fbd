"""RSS and Atom feeds, polled on a schedule, read only where the publisher has not opted out.

A feed is a living source: it is fetched again and again, can fail at any time, and must not
be hammered while it does. So fetching (``fetch_feed``) is one step that either returns posts
or fails whole, and the schedule (``FeedPoller``) backs off on failure and remembers what it has
already returned. Every item is checked against every text-and-data-mining opt-out in ``tdm``
before it becomes a post; what is refused is logged with the reason.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import io
import logging
import xml.sax
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

import feedparser
import httpx

from ..errors import ReadError
from ..work import FeedSource
from ..records import Post
from .report import ReadReport
from .social import Schedule
from .tdm import Fetched, Limits, OriginRules, Unchecked, all_opt_outs, fetch

log = logging.getLogger("sugarglass.feeds")

SLUG = r"^[a-z0-9][a-z0-9_-]*$"
OPTED_OUT = "opted out of text and data mining"
UNCHECKED = "opt-outs could not be checked"
ORIGIN_RULES_MAX_AGE = 86400.0
"""A poller looks up each site's tdmrep.json and robots.txt again after a day, so a publisher
who opts out later is heard while the work is still running."""


def limits(source: FeedSource) -> Limits:
    return Limits(source.user_agent, source.timeout_seconds, source.max_bytes)


@dataclass
class FeedFetch:
    """One fetch of a feed: the posts it may give, and what was refused and why.

    ``skipped`` holds (item id or URL, reason) for each item refused by an opt-out or whose
    opt-outs could not be checked; a feed-level opt-out is one entry naming the feed.
    ``body_sha256`` is empty when the fetch failed and ``on_error = "skip"`` counted it.
    """

    posts: list[Post] = field(default_factory=list)
    body_sha256: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Outcome:
    """A fetch as the poller needs it: which ids to remember and which to try again."""

    fetch: FeedFetch
    refused: list[str] = field(default_factory=list)
    in_feed: set[str] = field(default_factory=set)


def fetch_feed(source: FeedSource, report: ReadReport, client: httpx.Client | None = None) -> FeedFetch:
    """Fetch and read a feed once. A failure raises ReadError naming the URL, or with
    ``on_error = "skip"`` is counted in ``report`` and gives an empty fetch."""
    with _client(client) as http:
        origins = OriginRules(lambda url: fetch(http, url, limits(source)))
        try:
            return _read(source, report, http, origins, seen=set()).fetch
        except ReadError as exc:
            if source.on_error == "fail":
                raise
            report.bad_record(None, str(exc))
            return FeedFetch()


def _client(client: httpx.Client | None) -> contextlib.AbstractContextManager[httpx.Client]:
    """The caller's client, left open, or one of our own, closed after use."""
    return contextlib.nullcontext(client) if client is not None else httpx.Client()


def _read(source: FeedSource, report: ReadReport, http: httpx.Client, origins: OriginRules, seen: set[str]) -> _Outcome:
    """Fetch, check the feed's opt-outs, parse, then check each item not in ``seen``."""
    origins.forget_failures()
    fetched = fetch(http, source.url, limits(source))
    if not fetched.ok:
        raise ReadError(source.url, f"HTTP {fetched.status}")
    digest = hashlib.sha256(fetched.body).hexdigest()
    try:
        reasons = all_opt_outs(fetched, origins, [source.url, fetched.url])
    except Unchecked as exc:
        raise ReadError(source.url, f"{UNCHECKED}: {exc}") from None
    if reasons:
        why = "; ".join(reasons)
        log.warning("feed %s (%s) refused whole: %s", source.id, source.url, why)
        report.leave_out(OPTED_OUT)
        return _Outcome(FeedFetch([], digest, [(source.url, why)]))
    outcome = _Outcome(FeedFetch([], digest, []))
    for position, entry in _entries(source, fetched):
        item_id = entry.get("id") or entry.get("link")
        if not item_id:
            _bad(source, report, f"item {position} has neither an id nor a link", position)
            continue
        if item_id in outcome.in_feed:
            report.leave_out("duplicate id in the feed")
            continue
        outcome.in_feed.add(item_id)
        if item_id in seen:
            continue
        text = "\n\n".join(part for part in (entry.get("title", ""), _body(entry)) if part.strip())
        if not text:
            report.leave_out("empty")
            continue
        link = entry.get("link")
        try:
            reasons = _item_opt_outs(source, http, origins, link) if link else []
        except Unchecked as exc:
            _skip(source, report, outcome, item_id, f"{UNCHECKED}: {exc}", UNCHECKED)
            continue
        if reasons:
            _skip(source, report, outcome, item_id, "; ".join(reasons), OPTED_OUT)
            outcome.refused.append(item_id)
            continue
        outcome.fetch.posts.append(Post(item_id, text, _time(entry), source.id, position))
    return outcome


def _entries(source: FeedSource, fetched: Fetched) -> list[tuple[int, feedparser.FeedParserDict]]:
    """(1-based position, entry) for each item, or a ReadError if this is not a sound feed.

    A document that is not well-formed XML fails whole rather than giving the items the
    lenient parser could salvage: a truncated feed would otherwise lose items silently.
    """
    headers = {"content-type": fetched.headers.get("content-type", "application/xml"), "content-location": fetched.url}
    parsed = feedparser.parse(io.BytesIO(fetched.body), response_headers=headers)
    problem = parsed.get("bozo_exception")
    if not parsed.version:
        detail = f" ({problem})" if problem else ""
        raise ReadError(source.url, f"not an RSS or Atom feed{detail}")
    if isinstance(problem, xml.sax.SAXException):
        raise ReadError(source.url, f"malformed feed: {problem}")
    return list(enumerate(parsed.entries, start=1))


def _body(entry: feedparser.FeedParserDict) -> str:
    content = entry.get("content")
    return content[0].get("value", "") if content else entry.get("summary", "")


def _time(entry: feedparser.FeedParserDict) -> datetime | None:
    """Published time, else updated, as aware UTC; feedparser gives both as UTC tuples."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc) if parsed else None


def _item_opt_outs(source: FeedSource, http: httpx.Client, origins: OriginRules, link: str) -> list[str]:
    """Reasons to refuse one item: its site's files, and its page's headers and meta tags."""
    if urlsplit(link).scheme not in ("http", "https"):
        raise Unchecked(f"{link}: not an http(s) link")
    if not source.check_item_pages:
        return origins.opt_outs(link)
    try:
        page = fetch(http, link, limits(source))
    except ReadError as exc:
        raise Unchecked(str(exc)) from None
    if not page.ok:
        raise Unchecked(f"{link}: HTTP {page.status}")
    return all_opt_outs(page, origins, [link, page.url])


def _skip(source: FeedSource, report: ReadReport, outcome: _Outcome, item_id: str, reason: str, why: str) -> None:
    log.warning("feed %s: item %s skipped: %s", source.id, item_id, reason)
    report.leave_out(why)
    outcome.fetch.skipped.append((item_id, reason))


def _bad(source: FeedSource, report: ReadReport, reason: str, position: int) -> None:
    """A bad item: raise naming the feed, or count it, as the source's ``on_error`` says."""
    if source.on_error == "fail":
        raise ReadError(source.url, reason)
    report.bad_record(position, reason)


class FeedPoller:
    """A feed's schedule: when it is due, back-off after failures, and the ids already given.

    ``poll`` returns only items not returned before. Checkpoint ``state()`` after the posts a
    poll returned are stored, so a restart neither loses nor repeats them.
    """

    def __init__(self, source: FeedSource, client: httpx.Client | None = None):
        self.source = source
        self.report = ReadReport(source.url, source.on_error)
        self.schedule = Schedule(source.poll_seconds, source.max_backoff_seconds)
        self.seen: set[str] = set()
        self._owns_client = client is None
        self._http = client if client is not None else httpx.Client()
        self._origins: OriginRules | None = None
        self._origins_since = 0.0

    def _get(self, url: str) -> Fetched:
        return fetch(self._http, url, limits(self.source))

    @property
    def next_due(self) -> float | None:
        return self.schedule.next_due

    @property
    def failures(self) -> int:
        return self.schedule.failures

    def due(self, now: float) -> bool:
        return self.schedule.due(now)

    def poll(self, now: float) -> FeedFetch | None:
        """Fetch now; None if the fetch failed (logged, and the next one backed off). ``report``
        starts afresh with each poll, so it counts what this fetch skipped."""
        self.report = ReadReport(self.source.url, self.source.on_error)
        if self._origins is None or now - self._origins_since >= ORIGIN_RULES_MAX_AGE:
            self._origins, self._origins_since = OriginRules(self._get), now
        try:
            outcome = _read(self.source, self.report, self._http, self._origins, self.seen)
        except ReadError as exc:
            delay = self.schedule.failed(now, exc)
            log.warning("feed %s: fetch failed (%d in a row), next try in %g s: %s", self.source.id, self.failures, delay, exc)
            if self.source.on_error == "skip":
                self.report.bad_record(None, str(exc))
            return None
        self.schedule.succeeded(now)
        if outcome.in_feed:
            # Forget ids the feed no longer lists, so memory stays the size of the feed.
            self.seen = (self.seen & outcome.in_feed) | set(outcome.refused) | {post.id for post in outcome.fetch.posts}
        return outcome.fetch

    def close(self) -> None:
        """Close the HTTP client if the poller made it."""
        if self._owns_client:
            self._http.close()

    def state(self) -> dict:
        return {**self.schedule.state(), "seen": sorted(self.seen)}

    def restore(self, state: dict) -> None:
        """Take back a checkpoint from ``state()``; a malformed one is refused whole."""
        seen = state.get("seen")
        if not isinstance(seen, list) or not all(isinstance(item, str) for item in seen):
            raise ValueError(f"feed {self.source.id!r} state: seen must be a list of ids")
        self.schedule.restore(state, f"feed {self.source.id!r}")
        self.seen = set(seen)
