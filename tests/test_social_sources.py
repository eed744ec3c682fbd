"""Mastodon and Bluesky accounts and Bluesky repository exports as sources, against loopback
servers that speak their wire formats (social_server.py): paging, since-cursors, rate limits,
the accounts' own opt-outs, bad answers, and scoring each language with its own lexicon."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from car_files import build_repo_car, truncated
from social_server import SocialServer
from support import consent

from sugarglass.affect import Analyzers as analyzers
from sugarglass.affect import LanguageGuesser
from sugarglass.errors import ReadError, SugarglassError
from sugarglass.ingest import ingest_work
from sugarglass.sources.accounts import AccountPoller
from sugarglass.sources.report import ReadReport
from sugarglass.sources.social import RateLimited
from sugarglass.store import Store
from sugarglass.work import load_work

LANGUAGES = {"languages": {"fr": "vader-fr", "pt": "leia"}, "non_english": "skip"}


@pytest.fixture
def social(no_proxies):
    with SocialServer() as running:
        yield running


def mastodon(social: SocialServer, id: str = "river", account: str = "@river@river.example", **options) -> dict:
    return {"id": id, "kind": "mastodon", "account": account, "instance": social.url(), **options, "consent": consent()}


def bluesky(social: SocialServer, id: str = "delta", actor: str = "delta.example.social", **options) -> dict:
    return {"id": id, "kind": "bluesky", "actor": actor, "service": social.url(), **options, "consent": consent()}


def stored(work, source_id: str) -> dict[str, tuple]:
    """post id -> (language, analyzer, text, compound) of what the store holds for a source."""
    with Store(work.store_path) as store:
        rows = store.db.execute(
            "SELECT p.post_id, p.language, p.analyzer, p.text, f.compound FROM posts p JOIN feelings f ON f.post = p.id"
            " WHERE p.source_id = ?", (source_id,)).fetchall()
    return {row[0]: row[1:] for row in rows}


# -- Mastodon ---------------------------------------------------------------------------------


def test_a_mastodon_account_is_read_page_by_page_public_posts_only_and_each_language_by_its_own_lexicon(make_work, social):
    social.add_mastodon_account("river")
    kept = [social.add_status("river", f"<p>We planted tree number {n} by the river today, thank you all!</p>")["id"]
            for n in range(85)]
    french = social.add_status("river", "<p>Quelle honte, la mairie a expulsé les familles du squat.</p>", language="fr")["id"]
    portuguese = social.add_status("river", "<p>Que alegria, conseguimos a horta comunitária!</p>", language="pt-BR")["id"]
    social.add_status("river", "<p>Only for followers</p>", visibility="private")
    social.add_status("river", "<p>Quietly shared</p>", visibility="unlisted")
    social.add_status("river", "<p>A boost of someone else</p>", reblog=True)
    social.add_status("river", "<p>A reply to someone</p>", reply=True)
    work = load_work(make_work(mastodon(social), analyzer=LANGUAGES))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
    assert result.added == 87 and result.left_out == {"not public": 1}
    pages = [path for path, _ in social.requests if "/statuses" in path]
    assert len(pages) == 3, "85 + 2 public statuses come in three pages of 40, through the Link header"
    held = stored(work, "river")
    assert set(held) == {*kept, french, portuguese}
    assert held[french][:2] == ("fr", "vader-fr") and held[french][3] < -0.3
    assert held[portuguese][:2] == ("pt", "leia") and held[portuguese][3] > 0.3
    assert held[kept[0]][:2] == ("en", "vader")
    assert all("Sugarglass/" in agent for _, agent in social.requests)


def test_a_deleted_status_is_not_read(make_work, social):
    social.add_mastodon_account("river")
    kept = social.add_status("river", "<p>Still here</p>")["id"]
    social.delete_status("river", social.add_status("river", "<p>Taken back by its author</p>")["id"])
    work = load_work(make_work(mastodon(social)))
    with Store(work.store_path) as store:
        ingest_work(work, store)
    assert set(stored(work, "river")) == {kept}


def test_a_second_ingest_asks_only_for_what_is_newer_and_adds_only_that(make_work, social):
    social.add_mastodon_account("river")
    first = social.add_status("river", "<p>Our first meeting is on Thursday.</p>")
    work = load_work(make_work(mastodon(social)))
    with Store(work.store_path) as store:
        ingest_work(work, store)
        again = ingest_work(work, store)[0]
        assert again.added == 0 and again.unchanged
        social.add_status("river", "<p>What a wonderful turnout, thank you!</p>")
        newer = ingest_work(work, store)[0]
        assert newer.added == 1
    statuses = [path for path, _ in social.requests if "/statuses" in path]
    assert "min_id=0" in statuses[0] and f"min_id={first['id']}" in statuses[-1]


@pytest.mark.parametrize(("account", "signal"), [
    ({"note": "<p>Tenants' union. #NoBot please</p>"}, "profile note says #nobot"),
    ({"note": "<p>Art and <a href='x'>#noai</a></p>"}, "profile note says #noai"),
    ({"fields": [("Bots", "#nobots")]}, "profile field 'Bots' says #nobots"),
    ({"noindex": True}, "asks not to be indexed (noindex)"),
    ({"suspended": True}, "the account is suspended"),
])
def test_an_account_that_says_no_is_refused_by_its_signal_before_any_status_is_read(make_work, social, account, signal):
    social.add_mastodon_account("river", **account)
    social.add_status("river", "<p>Hello</p>")
    work = load_work(make_work(mastodon(social)))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
        assert signal in result.skipped and "@river@river.example" in result.note
        assert store.counts() == {}
        ledger = store.account_signals("river")
    assert signal in ledger["refused"]
    assert not any("/statuses" in path for path, _ in social.requests)


def test_an_account_that_opts_out_later_has_its_stored_posts_withdrawn(make_work, social):
    social.add_mastodon_account("river", indexable=False, discoverable=True)
    social.add_status("river", "<p>We won the vote!</p>")
    work = load_work(make_work(mastodon(social)))
    with Store(work.store_path) as store:
        ingest_work(work, store)
        assert store.counts()["river"]["posts"] == 1
        assert store.account_signals("river")["signals"] == {"indexable": False, "discoverable": True, "noindex": False,
                                                             "locked": False, "bot": False}
        social.add_mastodon_account("river", id=_account_id(social), note="#nobot")
        (result,) = ingest_work(work, store)
        assert "its 1 stored post withdrawn" in result.skipped
        assert store.counts() == {} and store.withdrawn_at("river")
        assert "#nobot" in store.withdrawals()[-1]["reason"]


def _account_id(social: SocialServer) -> str:
    lookup = httpx.get(social.url("/api/v1/accounts/lookup?acct=river"))
    return lookup.json()["id"]


def test_the_manifest_records_the_account_signals_and_each_languages_analyzer(make_work, social):
    from sugarglass.run import analyzer_record

    social.add_mastodon_account("river", indexable=True)
    social.add_status("river", "<p>Merci à toutes et à tous pour cette belle journée !</p>", language="fr")
    work = load_work(make_work(mastodon(social), analyzer=LANGUAGES))
    with Store(work.store_path) as store:
        ingest_work(work, store)
        (summary,) = store.provenance(["river"])
    assert summary["languages"] == {"fr": {"vader-fr": 1}}
    assert summary["account"]["signals"]["indexable"] is True and summary["account"]["refused"] is None
    languages = {entry["language"]: entry for entry in analyzer_record(work)["languages"]}
    assert set(languages) == {"en", "fr", "pt"} and "MIT" in languages["fr"]["licence"]
    assert languages["pt"]["name"] == "leia" and "vader_lexicon_ptbr.txt" in languages["pt"]["lexicon"]


@pytest.mark.parametrize(("setup", "said"), [
    (lambda s: None, "no such account (HTTP 404)"),
    (lambda s: s.add_mastodon_account("river", gone=True), "gone (HTTP 410"),
    (lambda s: setattr(s, "answer_html", True), "answered text/html"),
    (lambda s: setattr(s, "malformed", True), "malformed JSON"),
    (lambda s: setattr(s, "loop_links", True), "a paging loop"),
    (lambda s: setattr(s, "huge_statuses_bytes", 10_000_000), "over the source's max_bytes"),
    (lambda s: (setattr(s, "huge_statuses_bytes", 10_000_000), setattr(s, "huge_send_length", False)), "over the source's max_bytes"),
])
def test_a_bad_answer_is_an_error_naming_the_account_and_request_and_nothing_stored_is_lost(make_work, social, tmp_path, setup, said):
    (tmp_path / "base.csv").write_text("text\nhope on the river\n", encoding="utf-8")
    base = {"id": "base", "kind": "csv", "path": "base.csv", "consent": consent()}
    work = load_work(make_work(base, mastodon(social)))
    with Store(work.store_path) as store:
        ingest_work(work, store, sources=["base"])
        if said != "no such account (HTTP 404)" and "gone" not in said:
            social.add_mastodon_account("river")
            for n in range(45):
                social.add_status("river", f"<p>Post {n} of many</p>")
        setup(social)
        with pytest.raises(SugarglassError) as raised:
            ingest_work(work, store)
        assert store.counts() == {"base": {"posts": 1, "non_english": 0, "with_text": 1}}
    message = str(raised.value)
    assert "mastodon account @river@river.example" in message and "GET http://127.0.0.1:" in message and said in message


def test_an_instance_that_never_answers_times_out_with_the_account_named(make_work, social):
    social.add_mastodon_account("river")
    social.hold = True
    work = load_work(make_work(mastodon(social, timeout_seconds=0.5)))
    with Store(work.store_path) as store, pytest.raises(ReadError, match=r"@river@river\.example .*no (complete )?response"):
        ingest_work(work, store)


def test_on_error_skip_counts_the_failed_read_and_the_other_sources_go_on(make_work, social, tmp_path):
    (tmp_path / "base.csv").write_text("text\nhope on the river\n", encoding="utf-8")
    work = load_work(make_work({"id": "base", "kind": "csv", "path": "base.csv", "consent": consent()},
                               mastodon(social, on_error="skip")))
    with Store(work.store_path) as store:
        base, river = ingest_work(work, store)
    assert base.added == 1 and river.added == 0 and river.bad == 1
    assert "no such account" in river.report.problems[0][1]


def test_a_rate_limit_is_waited_out_by_an_ingest_and_a_live_poll_comes_back_at_the_reset(make_work, social):
    social.add_mastodon_account("river")
    for n in range(100):
        social.add_status("river", f"<p>Post {n}: the river is rising</p>")
    social.rate_limit, social.rate_window_seconds = 2, 1
    work = load_work(make_work(mastodon(social)))
    started = time.monotonic()
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
    assert result.added == 100 and time.monotonic() - started >= 0.5, "four requests, two a second: it waited"
    social.reset_rate_limit()
    social.add_status("river", "<p>One more</p>")
    social.rate_limit, social.rate_window_seconds = 1, 60
    poller = AccountPoller(work.source("river"), lambda: None)
    try:
        now = time.time()
        assert poller.poll(now) is None, "a live poll never waits out a limit"
        assert poller.state()["next_due"] >= now + 50, "the next poll is due at the reset, a minute away"
    finally:
        poller.close()


def test_the_api_refuses_to_wait_past_the_sources_limit(social):
    from sugarglass.sources.mastodon import api_for
    from sugarglass.work import MastodonSource

    source = MastodonSource.model_validate(mastodon(social, max_rate_wait_seconds=5))
    social.add_mastodon_account("river")
    social.rate_limit, social.rate_window_seconds = 1, 3600
    with httpx.Client() as client:
        api = api_for(source, client, wait=True)
        api.get(social.url("/api/v1/accounts/lookup?acct=river"))
        with pytest.raises(RateLimited, match="rate limited until"):
            api.get(social.url("/api/v1/accounts/lookup?acct=river"))


# -- Bluesky ----------------------------------------------------------------------------------


def test_a_bluesky_account_is_read_cursor_by_cursor_without_reposts_or_replies(make_work, social):
    social.add_bluesky_actor("delta.example.social")
    own = [social.add_post("delta.example.social", f"Day {n} of the strike: we are still here and strong!")["rkey"]
           for n in range(120)]
    pt = social.add_post("delta.example.social", "Que tristeza, perdemos a votação.", langs=["pt"])["rkey"]
    social.add_post("delta.example.social", "Reposted words", repost_of="other.example.social")
    social.add_post("delta.example.social", "A reply", reply=True)
    work = load_work(make_work(bluesky(social), analyzer=LANGUAGES))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
        assert result.added == 121 and result.left_out == {"repost": 1}
        assert len([p for p, _ in social.requests if "getAuthorFeed" in p]) == 2
        held = stored(work, "delta")
        assert set(held) == {*own, pt} and held[pt][:2] == ("pt", "leia") and held[pt][3] < 0
        social.add_post("delta.example.social", "A fresh post after the meeting, full of hope.")
        before = len(social.requests)
        (again,) = ingest_work(work, store)
    assert again.added == 1
    assert len([p for p, _ in social.requests[before:] if "getAuthorFeed" in p]) == 1, "stops at the newest post it has"


@pytest.mark.parametrize(("labels", "options", "signal"), [
    (["!no-unauthenticated"], {}, "(!no-unauthenticated)"),
    (["no-art-use"], {"opt_out_labels": ["no-art-use"]}, "labelled 'no-art-use'"),
])
def test_a_bluesky_author_who_asked_not_to_be_read_is_refused_by_their_label(make_work, social, labels, options, signal):
    social.add_bluesky_actor("delta.example.social", labels=labels)
    social.add_post("delta.example.social", "hello")
    work = load_work(make_work(bluesky(social, **options)))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
        assert signal in result.skipped and store.counts() == {}
    assert not any("getAuthorFeed" in path for path, _ in social.requests)


def test_a_bluesky_post_labelled_by_its_author_is_left_out(make_work, social):
    social.add_bluesky_actor("delta.example.social")
    social.add_post("delta.example.social", "Keep this one")
    social.add_post("delta.example.social", "Not for logged-out eyes", labels=["!no-unauthenticated"])
    work = load_work(make_work(bluesky(social)))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
    assert result.added == 1 and result.left_out == {"labelled as an opt-out": 1}


@pytest.mark.parametrize(("setup", "said"), [
    (lambda s: None, "InvalidRequest — Profile not found"),
    (lambda s: setattr(s, "loop_links", True), "a paging loop"),
    (lambda s: setattr(s, "answer_html", True), "answered text/html"),
    (lambda s: setattr(s, "huge_statuses_bytes", 10_000_000), "over the source's max_bytes"),
    (lambda s: setattr(s, "malformed", True), "malformed JSON"),
    (lambda s: setattr(s, "hold", True), "response within 0.5 s"),
])
def test_a_bad_bluesky_answer_names_the_account_and_the_request(make_work, social, setup, said):
    if "Profile" not in said:
        social.add_bluesky_actor("delta.example.social")
        for n in range(150):
            social.add_post("delta.example.social", f"Post {n}")
    setup(social)
    work = load_work(make_work(bluesky(social, timeout_seconds=0.5)))
    with Store(work.store_path) as store:
        with pytest.raises(ReadError) as raised:
            ingest_work(work, store)
        assert store.counts() == {}
    assert "bluesky account delta.example.social (GET http://127.0.0.1:" in str(raised.value) and said in str(raised.value)


def test_a_bluesky_rate_limit_in_unix_seconds_is_waited_out(make_work, social):
    social.add_bluesky_actor("delta.example.social")
    for n in range(250):
        social.add_post("delta.example.social", f"Post {n}: hope")
    social.rate_limit, social.rate_window_seconds = 2, 1
    work = load_work(make_work(bluesky(social)))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
    assert result.added == 250


# -- repository exports -----------------------------------------------------------------------


def _repo(did: str) -> bytes:
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc)
    records = [("app.bsky.feed.post", f"3k{n:011d}", {"$type": "app.bsky.feed.post", "text": f"Export post {n}: we did it, thank you!",
                                                      "createdAt": (moment + timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
                                                      "langs": ["en"]}) for n in range(30)]
    records.append(("app.bsky.feed.post", "3kzzzzzzzzzzz", {"$type": "app.bsky.feed.post", "text": "Nous avons gagné, merci !",
                                                            "createdAt": "2026-04-01T10:00:00.000Z", "langs": ["fr"]}))
    records.append(("app.bsky.feed.like", "3klike0000000", {"$type": "app.bsky.feed.like", "createdAt": "2026-03-02T00:00:00Z",
                                                            "subject": {"uri": "at://did:plc:x/app.bsky.feed.post/1", "cid": "bafy"}}))
    records.append(("app.bsky.actor.profile", "self", {"$type": "app.bsky.actor.profile", "displayName": "Delta"}))
    return build_repo_car(did, records)


def test_a_bluesky_repository_export_gives_its_posts_only(make_work, tmp_path):
    (tmp_path / "repo.car").write_bytes(_repo("did:plc:deltadeltadeltadeltadel"))
    work = load_work(make_work({"id": "export", "kind": "bluesky-repo", "path": "repo.car", "consent": consent()}, analyzer=LANGUAGES))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
        assert result.added == 31
        assert ingest_work(work, store)[0].unchanged
    held = stored(work, "export")
    assert held["3kzzzzzzzzzzz"][:2] == ("fr", "vader-fr") and held["3k00000000000"][2].startswith("Export post 0")


@pytest.mark.parametrize("damage", [truncated, lambda data: b"PK\x03\x04 this is a zip, not a CAR"])
def test_a_cut_or_foreign_repository_file_is_an_error_naming_it(make_work, tmp_path, damage):
    (tmp_path / "repo.car").write_bytes(damage(_repo("did:plc:deltadeltadeltadeltadel")))
    work = load_work(make_work({"id": "export", "kind": "bluesky-repo", "path": "repo.car", "consent": consent()}))
    with Store(work.store_path) as store:
        with pytest.raises(ReadError, match=r"repo\.car: not a complete CAR file"):
            ingest_work(work, store)
        assert store.counts() == {}


def test_the_repository_export_is_read_through_the_real_getrepo_endpoint(social, tmp_path):
    from sugarglass.sources.bluesky import read_repo_car
    from sugarglass.work import BlueskyRepoSource

    social.add_bluesky_actor("delta.example.social")
    social.add_post("delta.example.social", "From the live repository", langs=["en"])
    did = httpx.get(social.url("/xrpc/app.bsky.actor.getProfile?actor=delta.example.social")).json()["did"]
    answer = httpx.get(social.url(f"/xrpc/com.atproto.sync.getRepo?did={did}"))
    (tmp_path / "repo.car").write_bytes(answer.content)
    source = BlueskyRepoSource.model_validate({"id": "export", "kind": "bluesky-repo", "path": "repo.car", "consent": consent()})
    posts = list(read_repo_car(source, tmp_path / "repo.car", ReadReport(tmp_path / "repo.car", "fail")))
    assert [post.text for post in posts] == ["From the live repository"]


# -- the work file ------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "said"), [
    ({"account": "river"}, "not a full account like '@name@host.example'"),
    ({"instance": "ftp://river.example"}, "is not an http:// or https:// URL"),
])
def test_a_mistyped_account_is_refused_with_its_key(make_work, social, change, said):
    with pytest.raises(SugarglassError, match=said):
        load_work(make_work(mastodon(social, **change)))


def test_a_language_given_another_languages_lexicon_is_refused(make_work, social):
    with pytest.raises(SugarglassError, match="leia is made for 'pt'; a language is only scored by an analyzer made for it"):
        load_work(make_work(mastodon(social), analyzer={"languages": {"fr": "leia"}}))


def test_the_default_instance_is_the_accounts_own_host(make_work, social):
    source = dict(mastodon(social))
    del source["instance"]
    work = load_work(make_work(source))
    assert work.source("river").base_url == "https://river.example"
    assert json.loads(json.dumps(work.source("river").account)) == "@river@river.example"


def test_a_read_cut_by_max_pages_goes_on_where_it_stopped_and_skips_nothing(make_work, social):
    social.add_mastodon_account("river")
    ids = [social.add_status("river", f"<p>Day {n} at the river camp</p>")["id"] for n in range(100)]
    work = load_work(make_work(mastodon(social, max_pages=1)))
    with Store(work.store_path) as store:
        added = [ingest_work(work, store)[0].added for _ in range(4)]
    assert added == [40, 40, 20, 0], "oldest first, forty a read, each read from the last one's newest"
    assert set(stored(work, "river")) == set(ids)


def test_a_live_poll_cut_by_a_rate_limit_keeps_what_it_read_and_goes_on_at_the_reset(make_work, social):
    from sugarglass.ingest import ingest_account

    social.add_mastodon_account("river")
    ids = [social.add_status("river", f"<p>Note {n} from the picket line</p>")["id"] for n in range(100)]
    social.rate_limit, social.rate_window_seconds = 3, 3600  # the lookup and two pages, then 429
    work = load_work(make_work(mastodon(social)))
    with Store(work.store_path) as store:
        poller = AccountPoller(work.source("river"), lambda: store.source_cursor("river"))
        try:
            now = time.time()
            fetched = poller.poll(now)
            assert len(fetched.posts) == 80 and fetched.retry_at > now + 3000
            ingest_account(work, work.source("river"), store, analyzers(), LanguageGuesser(), fetched, poller.report)
            assert poller.state()["next_due"] == pytest.approx(fetched.retry_at)
            social.reset_rate_limit()
            social.rate_limit = None
            rest = poller.poll(fetched.retry_at)
        finally:
            poller.close()
        assert [post.id for post in rest.posts] == ids[80:]


@pytest.mark.parametrize("description", ["Union news. #nobot, thanks", "Art, not data. #NoAI."])
def test_a_bluesky_description_refuses_with_the_tag_however_it_is_punctuated(make_work, social, description):
    social.add_bluesky_actor("delta.example.social", description=description)
    work = load_work(make_work(bluesky(social)))
    with Store(work.store_path) as store:
        (result,) = ingest_work(work, store)
    assert "profile description says #no" in result.skipped


def test_a_post_heard_through_jetstream_with_an_opt_out_label_is_left_out(social):
    from sugarglass.sources.jetstream import heard
    from sugarglass.work import BlueskySource

    source = BlueskySource.model_validate(bluesky(social, opt_out_labels=["no-art"]))
    report = ReadReport("jetstream", "skip")
    record = {"$type": "app.bsky.feed.post", "text": "not for you", "createdAt": "2026-12-01T10:00:00Z",
              "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "no-art"}]}}
    event = {"did": "did:plc:x", "time_us": 5, "kind": "commit",
             "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "3k1", "record": record}}
    assert heard(source, "did:plc:x", json.dumps(event), report) is None and report.left_out == {"labelled as an opt-out": 1}
    record["labels"]["values"] = []
    assert heard(source, "did:plc:x", json.dumps(event), report).post.text == "not for you"


@pytest.mark.parametrize(("frame", "said"), [
    ("{not json", "not JSON"),
    (json.dumps({"did": "did:plc:x", "kind": "commit"}), "without time_us"),
    (json.dumps({"did": "did:plc:x", "time_us": 3, "kind": "commit",
                 "commit": {"operation": "create", "collection": "app.bsky.feed.post", "record": {"text": "x"}}}), "without rkey"),
])
def test_a_malformed_jetstream_frame_is_counted_and_the_stream_goes_on(social, frame, said):
    from sugarglass.sources.jetstream import heard
    from sugarglass.work import BlueskySource

    source = BlueskySource.model_validate(bluesky(social))
    report = ReadReport("jetstream", "skip")
    assert heard(source, "did:plc:x", frame, report) is None
    assert report.bad == 1 and said in report.problems[0][1]


def test_a_jetstream_url_that_is_not_a_websocket_is_refused_with_its_key(make_work, social):
    with pytest.raises(SugarglassError, match="jetstream.*is not a ws:// or wss:// URL"):
        load_work(make_work(bluesky(social, jetstream="https://jetstream.example/subscribe")))
