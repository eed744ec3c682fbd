"""Feeds through the store and into a live run: a real HTTP server on loopback, a real store."""

from __future__ import annotations

import threading
import time

import pytest
from feeds_server import FeedServer, Route

from support import consent, source
from sugarglass.erasure import withdraw_source
from sugarglass.ingest import ingest_work
from sugarglass.live.hub import LiveHub
from sugarglass.live.loop import Installation
from sugarglass.store import Store
from sugarglass.work import load_work

RSS_TYPE = {"Content-Type": "application/rss+xml"}
HTML_TYPE = {"Content-Type": "text/html"}
pytestmark = pytest.mark.usefixtures("no_proxies")


def rss(*items: tuple[str, str, str]) -> str:
    body = "".join(f"<item><title>{t}</title><guid isPermaLink=\"false\">{g}</guid><link>{link}</link>"
                   f"<pubDate>Sat, 18 Feb 2023 12:0{i}:00 +0000</pubDate></item>" for i, (g, link, t) in enumerate(items))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'


def page(meta: str = "") -> Route:
    return Route(f"<html><head>{meta}</head><body>x</body></html>", headers=HTML_TYPE)


def feed(server: FeedServer, **options) -> dict:
    return {"id": "news", "kind": "feed", "url": server.url("/feed.xml"), "consent": consent("score"), **options}


def test_a_feed_is_ingested_without_the_items_its_publisher_opted_out(make_work, server):
    server.routes["/feed.xml"] = Route(rss(("a", "/a", "We won the vote today!"), ("b", "/b", "Reserved words"),
                                           ("c", "/c", "A sad day for the river")), headers=RSS_TYPE)
    server.routes["/a"], server.routes["/c"] = page(), page()
    server.routes["/b"] = page('<meta name="tdm-reservation" content="1">')
    work = load_work(make_work(feed(server)))
    with Store(work.store_path) as store:
        [result] = ingest_work(work, store)
        assert (result.read, result.added) == (2, 2)
        assert result.left_out == {"opted out of text and data mining": 1}
        assert sorted(r[0] for r in store.db.execute("SELECT post_id FROM posts")) == ["a", "c"]
        assert store.db.execute("SELECT count(*) FROM posts WHERE text IS NOT NULL").fetchone()[0] == 0
        [again] = ingest_work(work, store)
        assert again.unchanged


def test_a_feed_refused_whole_by_its_header_stores_nothing(make_work, server):
    server.routes["/feed.xml"] = Route(rss(("a", "/a", "x")), headers={**RSS_TYPE, "tdm-reservation": "1"})
    work = load_work(make_work(feed(server)))
    with Store(work.store_path) as store:
        [result] = ingest_work(work, store)
        assert result.added == 0 and store.db.execute("SELECT count(*) FROM posts").fetchone()[0] == 0


def test_a_withdrawn_feed_is_not_fetched_again_and_the_work_goes_on(make_work, server, tmp_path):
    (tmp_path / "a.csv").write_text("text\nhope on the river\n", encoding="utf-8")
    server.routes["/feed.xml"] = Route(rss(("a", "/a", "First news")), headers=RSS_TYPE)
    server.routes["/a"] = page()
    work = load_work(make_work(source("base", "csv", "a.csv"), feed(server)))
    with Store(work.store_path) as store:
        ingest_work(work, store)
        withdraw_source(store, "news", "the publisher asked")
        hits = server.hits["/feed.xml"]
        (tmp_path / "a.csv").write_text("text\nhope on the river\nand a new post\n", encoding="utf-8")
        base, news = ingest_work(work, store)
        assert (base.source, base.added) == ("base", 1)
        assert (news.source, news.read, news.skipped) == ("news", 0, f"withdrawn on {store.withdrawn_at('news')[:10]}")
        assert news.path == server.url("/feed.xml") and server.hits["/feed.xml"] == hits


def test_a_live_run_polls_its_feed_and_new_items_enter_the_signal(make_work, server, tmp_path):
    (tmp_path / "a.csv").write_text("text,created_at\nold hope,2023-02-01T00:00:00Z\nold anger,2023-02-02T00:00:00Z\n", encoding="utf-8")
    server.routes["/feed.xml"] = Route(rss(("a", "/a", "First news")), headers=RSS_TYPE)
    server.routes["/a"], server.routes["/b"] = page(), page()
    work = load_work(make_work(
        source("base", "csv", "a.csv"), feed(server, poll_seconds=30),
        society={"preset": "book", "options": {"agents": 50}}, canvas={"width": 60, "height": 80},
        live={"tick_seconds": 0.01, "checkpoint_every": 1000},
    ))
    hub = LiveHub()
    installation = Installation(work, work.live, hub, tmp_path / "out", max_ticks=10_000)
    stop = threading.Event()
    thread = threading.Thread(target=installation.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while server.hits["/feed.xml"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        while installation.tick < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.hits["/feed.xml"] == 1, "polled once, then not again before poll_seconds"
        assert installation.pollers["news"].state()["seen"] == ["a"]
        with Store(work.store_path) as store:
            assert store.db.execute("SELECT count(*) FROM posts WHERE source_id = 'news'").fetchone()[0] == 1
            withdraw_source(store, "news", "the publisher asked")
        while "news" in installation.pollers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "news" not in installation.pollers, "a withdrawn feed is no longer polled"
    finally:
        stop.set()
        thread.join(timeout=60)
    assert installation.failed is None
    with Store(work.store_path) as store:
        assert store.db.execute("SELECT count(*) FROM posts WHERE source_id = 'news'").fetchone()[0] == 0
