"""Feed sources against a real HTTP server on 127.0.0.1: parsing, every opt-out, the schedule,
and each kind of bad input."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from feeds_server import FeedServer, Route
from pydantic import ValidationError
from support import consent

from sugarglass import __version__
from sugarglass.errors import ReadError
from sugarglass.sources.feeds import (
    OPTED_OUT,
    UNCHECKED,
    FeedPoller,
    FeedSource,
    fetch_feed,
)
from sugarglass.sources.report import ReadReport

RSS = "application/rss+xml"
HTML = "text/html; charset=utf-8"
pytestmark = pytest.mark.usefixtures("no_proxies")


def rss(*items: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title><link>/</link>{"".join(items)}</channel></rss>'


def item(guid: str | None, link: str | None, title: str, description: str = "", date: str | None = None) -> str:
    parts = [f"<title>{title}</title>", f"<description>{description}</description>"]
    parts += [f'<guid isPermaLink="false">{guid}</guid>'] if guid else []
    parts += [f"<link>{link}</link>"] if link else []
    parts += [f"<pubDate>{date}</pubDate>"] if date else []
    return f"<item>{''.join(parts)}</item>"


def page(*meta: str) -> str:
    return f"<!doctype html><html><head><title>x</title>{''.join(meta)}</head><body><p>text</p></body></html>"


def feed_source(server: FeedServer, path: str = "/feed.xml", **options) -> FeedSource:
    return FeedSource.model_validate({"id": "news", "kind": "feed", "url": server.url(path), "consent": consent(), **options})


def serve_feed(server: FeedServer, *items: str, headers: dict[str, str] | None = None) -> None:
    server.routes["/feed.xml"] = Route(rss(*items), headers={"Content-Type": RSS, **(headers or {})})


def serve_pages(server: FeedServer, *paths: str) -> None:
    for path in paths:
        server.routes[path] = Route(page(), headers={"Content-Type": HTML})


def read(source: FeedSource, client: httpx.Client | None = None):
    report = ReadReport(Path(source.id), source.on_error)
    return fetch_feed(source, report, client), report


# -- reading feeds ----------------------------------------------------------------------------


def test_rss_items_become_posts(server):
    serve_feed(
        server,
        item("a-1", "/posts/1", "Hope", "at &lt;b&gt;last&lt;/b&gt;", "Tue, 10 Jun 2025 04:00:00 +0200"),
        item(None, "/posts/2", "No guid, no date"),
    )
    serve_pages(server, "/posts/1", "/posts/2")
    fetched, report = read(feed_source(server))
    assert [(p.id, p.source, p.line) for p in fetched.posts] == [("a-1", "news", 1), (server.url("/posts/2"), "news", 2)]
    assert fetched.posts[0].text == "Hope\n\nat <b>last</b>"
    assert fetched.posts[0].created_at == datetime(2025, 6, 10, 2, 0, tzinfo=timezone.utc)
    assert fetched.posts[1].created_at is None
    assert fetched.body_sha256 == hashlib.sha256(server_body(server)).hexdigest()
    assert fetched.skipped == [] and report.bad == 0
    assert server.agents[0] == f"Sugarglass/{__version__} (+https://example.org/sugarglass; honours TDMRep)"


def server_body(server: FeedServer) -> bytes:
    body = server.routes["/feed.xml"].body
    return body.encode() if isinstance(body, str) else body


def test_atom_entries_become_posts(server):
    server.routes["/atom.xml"] = Route(
        """<?xml version="1.0" encoding="utf-8"?>
        <feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:feed</id><updated>2025-06-01T00:00:00Z</updated>
        <entry><id>urn:e1</id><title>First</title><link href="/e/1"/><updated>2025-06-01T12:30:00+01:00</updated>
          <content type="html">&lt;p&gt;Together we grow&lt;/p&gt;</content></entry>
        <entry><id>urn:e2</id><title>Second</title><link href="/e/2"/><published>2025-06-02T08:00:00Z</published>
          <updated>2025-06-03T08:00:00Z</updated><summary>short</summary></entry>
        </feed>""",
        headers={"Content-Type": "application/atom+xml"},
    )
    serve_pages(server, "/e/1", "/e/2")
    fetched, _ = read(feed_source(server, "/atom.xml"))
    assert [(p.id, p.text) for p in fetched.posts] == [("urn:e1", "First\n\n<p>Together we grow</p>"), ("urn:e2", "Second\n\nshort")]
    assert [p.created_at for p in fetched.posts] == [
        datetime(2025, 6, 1, 11, 30, tzinfo=timezone.utc),
        datetime(2025, 6, 2, 8, 0, tzinfo=timezone.utc),
    ]


def test_item_without_id_or_link_is_a_bad_record(server):
    serve_feed(server, item(None, None, "Orphan"), item("ok", None, "Fine"))
    with pytest.raises(ReadError, match=r"^http://127\.0\.0\.1:\d+/feed\.xml: item 1 has neither an id nor a link$"):
        read(feed_source(server))
    fetched, report = read(feed_source(server, on_error="skip"))
    assert [p.id for p in fetched.posts] == ["ok"]
    assert report.bad == 1 and report.problems == [(1, "item 1 has neither an id nor a link")]


def test_source_config_is_checked():
    base = {"id": "news", "kind": "feed", "url": "https://example.org/feed.xml", "consent": consent()}
    assert FeedSource.model_validate(base).poll_seconds == 900
    for bad in ({"url": "ftp://example.org/feed"}, {"url": "example.org/feed"}, {"poll_seconds": 5}, {"extra": 1}, {"id": "News!"}):
        with pytest.raises(ValidationError):
            FeedSource.model_validate({**base, **bad})
    with pytest.raises(ValidationError, match="consent"):
        FeedSource.model_validate({k: v for k, v in base.items() if k != "consent"})


# -- opt-outs ---------------------------------------------------------------------------------

FEED_LEVEL = {
    "tdm-reservation header": (
        {"/feed.xml": {"tdm-reservation": "1", "tdm-policy": "https://pub.example/policy.json"}},
        "header tdm-reservation: 1 (policy https://pub.example/policy.json)",
    ),
    "X-Robots-Tag header": ({"/feed.xml": {"X-Robots-Tag": "noindex, noai"}}, "header X-Robots-Tag: noindex, noai"),
    "Content-Usage header": ({"/feed.xml": {"Content-Usage": "train-ai=n, search=y"}}, "header Content-Usage: train-ai=n, search=y"),
    "tdmrep.json": ({"/.well-known/tdmrep.json": '[{"location": "/feed*", "tdm-reservation": 1}]'}, "/.well-known/tdmrep.json reserves /feed*"),
    "robots.txt": ({"/robots.txt": "User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n"}, "/robots.txt Content-Usage: / train-ai=n"),
}


@pytest.mark.parametrize("case", FEED_LEVEL, ids=list(FEED_LEVEL))
def test_feed_level_opt_out_refuses_the_whole_feed(server, caplog, case):
    setup, reason = FEED_LEVEL[case]
    serve_feed(server, item("a", "/posts/a", "A"), headers=setup.get("/feed.xml"))
    serve_pages(server, "/posts/a")
    for path, body in setup.items():
        if path != "/feed.xml":
            server.routes[path] = Route(body)
    with caplog.at_level(logging.WARNING, logger="sugarglass.feeds"):
        fetched, report = read(feed_source(server))
    assert fetched.posts == []
    assert len(fetched.skipped) == 1
    url, why = fetched.skipped[0]
    assert url == server.url("/feed.xml") and reason in why
    assert report.left_out[OPTED_OUT] == 1
    assert server.hits["/posts/a"] == 0
    assert any("refused whole" in r.message and reason in r.message for r in caplog.records)


ITEM_LEVEL = {
    "meta tdm-reservation": ({"page": page('<meta name="tdm-reservation" content="1">')}, '<meta name="tdm-reservation" content="1">'),
    "meta robots noai": ({"page": page('<meta name="robots" content="noindex, noai">')}, '<meta name="robots" content="noindex, noai">'),
    "X-Robots-Tag header": ({"headers": {"X-Robots-Tag": "noai"}}, "header X-Robots-Tag: noai"),
    "tdm-reservation header": ({"headers": {"tdm-reservation": "1"}}, "header tdm-reservation: 1"),
    "Content-Usage header": ({"headers": {"Content-Usage": "train-ai=n"}}, "header Content-Usage: train-ai=n"),
    "tdmrep.json": (
        {"/.well-known/tdmrep.json": '[{"location": "/closed/*", "tdm-reservation": 1, "tdm-policy": "https://p.example/x"}, {"location": "/", "tdm-reservation": 0}]'},
        "/.well-known/tdmrep.json reserves /closed/* (policy https://p.example/x)",
    ),
    "robots.txt": (
        {"/robots.txt": "User-agent: otherbot\nContent-Usage: train-ai=y\n\nUser-agent: *\nDisallow:\nContent-Usage: train-ai=y\nContent-Usage: /closed/ train-ai=n\n"},
        "/robots.txt Content-Usage: /closed/ train-ai=n",
    ),
}


@pytest.mark.parametrize("case", ITEM_LEVEL, ids=list(ITEM_LEVEL))
def test_item_level_opt_out_skips_only_that_item(server, caplog, case):
    setup, reason = ITEM_LEVEL[case]
    serve_feed(server, item("open", "/open/1", "Open"), item("closed", "/closed/1", "Closed"))
    serve_pages(server, "/open/1")
    server.routes["/closed/1"] = Route(setup.get("page", page()), headers={"Content-Type": HTML, **setup.get("headers", {})})
    for path, body in setup.items():
        if path.startswith("/"):
            server.routes[path] = Route(body)
    with caplog.at_level(logging.WARNING, logger="sugarglass.feeds"):
        fetched, report = read(feed_source(server))
    assert [p.id for p in fetched.posts] == ["open"]
    assert [item_id for item_id, _ in fetched.skipped] == ["closed"]
    assert reason in fetched.skipped[0][1]
    assert report.left_out[OPTED_OUT] == 1 and report.bad == 0
    assert any("item closed skipped" in r.message and reason in r.message for r in caplog.records)


def test_permissive_signals_do_not_refuse(server):
    serve_feed(server, item("a", "/a", "A"), headers={"tdm-reservation": "0", "Content-Usage": "train-ai=y"})
    server.routes["/a"] = Route(page('<meta name="robots" content="noimageai, noindex">', '<meta name="tdm-reservation" content="0">'), headers={"Content-Type": HTML, "X-Robots-Tag": "nosnippet"})
    server.routes["/.well-known/tdmrep.json"] = Route('[{"location": "/private/*", "tdm-reservation": 1}]')
    server.routes["/robots.txt"] = Route("User-agent: otherbot\nContent-Usage: train-ai=n\n")
    fetched, _ = read(feed_source(server))
    assert [p.id for p in fetched.posts] == ["a"] and fetched.skipped == []


def test_without_item_pages_site_files_still_apply(server):
    serve_feed(server, item("open", "/open/1", "Open"), item("closed", "/closed/1", "Closed"))
    server.routes["/.well-known/tdmrep.json"] = Route('[{"location": "/closed/", "tdm-reservation": 1}]')
    fetched, _ = read(feed_source(server, check_item_pages=False))
    assert [p.id for p in fetched.posts] == ["open"] and [i for i, _ in fetched.skipped] == ["closed"]
    assert server.hits["/open/1"] == server.hits["/closed/1"] == 0


def test_item_page_that_cannot_be_read_is_skipped_and_retried(server):
    serve_feed(server, item("a", "/a", "A"), item("b", "/b", "B"))
    serve_pages(server, "/a")
    server.routes["/b"] = Route("down", 503)
    poller = FeedPoller(feed_source(server))
    first = poller.poll(0.0)
    assert [p.id for p in first.posts] == ["a"]
    assert first.skipped == [("b", f"{UNCHECKED}: {server.url('/b')}: HTTP 503")]
    serve_pages(server, "/b")
    assert [p.id for p in poller.poll(1000.0).posts] == ["b"]
    poller.close()


@pytest.mark.parametrize("body", ["oops", '{"location": "/"}', '[{"location": "/", "tdm-reservation": "maybe"}]'])
def test_unreadable_tdmrep_fails_the_feed(server, body):
    serve_feed(server, item("a", "/a", "A"))
    server.routes["/.well-known/tdmrep.json"] = Route(body)
    with pytest.raises(ReadError, match=rf"^http://127\.0\.0\.1:\d+/feed\.xml: {UNCHECKED}: http://127\.0\.0\.1:\d+/\.well-known/tdmrep\.json: "):
        read(feed_source(server))


def test_robots_server_error_fails_the_feed(server):
    serve_feed(server, item("a", "/a", "A"))
    server.routes["/robots.txt"] = Route("", 500)
    with pytest.raises(ReadError, match=r"robots\.txt: HTTP 500"):
        read(feed_source(server))


def test_site_files_are_fetched_once_per_poller(server):
    serve_feed(server, *(item(f"i{n}", f"/p/{n}", f"Item {n}") for n in range(4)))
    serve_pages(server, *(f"/p/{n}" for n in range(4)))
    server.routes["/robots.txt"] = Route("User-agent: *\nDisallow:\n")
    poller = FeedPoller(feed_source(server))
    assert len(poller.poll(0.0).posts) == 4
    serve_feed(server, *(item(f"i{n}", f"/p/{n}", f"Item {n}") for n in range(6)))
    serve_pages(server, "/p/4", "/p/5")
    assert len(poller.poll(900.0).posts) == 2
    assert server.hits["/robots.txt"] == server.hits["/.well-known/tdmrep.json"] == 1
    assert server.hits["/feed.xml"] == 2
    assert server.hits["/p/0"] == 1, "items already seen are not checked again"
    poller.poll(86400.0)
    assert server.hits["/robots.txt"] == 2, "site files are looked up again after a day"
    poller.close()


# -- the schedule -----------------------------------------------------------------------------


def test_backoff_doubles_caps_and_resets(server, caplog):
    server.routes["/feed.xml"] = Route("boom", 500)
    poller = FeedPoller(feed_source(server, poll_seconds=60, max_backoff_seconds=500))
    assert poller.due(0.0)
    now, delays = 0.0, []
    with caplog.at_level(logging.WARNING, logger="sugarglass.feeds"):
        for _ in range(4):
            assert poller.poll(now) is None
            delays.append(poller.next_due - now)
            assert not poller.due(now + delays[-1] - 1) and poller.due(now + delays[-1])
            now = poller.next_due
    assert delays == [120, 240, 480, 500]
    assert poller.state()["failures"] == 4
    assert "HTTP 500" in caplog.records[-1].message
    serve_feed(server, item("a", "/a", "A"))
    serve_pages(server, "/a")
    assert [p.id for p in poller.poll(now).posts] == ["a"]
    assert poller.failures == 0 and poller.next_due == now + 60
    server.routes["/feed.xml"] = Route("boom", 500)
    assert poller.poll(now + 60) is None and poller.next_due == now + 60 + 120
    poller.close()


def test_poll_returns_only_new_items_across_restore(server):
    serve_feed(server, item("a", "/a", "A"), item("b", "/b", "B"))
    serve_pages(server, "/a", "/b", "/c")
    source = feed_source(server)
    poller = FeedPoller(source)
    assert [p.id for p in poller.poll(0.0).posts] == ["a", "b"]
    assert poller.poll(900.0).posts == []
    serve_feed(server, item("c", "/c", "C"), item("a", "/a", "A"), item("b", "/b", "B"))
    assert [p.id for p in poller.poll(1800.0).posts] == ["c"]
    checkpoint = json.loads(json.dumps(poller.state()))
    assert checkpoint == {"next_due": 2700.0, "failures": 0, "seen": ["a", "b", "c"]}
    poller.close()

    restarted = FeedPoller(source)
    restarted.restore(checkpoint)
    assert not restarted.due(2000.0) and restarted.due(2700.0)
    serve_feed(server, item("d", "/d", "D"), item("c", "/c", "C"))
    serve_pages(server, "/d")
    assert [p.id for p in restarted.poll(2700.0).posts] == ["d"]
    assert restarted.state()["seen"] == ["c", "d"], "ids the feed dropped are forgotten"
    with pytest.raises(ValueError, match="seen must be a list of ids"):
        restarted.restore({"next_due": None, "failures": 0, "seen": "abc"})
    restarted.close()


def test_failed_poll_keeps_what_was_seen(server):
    serve_feed(server, item("a", "/a", "A"))
    serve_pages(server, "/a")
    poller = FeedPoller(feed_source(server, on_error="skip"))
    assert [p.id for p in poller.poll(0.0).posts] == ["a"]
    before = poller.state()["seen"]
    server.routes["/feed.xml"] = Route("<html>maintenance</html>", headers={"Content-Type": HTML})
    assert poller.poll(900.0) is None
    assert poller.state()["seen"] == before and poller.report.bad == 1
    serve_feed(server, item("a", "/a", "A"))
    assert poller.poll(poller.next_due).posts == []
    poller.close()


def test_refused_items_are_remembered_and_not_fetched_again(server):
    serve_feed(server, item("closed", "/closed", "C"))
    server.routes["/closed"] = Route(page(), headers={"Content-Type": HTML, "X-Robots-Tag": "noai"})
    poller = FeedPoller(feed_source(server))
    assert [i for i, _ in poller.poll(0.0).skipped] == ["closed"]
    assert poller.poll(900.0).skipped == []
    assert server.hits["/closed"] == 1
    poller.close()


# -- bad input --------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


BAD = {
    "malformed feed": (Route(rss(item("a", "/a", "A"))[:-30], headers={"Content-Type": RSS}), "malformed feed"),
    "not XML": (Route(page(), headers={"Content-Type": HTML}), "not an RSS or Atom feed"),
    "not a feed": (Route('{"items": []}', headers={"Content-Type": "application/json"}), "not an RSS or Atom feed"),
    "404": (Route("gone", 404), "HTTP 404"),
    "500": (Route("boom", 500), "HTTP 500"),
    "timeout": (Route(hold=True), "no response within 0.5 s"),
    "redirect loop": (Route(status=302, headers={"Location": "/feed.xml"}), "too many redirects"),
    "huge, declared": (Route(b"x" * 5000), "over the source's max_bytes of 2,048 bytes"),
    "huge, undeclared": (Route(b"<" * 50_000, send_length=False), "over the source's max_bytes of 2,048 bytes"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_feed_fails_naming_the_url_or_is_counted(server, case):
    route, reason = BAD[case]
    server.routes["/feed.xml"] = route
    options = {"timeout_seconds": 0.5, "max_bytes": 2048}
    with pytest.raises(ReadError) as raised:
        read(feed_source(server, **options))
    assert str(raised.value).startswith(server.url("/feed.xml") + ": ") and reason in str(raised.value)
    fetched, report = read(feed_source(server, on_error="skip", **options))
    assert fetched.posts == [] and fetched.body_sha256 == ""
    assert report.bad == 1 and reason in report.problems[0][1]


def test_unreachable_host():
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    source = FeedSource.model_validate({"id": "news", "kind": "feed", "url": url, "consent": consent()})
    with pytest.raises(ReadError, match=rf"^{url}: cannot connect"):
        read(source)
    with httpx.Client() as client:
        fetched, report = read(source.model_copy(update={"on_error": "skip"}), client)
    assert fetched.posts == [] and report.bad == 1 and "cannot connect" in report.problems[0][1]
