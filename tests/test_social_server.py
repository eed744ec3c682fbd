"""The stand-in social servers and the repo CAR builder, checked against the formats they copy:
atproto's own CAR reader and MST interop vectors, Mastodon's paging and limits, XRPC's errors,
Jetstream's filters and replay."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import libipld
import pytest
from atproto_core.car import CAR
from atproto_core.cid import CID
from car_files import build_repo_car, mst_blocks, record_cid, tid, truncated
from social_server import SocialServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

pytestmark = pytest.mark.usefixtures("no_proxies")


@pytest.fixture
def social():
    with SocialServer() as running:
        yield running


def walk_repo(car: CAR) -> tuple[dict, list[tuple[str, dict]], int]:
    """The commit, every (key, record) of its MST in tree order, and the tree's height."""
    commit = car.blocks[car.root]

    def walk(link: bytes | None) -> tuple[list[tuple[str, dict]], int]:
        if link is None:
            return [], 0
        node = car.blocks[CID.from_decoded_bytes(link)]
        found, height = walk(node["l"])
        key = b""
        for entry in node["e"]:
            key = key[: entry["p"]] + entry["k"]
            found.append((key.decode("ascii"), car.blocks[CID.from_decoded_bytes(entry["v"])]))
            below, deeper = walk(entry["t"])
            found += below
            height = max(height, deeper)
        return found, height + 1

    records, height = walk(commit["data"])
    return commit, records, height


# -- CAR files ------------------------------------------------------------------------------


def test_mst_roots_match_the_atproto_interop_vectors():
    value = bytes([0x01, 0x71, 0x12, 0x20]) + libipld.decode_cid("bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454")["hash"]["digest"]

    def root(*rkeys: str) -> str:
        return libipld.encode_cid(mst_blocks([(f"com.example.record/{rkey}".encode(), value) for rkey in sorted(rkeys)])[0])

    assert libipld.encode_cid(mst_blocks([])[0]) == "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    assert root("3jqfcqzm3fo2j") == "bafyreibj4lsc3aqnrvphp5xmrnfoorvru4wynt6lwidqbm2623a6tatzdu"
    assert root("3jqfcqzm3fn2j", "3jqfcqzm3fo2j", "3jqfcqzm3fp2j", "3jqfcqzm3fs2j", "3jqfcqzm3ft2j", "3jqfcqzm3fu2j") == "bafyreifnqrwbk6ffmyaz5qtujqrzf5qmxf7cbxvgzktl4e3gabuxbtatv4"
    assert root("3jqfcqzm3ft2j", "3jqfcqzm3fz2j") == "bafyreidfcktqnfmykz2ps3dbul35pepleq7kvv526g47xahuz3rqtptmky"
    assert root("3jqfcqzm3ft2j", "3jqfcqzm3fz2j", "3jqfcqzm3fx2j") == "bafyreiavxaxdz7o7rbvr3zg2liox2yww46t7g6hkehx4i4h3lwudly7dhy"
    assert root("3jqfcqzm3ft2j", "3jqfcqzm3fz2j", "3jqfcqzm3fx2j", "3jqfcqzm4fd2j") == "bafyreig4jv3vuajbsybhyvb7gggvpwh2zszwfyttjrj6qwvcsp24h6popu"


def test_a_repo_car_reads_back_through_atprotos_reader():
    did = "did:plc:abcdefghijklmnopqrstuvwx"
    posts = [("app.bsky.feed.post", tid(1_740_000_000_000_000 + n * 60_000_000), {"$type": "app.bsky.feed.post", "text": f"line {n}", "createdAt": "2025-02-19T21:20:00.000Z", "langs": ["en"]}) for n in range(300)]
    others = [
        ("app.bsky.actor.profile", "self", {"$type": "app.bsky.actor.profile", "displayName": "Test"}),
        ("app.bsky.feed.like", tid(1_740_000_000_000_001), {"$type": "app.bsky.feed.like", "subject": {"uri": "at://did:plc:x/app.bsky.feed.post/3l", "cid": record_cid({"a": 1})}, "createdAt": "2025-02-19T21:20:00.000Z"}),
    ]
    data = build_repo_car(did, posts + others, rev="3ljcxwkjlk322")
    car = CAR.from_bytes(data)
    commit, records, height = walk_repo(car)
    assert {k: commit[k] for k in ("did", "version", "rev", "prev")} == {"did": did, "version": 3, "rev": "3ljcxwkjlk322", "prev": None}
    assert isinstance(commit["sig"], bytes) and len(commit["sig"]) == 64
    keys = [key for key, _ in records]
    assert keys == sorted(f"{c}/{r}" for c, r, _ in posts + others)
    assert dict(records) == {f"{c}/{r}": record for c, r, record in posts + others}
    assert height > 2, "300 keys should spread over several MST layers"
    assert libipld.decode_car(data)[0] == {"version": 1, "roots": [car.root._raw_byte_form]}


def test_a_truncated_car_is_refused():
    data = build_repo_car("did:plc:abcdefghijklmnopqrstuvwx", [("app.bsky.feed.post", tid(), {"text": "x" * 200})])
    cut = truncated(data)
    assert len(data) // 2 < len(cut) < len(data)
    with pytest.raises(ValueError):
        CAR.from_bytes(cut)


# -- Mastodon -------------------------------------------------------------------------------


def test_lookup_answers_accounts_and_refusals(social):
    alice = social.add_mastodon_account("alice", note="<p>#nobot please</p>", fields=[("site", "<a>x</a>")], noindex=True)
    social.add_mastodon_account("gone", gone=True)
    suspended = social.add_mastodon_account("sus", suspended=True, note="hidden")
    found = httpx.get(social.url("/api/v1/accounts/lookup?acct=alice@127.0.0.1"), headers={"User-Agent": "probe/1"})
    assert found.status_code == 200
    assert {k: found.json()[k] for k in ("id", "acct", "note", "noindex", "indexable")} == {"id": alice["id"], "acct": "alice", "note": "<p>#nobot please</p>", "noindex": True, "indexable": True}
    assert found.json()["fields"][0]["name"] == "site"
    assert httpx.get(social.url("/api/v1/accounts/lookup?acct=nobody")).json() == {"error": "Record not found"}
    assert httpx.get(social.url("/api/v1/accounts/lookup?acct=gone")).status_code == 410
    sus = httpx.get(social.url("/api/v1/accounts/lookup?acct=sus")).json()
    assert sus["suspended"] is True and sus["note"] == ""
    assert httpx.get(social.url(f"/api/v1/accounts/{suspended['id']}/statuses")).status_code == 410
    assert social.requests[0] == ("/api/v1/accounts/lookup?acct=alice@127.0.0.1", "probe/1")


def test_statuses_page_by_link_header_newest_first(social):
    account = social.add_mastodon_account("alice")
    public = [social.add_status("alice", f"<p>note {n}</p>", visibility="unlisted" if n % 5 == 0 else "public") for n in range(45)]
    social.add_status("alice", "<p>only friends</p>", visibility="private")
    social.add_status("alice", "<p>just you</p>", visibility="direct")
    boost = social.add_status("alice", "<p>theirs</p>", reblog=True)
    reply = social.add_status("alice", "<p>answer</p>", reply=True)
    assert boost["reblog"]["account"]["acct"] == "wren@elsewhere.example" and boost["content"] == ""

    url = social.url(f"/api/v1/accounts/{account['id']}/statuses?limit=20&exclude_reblogs=true&exclude_replies=1")
    seen, pages = [], []
    while url:
        response = httpx.get(url)
        pages.append(response)
        seen += response.json()
        url = response.links.get("next", {}).get("url")
    assert [s["id"] for s in seen] == [s["id"] for s in reversed(public)]
    assert len(pages) == 3 and "next" not in pages[-1].links
    assert "limit=20&exclude_reblogs=true&exclude_replies=1&max_id=" in pages[0].links["next"]["url"]
    assert pages[0].links["prev"]["url"].endswith(f"min_id={public[-1]['id']}")
    assert seen[0]["created_at"].endswith("Z") and len(seen[0]["created_at"]) == 24

    everything = httpx.get(social.url(f"/api/v1/accounts/{account['id']}/statuses?limit=99")).json()
    assert len(everything) == 40 and [everything[0]["id"], everything[1]["id"]] == [reply["id"], boost["id"]]
    newer = httpx.get(social.url(f"/api/v1/accounts/{account['id']}/statuses?limit=2&min_id={public[10]['id']}")).json()
    assert [s["id"] for s in newer] == [public[12]["id"], public[11]["id"]]
    social.delete_status("alice", public[-1]["id"])
    assert httpx.get(social.url(f"/api/v1/accounts/{account['id']}/statuses?exclude_replies=true&exclude_reblogs=true&limit=1")).json()[0]["id"] == public[-2]["id"]


def test_rate_limits_answer_429_until_reset(social):
    social.add_mastodon_account("alice")
    social.rate_limit = 2
    first = httpx.get(social.url("/api/v1/accounts/lookup?acct=alice"))
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
    reset = datetime.fromisoformat(first.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert 290 < (reset - datetime.now(timezone.utc)).total_seconds() <= 300
    assert httpx.get(social.url("/api/v1/accounts/lookup?acct=alice")).status_code == 200
    over = httpx.get(social.url("/api/v1/accounts/lookup?acct=alice"))
    assert over.status_code == 429 and over.json() == {"error": "Too many requests"} and over.headers["X-RateLimit-Remaining"] == "0"
    social.reset_rate_limit()
    assert httpx.get(social.url("/api/v1/accounts/lookup?acct=alice")).status_code == 200


def test_misbehaving_mastodon(social):
    account = social.add_mastodon_account("alice")
    for n in range(3):
        social.add_status("alice", f"<p>{n}</p>")
    statuses = social.url(f"/api/v1/accounts/{account['id']}/statuses?limit=1")
    social.fail_next["/api/v1/accounts/"] = (503, {"Retry-After": "1"}, b"busy")
    assert httpx.get(statuses).status_code == 503
    assert httpx.get(statuses).status_code == 200

    social.loop_links = True
    assert httpx.get(statuses).links["next"]["url"] == statuses
    social.loop_links = False

    social.malformed = True
    with pytest.raises(json.JSONDecodeError):
        httpx.get(statuses).json()
    social.malformed = False

    social.huge_statuses_bytes = 2_000_000
    sized = httpx.get(statuses)
    assert len(sized.content) == 2_000_000 == int(sized.headers["Content-Length"]) and isinstance(sized.json(), list)
    social.huge_send_length = False
    unsized = httpx.get(statuses)
    assert "Content-Length" not in unsized.headers and len(unsized.content) == 2_000_000
    social.huge_statuses_bytes = None

    social.answer_html = True
    page = httpx.get(statuses)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html") and b"maintenance" in page.content
    social.answer_html = False

    social.hold = True
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(statuses, timeout=0.3)


# -- Bluesky --------------------------------------------------------------------------------


def test_profiles_and_xrpc_errors(social):
    profile = social.add_bluesky_actor("ash.test", display_name="Ash", description="plants", labels=["!no-unauthenticated"])
    social.add_bluesky_actor("hid.test", missing=True)
    assert profile["did"].startswith("did:plc:") and len(profile["did"]) == 32
    for actor in ("ash.test", profile["did"]):
        got = httpx.get(social.url(f"/xrpc/app.bsky.actor.getProfile?actor={actor}")).json()
        assert (got["handle"], got["displayName"], got["description"]) == ("ash.test", "Ash", "plants")
        assert got["labels"] == [{"src": profile["did"], "uri": f"at://{profile['did']}/app.bsky.actor.profile/self", "val": "!no-unauthenticated", "cts": got["labels"][0]["cts"]}]
    for actor in ("nobody.test", "hid.test"):
        missing = httpx.get(social.url(f"/xrpc/app.bsky.actor.getProfile?actor={actor}"))
        assert missing.status_code == 400 and missing.json() == {"error": "InvalidRequest", "message": "Profile not found"}
    assert httpx.get(social.url("/xrpc/app.bsky.feed.getAuthorFeed?actor=ash.test&limit=101")).status_code == 400
    social.rate_limit = 1
    httpx.get(social.url("/xrpc/app.bsky.actor.getProfile?actor=ash.test"))
    over = httpx.get(social.url("/xrpc/app.bsky.actor.getProfile?actor=ash.test"))
    assert over.status_code == 429 and over.json()["error"] == "RateLimitExceeded"
    assert over.headers["RateLimit-Remaining"] == "0" and int(over.headers["RateLimit-Reset"]) > datetime.now().timestamp()


def test_author_feed_pages_by_cursor_and_filters(social):
    social.add_bluesky_actor("ash.test")
    own = [social.add_post("ash.test", f"thought {n}") for n in range(7)]
    repost = social.add_post("ash.test", "someone else's words", repost_of="birch.test")
    reply = social.add_post("ash.test", "yes, agreed", reply=True, langs=None, labels=["nudity"])
    feed_url = social.url("/xrpc/app.bsky.feed.getAuthorFeed?actor=ash.test&limit=3&filter=posts_no_replies")
    items, cursor, pages = [], None, 0
    while True:
        body = httpx.get(feed_url + (f"&cursor={cursor}" if cursor else "")).json()
        items += body["feed"]
        pages += 1
        cursor = body.get("cursor")
        if cursor is None:
            break
    assert pages == 3
    assert [item["post"]["uri"] for item in items] == [repost["uri"]] + [post["uri"] for post in reversed(own)]
    assert items[0]["reason"]["$type"] == "app.bsky.feed.defs#reasonRepost" and items[0]["post"]["author"]["handle"] == "birch.test"
    assert items[1]["post"]["record"] == own[-1]["record"] and items[1]["post"]["cid"] == record_cid(own[-1]["record"])

    everything = httpx.get(social.url("/xrpc/app.bsky.feed.getAuthorFeed?actor=ash.test")).json()
    assert "cursor" not in everything and everything["feed"][0]["post"]["uri"] == reply["uri"]
    first = everything["feed"][0]
    assert "langs" not in first["post"]["record"] and first["post"]["labels"][0]["val"] == "nudity"
    assert first["reply"]["parent"]["$type"] == "app.bsky.feed.defs#postView" and first["post"]["record"]["reply"]["parent"]["uri"] == first["reply"]["parent"]["uri"]

    social.delete_post("ash.test", own[-1]["rkey"])
    social.delete_post("birch.test", repost["rkey"])
    left = httpx.get(social.url("/xrpc/app.bsky.feed.getAuthorFeed?actor=ash.test&filter=posts_no_replies")).json()["feed"]
    assert [item["post"]["uri"] for item in left] == [post["uri"] for post in reversed(own[:-1])]

    social.loop_links = True
    looped = [httpx.get(feed_url + "&cursor=1::1").json()["cursor"] for _ in range(2)]
    assert looped[0] == looped[1]
    social.loop_links = False
    assert httpx.get(feed_url + "&cursor=garbage").status_code == 400


def test_xrpc_replies_fit_atprotos_lexicon_models(social):
    from atproto_client import models
    from atproto_client.models.utils import get_or_create

    social.add_bluesky_actor("ash.test", display_name="Ash", labels=["!no-unauthenticated"])
    social.add_post("ash.test", "plain")
    social.add_post("ash.test", "theirs", repost_of="birch.test")
    social.add_post("ash.test", "an answer", reply=True, labels=["porn"])
    feed = httpx.get(social.url("/xrpc/app.bsky.feed.getAuthorFeed?actor=ash.test&limit=2")).json()
    parsed = get_or_create(feed, models.AppBskyFeedGetAuthorFeed.Response, strict=True)
    assert isinstance(parsed.feed[0].reply.parent, models.AppBskyFeedDefs.PostView)
    assert isinstance(parsed.feed[1].reason, models.AppBskyFeedDefs.ReasonRepost) and parsed.cursor
    profile = httpx.get(social.url("/xrpc/app.bsky.actor.getProfile?actor=ash.test")).json()
    assert get_or_create(profile, models.AppBskyActorDefs.ProfileViewDetailed, strict=True).labels[0].val == "!no-unauthenticated"


def test_get_repo_serves_the_actors_records_as_a_car(social):
    did = social.add_bluesky_actor("ash.test", display_name="Ash")["did"]
    posts = [social.add_post("ash.test", f"thought {n}") for n in range(4)]
    social.add_post("ash.test", "theirs", repost_of="birch.test")
    response = httpx.get(social.url(f"/xrpc/com.atproto.sync.getRepo?did={did}"))
    assert response.headers["Content-Type"] == "application/vnd.ipld.car"
    commit, records, _ = walk_repo(CAR.from_bytes(response.content))
    assert commit["did"] == did
    collections = sorted({key.split("/")[0] for key, _ in records})
    assert collections == ["app.bsky.actor.profile", "app.bsky.feed.like", "app.bsky.feed.post", "app.bsky.feed.repost"]
    assert {key: record for key, record in records if key.startswith("app.bsky.feed.post/")} == {f"app.bsky.feed.post/{p['rkey']}": p["record"] for p in posts}
    assert httpx.get(social.url("/xrpc/com.atproto.sync.getRepo?did=did:plc:unknown")).json()["error"] == "RepoNotFound"
    social.malformed = True
    with pytest.raises(ValueError):
        CAR.from_bytes(httpx.get(social.url(f"/xrpc/com.atproto.sync.getRepo?did={did}")).content)


# -- Jetstream ------------------------------------------------------------------------------


def test_jetstream_filters_replays_and_drops(social):
    did = social.add_bluesky_actor("ash.test")["did"]
    url = social.start_jetstream()
    with connect(f"{url}?wantedCollections=app.bsky.feed.post&wantedDids={did}") as client:
        social.emit_post("someone.else", "not for this client")
        social.emit({"did": did, "kind": "commit", "commit": {"rev": tid(), "operation": "create", "collection": "app.bsky.feed.like", "rkey": tid(), "record": {}, "cid": record_cid({})}})
        identity = social.emit({"did": did, "kind": "identity", "identity": {"did": did, "handle": "ash.test", "seq": 1, "time": "2025-03-01T09:00:00.000Z"}})
        created = social.emit_post("ash.test", "fresh words", langs=("en", "de"))
        deleted = social.emit_delete(did, created["commit"]["rkey"])
        got = [json.loads(client.recv(timeout=2)) for _ in range(3)]
        assert got == [identity, created, deleted]
        assert created["commit"]["record"]["langs"] == ["en", "de"] and "record" not in deleted["commit"]
        assert created["time_us"] < deleted["time_us"]
        social.drop_clients()
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=2)
    with connect(f"{url}?wantedDids={did}&cursor={created['time_us']}") as again:
        assert json.loads(again.recv(timeout=2)) == deleted
        with pytest.raises(TimeoutError):
            again.recv(timeout=0.2)
    assert social.jetstream_queries[0] == {"wantedCollections": ["app.bsky.feed.post"], "wantedDids": [did]}
    assert social.jetstream_queries[1]["cursor"] == [str(created["time_us"])]
