"""Stand-ins for Mastodon, the Bluesky AppView (XRPC) and Jetstream on 127.0.0.1, speaking their
real wire formats, so the social sources are tested against real HTTP and WebSocket traffic:
paging by Link header and cursor, rate-limit headers, refusals (gone, suspended, labels) and the
ways a real server misbehaves (HTML maintenance pages, silence, loops, huge or broken bodies)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from car_files import build_repo_car, record_cid, tid, truncated
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

JSON = "application/json; charset=utf-8"
MAINTENANCE = b"<html><head><title>Down for maintenance</title></head><body><h1>We are down for maintenance</h1></body></html>"
FEED_FILTERS = ("posts_with_replies", "posts_no_replies", "posts_with_media", "posts_and_author_threads")
_FIRST_MOMENT = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
_STEP = timedelta(minutes=7)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    send_length: bool = True


def iso_ms(moment: datetime) -> str:
    """Both APIs write times as UTC ISO 8601 with milliseconds and a Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plc_did(handle: str) -> str:
    """A did:plc-shaped identifier (24 base32 characters) that always follows from the handle."""
    digest = base64.b32encode(hashlib.sha256(handle.encode("utf-8")).digest()).decode("ascii").lower()
    return "did:plc:" + digest[:24]


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": JSON, **(headers or {})}, json.dumps(payload).encode("utf-8"))


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@dataclass
class _Bucket:
    """One rate-limit window: requests counted from its first request until it resets."""

    used: int = 0
    resets_at: datetime | None = None


@dataclass
class _Subscriber:
    query: dict[str, list[str]]
    pending: list[dict] | None = field(default_factory=list)
    """Events emitted between the handshake and the session's start; None once live."""


@dataclass
class _Account:
    id: str
    username: str
    note: str
    fields: list[tuple[str, str]]
    noindex: bool
    indexable: bool
    discoverable: bool
    suspended: bool
    gone: bool
    bot: bool
    domain: str | None = None
    """Set for an account of another server, whose acct then carries the domain."""
    statuses: list[dict] = field(default_factory=list)


@dataclass
class _Actor:
    did: str
    handle: str
    display_name: str
    description: str
    labels: tuple[str, ...]
    missing: bool
    created_at: datetime
    like_rkey: str
    items: list[dict] = field(default_factory=list)
    """Feed items: {"post": post, "sort": (micros, seq)} plus "repost_rkey" and "reposted_at" for a repost."""


class SocialServer:
    """Mastodon and the Bluesky AppView on one real HTTP server, Jetstream on a second port once
    started. Tests add accounts and posts, then point a client at .url()."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.fail_next: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.rate_limit: int | None = None
        self.rate_window_seconds = 300
        self.answer_html = False
        self.hold = False
        self.loop_links = False
        self.malformed = False
        self.huge_statuses_bytes: int | None = None
        self.huge_send_length = True
        self.jetstream_queries: list[dict[str, list[str]]] = []
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._seq = 0
        self._last_tid_us = 0
        self._last_time_us = 0
        self._buckets = {"mastodon": _Bucket(), "bluesky": _Bucket()}
        self._accounts: dict[str, _Account] = {}
        self._actors: dict[str, _Actor] = {}
        self._elsewhere_account = _Account(self._next_account_id(), "wren", "", [], False, True, True, False, False, False, "elsewhere.example")
        wren = _Actor(plc_did("wren.elsewhere.example"), "wren.elsewhere.example", "Wren", "", (), False, _FIRST_MOMENT, tid(_micros(_FIRST_MOMENT)))
        self._elsewhere_post = self._new_post(wren, "A note from elsewhere that others answer.", None, ("en",), _FIRST_MOMENT, ())
        """What replies answer and the repo's like points at: a post by an actor of another server."""
        self._js_server = None
        self._js_thread: threading.Thread | None = None
        self._js_clients: dict[ServerConnection, _Subscriber] = {}
        self._js_log: list[dict] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "") -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def stop(self) -> None:
        self._release.set()
        if self._js_server is not None:
            self._js_server.shutdown()
            self._js_thread.join()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> SocialServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_rate_limit(self) -> None:
        with self._lock:
            for bucket in self._buckets.values():
                bucket.used, bucket.resets_at = 0, None

    # -- Mastodon -------------------------------------------------------------------------

    def add_mastodon_account(
        self,
        username: str,
        *,
        id: str | None = None,
        note: str = "",
        fields: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
        noindex: bool = False,
        indexable: bool = True,
        discoverable: bool = True,
        suspended: bool = False,
        gone: bool = False,
        bot: bool = False,
    ) -> dict:
        with self._lock:
            account = _Account(id or self._next_account_id(), username, note, [tuple(f) for f in fields], noindex, indexable, discoverable, suspended, gone, bot)
            self._accounts[username.lower()] = account
            return self._account_json(account)

    def add_status(
        self,
        username: str,
        text_html: str,
        *,
        id: str | None = None,
        created_at: datetime | None = None,
        visibility: str = "public",
        language: str | None = "en",
        reply: bool = False,
        reblog: bool = False,
        spoiler_text: str = "",
        sensitive: bool = False,
    ) -> dict:
        with self._lock:
            account = self._accounts[username.lower()]
            moment = self._moment(created_at)
            status = self._status_json(account, id or self._snowflake(moment), moment, text_html, visibility, language, spoiler_text, sensitive)
            if reply:
                status["in_reply_to_id"] = self._snowflake(moment - _STEP)
                status["in_reply_to_account_id"] = self._elsewhere_account.id
                status["mentions"] = [self._mention(self._elsewhere_account)]
            if reblog:
                inner = self._status_json(self._elsewhere_account, self._snowflake(moment - _STEP), moment - _STEP, text_html, "public", language, spoiler_text, sensitive)
                status.update(content="", spoiler_text="", sensitive=False, language=None, url=None, reblog=inner)
                status["uri"] += "/activity"
            account.statuses.append(status)
            return status

    def delete_status(self, username: str, status_id: str) -> None:
        with self._lock:
            account = self._accounts[username.lower()]
            account.statuses = [status for status in account.statuses if status["id"] != status_id]

    # -- Bluesky --------------------------------------------------------------------------

    def add_bluesky_actor(
        self,
        handle: str,
        *,
        did: str | None = None,
        display_name: str = "",
        description: str = "",
        labels: tuple[str, ...] | list[str] = (),
        missing: bool = False,
    ) -> dict:
        with self._lock:
            moment = self._moment(None)
            actor = _Actor(did or plc_did(handle), handle.lower(), display_name, description, tuple(labels), missing, moment, self._next_tid(moment))
            self._actors[actor.handle] = actor
            return self._profile_json(actor)

    def add_post(
        self,
        handle: str,
        text: str,
        *,
        created_at: datetime | None = None,
        langs: tuple[str, ...] | list[str] | None = ("en",),
        reply: bool = False,
        repost_of: str | None = None,
        labels: tuple[str, ...] | list[str] = (),
    ) -> dict:
        """A post in the actor's feed; with repost_of, a post by that other actor (added to
        their feed too) that this actor reposted."""
        with self._lock:
            actor = author = self._actors[handle.lower()]
            if repost_of is not None:
                if repost_of.lower() not in self._actors:
                    self.add_bluesky_actor(repost_of)
                author = self._actors[repost_of.lower()]
            moment = self._moment(created_at)
            parent = self._elsewhere_post if reply else None
            post = self._new_post(author, text, parent, langs, moment - _STEP if repost_of else moment, labels)
            if repost_of is not None:
                author.items.append({"post": post, "sort": (_micros(post["moment"]), self._next_seq())})
                actor.items.append({"post": post, "sort": (_micros(moment), self._next_seq()), "repost_rkey": self._next_tid(moment), "reposted_at": moment})
            else:
                actor.items.append({"post": post, "sort": (_micros(moment), self._next_seq())})
            return {key: post[key] for key in ("uri", "cid", "rkey", "record")}

    def delete_post(self, handle: str, rkey: str) -> None:
        """Remove the actor's post or repost with this rkey; a deleted post leaves every feed."""
        with self._lock:
            actor = self._actors[handle.lower()]
            gone = {item["post"]["uri"] for item in actor.items if item["post"]["rkey"] == rkey and item["post"]["author"] is actor}
            actor.items = [item for item in actor.items if rkey not in (item["post"]["rkey"], item.get("repost_rkey"))]
            for other in self._actors.values():
                other.items = [item for item in other.items if item["post"]["uri"] not in gone]

    # -- Jetstream ------------------------------------------------------------------------

    def start_jetstream(self) -> str:
        with self._lock:
            if self._js_server is None:
                self._js_server = serve(self._jetstream_session, "127.0.0.1", 0, process_request=self._jetstream_accept)
                self._js_thread = threading.Thread(target=self._js_server.serve_forever, daemon=True)
                self._js_thread.start()
            port = self._js_server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/subscribe"

    def emit(self, event: dict) -> dict:
        """Log the event for replay and send it to every connected client whose filters take it."""
        with self._lock:
            event = {**event}
            event.setdefault("time_us", self._next_time_us())
            self._js_log.append(event)
            frame = json.dumps(event)
            for connection, subscriber in self._js_clients.items():
                if not _wanted(event, subscriber.query):
                    continue
                if subscriber.pending is not None:
                    subscriber.pending.append(event)
                    continue
                try:
                    connection.send(frame)
                except ConnectionClosed:
                    pass
            return event

    def emit_post(self, handle_or_did: str, text: str, langs: tuple[str, ...] | list[str] | None = ("en",), rkey: str | None = None) -> dict:
        time_us = self._next_time_us()
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": iso_ms(datetime.fromtimestamp(time_us / 1e6, timezone.utc))}
        if langs is not None:
            record["langs"] = list(langs)
        commit = {"rev": tid(time_us), "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey or tid(time_us), "record": record, "cid": record_cid(record)}
        return self.emit({"did": self._did_of(handle_or_did), "time_us": time_us, "kind": "commit", "commit": commit})

    def emit_delete(self, did: str, rkey: str) -> dict:
        time_us = self._next_time_us()
        commit = {"rev": tid(time_us), "operation": "delete", "collection": "app.bsky.feed.post", "rkey": rkey}
        return self.emit({"did": self._did_of(did), "time_us": time_us, "kind": "commit", "commit": commit})

    def drop_clients(self) -> None:
        """Close every Jetstream connection as a restarting server does (1001, going away)."""
        with self._lock:
            connections = list(self._js_clients)
        for connection in connections:
            connection.close(1001, "restarting")

    def _jetstream_accept(self, connection: ServerConnection, request: Request) -> Response | None:
        """Subscribe during the handshake, so that once a client's connect() returns no event
        can slip past it; what is emitted before its session starts waits in `pending`."""
        parts = urlsplit(request.path)
        if parts.path != "/subscribe":
            return connection.respond(404, "not here\n")
        query = parse_qs(parts.query)
        with self._lock:
            self.jetstream_queries.append(query)
            self._js_clients[connection] = _Subscriber(query)
        return None

    def _jetstream_session(self, connection: ServerConnection) -> None:
        with self._lock:
            subscriber = self._js_clients[connection]
            cursor = _int_or_none(subscriber.query.get("cursor", [""])[0])
            replay = [event for event in self._js_log if event["time_us"] > cursor and _wanted(event, subscriber.query)] if cursor is not None else []
            for event in replay + [event for event in subscriber.pending if not any(event is sent for sent in replay)]:
                connection.send(json.dumps(event))
            subscriber.pending = None
        try:
            for _ in connection:
                pass
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._js_clients.pop(connection, None)

    # -- answering HTTP -------------------------------------------------------------------

    def answer(self, full_path: str, agent: str) -> Reply | None:
        """The reply to one GET; None means hold the request until the server stops."""
        with self._lock:
            self.requests.append((full_path, agent))
            for prefix in list(self.fail_next):
                if full_path.startswith(prefix):
                    status, headers, body = self.fail_next.pop(prefix)
                    return Reply(status, dict(headers), body)
            if self.hold:
                return None
            parts = urlsplit(full_path)
            query = parse_qsl(parts.query, keep_blank_values=True)
            if parts.path.startswith("/api/"):
                return self._answer_mastodon(parts.path, query)
            if parts.path.startswith("/xrpc/"):
                return self._answer_xrpc(parts.path, query)
            return Reply(404, {"Content-Type": "text/plain"}, b"not here")

    def _answer_mastodon(self, path: str, query: list[tuple[str, str]]) -> Reply:
        allowed, limits = self._count("mastodon")
        headers = {}
        if limits is not None:
            used, resets_at = limits
            headers = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)), "X-RateLimit-Reset": resets_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        if not allowed:
            return _json(429, {"error": "Too many requests"}, headers)
        if self.answer_html:
            return Reply(200, {"Content-Type": "text/html; charset=utf-8", **headers}, MAINTENANCE)
        params = dict(query)
        segments = path.strip("/").split("/")
        if path == "/api/v1/accounts/lookup":
            reply = self._lookup(params.get("acct", ""))
        elif len(segments) == 5 and segments[:3] == ["api", "v1", "accounts"] and segments[4] == "statuses":
            reply = self._statuses(segments[3], query)
        else:
            reply = _json(404, {"error": "Record not found"})
        reply.headers.update(headers)
        return reply

    def _lookup(self, acct: str) -> Reply:
        account = self._accounts.get(acct.lstrip("@").split("@")[0].lower())
        if account is None:
            return _json(404, {"error": "Record not found"})
        if account.gone:
            return _json(410, {"error": "This account is gone"})
        return _json(200, self._account_json(account))

    def _statuses(self, account_id: str, query: list[tuple[str, str]]) -> Reply:
        account = next((a for a in self._accounts.values() if a.id == account_id), None)
        if account is None:
            return _json(404, {"error": "Record not found"})
        if account.gone or account.suspended:
            return _json(410, {"error": "This account is not available"})
        params = dict(query)
        limit = min(max(_int_or_none(params.get("limit", "")) or 20, 1), 40)
        shown = [s for s in account.statuses if s["visibility"] in ("public", "unlisted")]
        if _truthy(params.get("exclude_reblogs")):
            shown = [s for s in shown if s["reblog"] is None]
        if _truthy(params.get("exclude_replies")):
            shown = [s for s in shown if s["in_reply_to_id"] is None or s["in_reply_to_account_id"] == account.id]
        shown.sort(key=lambda s: int(s["id"]), reverse=True)
        max_id, since_id, min_id = (_int_or_none(params.get(name, "")) for name in ("max_id", "since_id", "min_id"))
        page = [s for s in shown if (max_id is None or int(s["id"]) < max_id) and (since_id is None or int(s["id"]) > since_id)]
        if min_id is not None:
            page = [s for s in page if int(s["id"]) > min_id][-limit:]
        page = page[:limit]
        if self.huge_statuses_bytes is not None:
            return _huge_body(page or shown[:1], self.huge_statuses_bytes, self.huge_send_length)
        body = json.dumps(page).encode("utf-8")
        if self.malformed:
            body = body[: len(body) // 2]
        reply = Reply(200, {"Content-Type": JSON}, body)
        kept = [(k, v) for k, v in query if k not in ("max_id", "min_id", "since_id")]
        base = self.url(f"/api/v1/accounts/{account_id}/statuses")
        links = []
        if self.loop_links:
            links.append(f'<{base}?{urlencode(kept)}>; rel="next"')
        elif page and int(page[-1]["id"]) > int(shown[-1]["id"]):
            links.append(f'<{base}?{urlencode(kept + [("max_id", page[-1]["id"])])}>; rel="next"')
        if self.loop_links:  # the prev link, which pages forward in time, loops too: back to this very page
            links.append(f'<{base}?{urlencode(query)}>; rel="prev"')
        elif page:
            links.append(f'<{base}?{urlencode(kept + [("min_id", page[0]["id"])])}>; rel="prev"')
        if links:
            reply.headers["Link"] = ", ".join(links)
        return reply

    def _answer_xrpc(self, path: str, query: list[tuple[str, str]]) -> Reply:
        allowed, limits = self._count("bluesky")
        headers = {}
        if limits is not None:
            used, resets_at = limits
            headers = {
                "RateLimit-Limit": str(self.rate_limit),
                "RateLimit-Remaining": str(max(0, self.rate_limit - used)),
                "RateLimit-Reset": str(int(resets_at.timestamp())),
                "RateLimit-Policy": f"{self.rate_limit};w={self.rate_window_seconds}",
            }
        if not allowed:
            return _json(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers)
        if self.answer_html:
            return Reply(200, {"Content-Type": "text/html; charset=utf-8", **headers}, MAINTENANCE)
        params = dict(query)
        method = path.removeprefix("/xrpc/")
        if method == "app.bsky.actor.getProfile":
            reply = self._get_profile(params)
        elif method == "app.bsky.feed.getAuthorFeed":
            reply = self._get_author_feed(params)
        elif method == "com.atproto.sync.getRepo":
            reply = self._get_repo(params)
        else:
            reply = _json(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})
        reply.headers.update(headers)
        return reply

    def _find_actor(self, actor: str) -> _Actor | None:
        name = actor.lower()
        found = self._actors.get(name) or next((a for a in self._actors.values() if a.did == actor), None)
        return None if found is None or found.missing else found

    def _get_profile(self, params: dict[str, str]) -> Reply:
        if "actor" not in params:
            return _invalid('Params must have the property "actor"')
        actor = self._find_actor(params["actor"])
        if actor is None:
            return _invalid("Profile not found")
        return _json(200, self._profile_json(actor))

    def _get_author_feed(self, params: dict[str, str]) -> Reply:
        if "actor" not in params:
            return _invalid('Params must have the property "actor"')
        limit = _int_or_none(params.get("limit", "50"))
        if limit is None or not 1 <= limit <= 100:
            return _invalid("limit must be an integer from 1 to 100")
        feed_filter = params.get("filter", "posts_with_replies")
        if feed_filter not in FEED_FILTERS:
            return _invalid(f"filter must be one of {', '.join(FEED_FILTERS)}")
        actor = self._find_actor(params["actor"])
        if actor is None:
            return _invalid("Profile not found")
        items = sorted(actor.items, key=lambda item: item["sort"], reverse=True)
        if feed_filter == "posts_with_media":
            items = []
        elif feed_filter != "posts_with_replies":
            items = [item for item in items if "reply" not in item["post"]["record"] or "repost_rkey" in item]
        if params.get("cursor") and not self.loop_links:
            after = _parse_cursor(params["cursor"])
            if after is None:
                return _invalid("Malformed cursor")
            items = [item for item in items if item["sort"] < after]
        page = items[:limit]
        if self.huge_statuses_bytes is not None:
            return _huge_body([self._feed_view(actor, item) for item in page[:1]], self.huge_statuses_bytes, self.huge_send_length, wrap="feed")
        payload: dict = {"feed": [self._feed_view(actor, item) for item in page]}
        if page and (len(items) > limit or self.loop_links):
            payload["cursor"] = "{}::{}".format(*page[-1]["sort"])
        body = json.dumps(payload).encode("utf-8")
        if self.malformed:
            body = body[: len(body) // 2]
        return Reply(200, {"Content-Type": JSON}, body)

    def _get_repo(self, params: dict[str, str]) -> Reply:
        did = params.get("did", "")
        actor = next((a for a in self._actors.values() if a.did == did and not a.missing), None)
        if actor is None:
            return _json(400, {"error": "RepoNotFound", "message": f"Could not find repo for DID: {did}"})
        profile = {"$type": "app.bsky.actor.profile", "displayName": actor.display_name, "description": actor.description}
        elsewhere = {"uri": self._elsewhere_post["uri"], "cid": self._elsewhere_post["cid"]}
        records = [
            ("app.bsky.actor.profile", "self", profile),
            ("app.bsky.feed.like", actor.like_rkey, {"$type": "app.bsky.feed.like", "subject": elsewhere, "createdAt": iso_ms(actor.created_at)}),
        ]
        for item in actor.items:
            post = item["post"]
            if "repost_rkey" in item:
                subject = {"uri": post["uri"], "cid": post["cid"]}
                records.append(("app.bsky.feed.repost", item["repost_rkey"], {"$type": "app.bsky.feed.repost", "subject": subject, "createdAt": iso_ms(item["reposted_at"])}))
            else:
                records.append(("app.bsky.feed.post", post["rkey"], post["record"]))
        car = build_repo_car(actor.did, records, rev=self._next_tid(None))
        return Reply(200, {"Content-Type": "application/vnd.ipld.car"}, truncated(car) if self.malformed else car)

    # -- entity JSON ----------------------------------------------------------------------

    def _account_json(self, account: _Account) -> dict:
        base = self._account_base(account)
        shown = not account.suspended
        data = {
            "id": account.id,
            "username": account.username,
            "acct": f"{account.username}@{account.domain}" if account.domain else account.username,
            "display_name": account.username.capitalize() if shown else "",
            "locked": False,
            "bot": account.bot,
            "discoverable": account.discoverable,
            "indexable": account.indexable,
            "group": False,
            "created_at": iso_ms(_FIRST_MOMENT - timedelta(days=400)),
            "note": account.note if shown else "",
            "url": f"{base}/@{account.username}",
            "uri": f"{base}/users/{account.username}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(account.statuses) if shown else 0,
            "last_status_at": None,
            "hide_collections": False,
            "noindex": account.noindex,
            "emojis": [],
            "roles": [],
            "fields": [{"name": name, "value": value, "verified_at": None} for name, value in account.fields] if shown else [],
        }
        if account.suspended:
            data["suspended"] = True
        return data

    def _status_json(self, account: _Account, status_id: str, moment: datetime, content: str, visibility: str, language: str | None, spoiler_text: str, sensitive: bool) -> dict:
        base = self._account_base(account)
        return {
            "id": status_id,
            "created_at": iso_ms(moment),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": sensitive,
            "spoiler_text": spoiler_text,
            "visibility": visibility,
            "language": language,
            "uri": f"{base}/users/{account.username}/statuses/{status_id}",
            "url": f"{base}/@{account.username}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "content": content,
            "reblog": None,
            "account": self._account_json(account),
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _mention(self, account: _Account) -> dict:
        data = self._account_json(account)
        return {key: data[key] for key in ("id", "username", "url", "acct")}

    def _account_base(self, account: _Account) -> str:
        return f"https://{account.domain}" if account.domain else self.url()

    def _new_post(self, author: _Actor, text: str, parent: dict | None, langs: Sequence[str] | None, moment: datetime | None, labels: Sequence[str]) -> dict:
        moment = moment or self._moment(None)
        rkey = self._next_tid(moment)
        record: dict = {"$type": "app.bsky.feed.post", "text": text, "createdAt": iso_ms(moment)}
        if langs is not None:
            record["langs"] = list(langs)
        if parent is not None:
            pointer = {"uri": parent["uri"], "cid": parent["cid"]}
            record["reply"] = {"root": pointer, "parent": pointer}
        if labels:
            record["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": value} for value in labels]}
        uri = f"at://{author.did}/app.bsky.feed.post/{rkey}"
        cid = record_cid(record)
        post_labels = [{"src": author.did, "uri": uri, "cid": cid, "val": value, "cts": iso_ms(moment)} for value in labels]
        return {"uri": uri, "cid": cid, "rkey": rkey, "record": record, "author": author, "moment": moment, "labels": post_labels, "parent": parent}

    def _labels_json(self, actor: _Actor) -> list[dict]:
        uri = f"at://{actor.did}/app.bsky.actor.profile/self"
        return [{"src": actor.did, "uri": uri, "val": value, "cts": iso_ms(actor.created_at)} for value in actor.labels]

    def _profile_basic(self, actor: _Actor) -> dict:
        data: dict = {"did": actor.did, "handle": actor.handle}
        if actor.display_name:
            data["displayName"] = actor.display_name
        data.update(labels=self._labels_json(actor), createdAt=iso_ms(actor.created_at))
        return data

    def _profile_json(self, actor: _Actor) -> dict:
        data = self._profile_basic(actor)
        if actor.description:
            data["description"] = actor.description
        posts = sum(1 for item in actor.items if "repost_rkey" not in item)
        data.update(followersCount=0, followsCount=0, postsCount=posts, indexedAt=iso_ms(actor.created_at))
        return data

    def _post_view(self, post: dict) -> dict:
        return {
            "uri": post["uri"],
            "cid": post["cid"],
            "author": self._profile_basic(post["author"]),
            "record": post["record"],
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": iso_ms(post["moment"]),
            "labels": post["labels"],
        }

    def _feed_view(self, actor: _Actor, item: dict) -> dict:
        post = item["post"]
        view: dict = {"post": self._post_view(post)}
        if post["parent"] is not None:
            parent = {"$type": "app.bsky.feed.defs#postView", **self._post_view(post["parent"])}
            view["reply"] = {"root": parent, "parent": parent}
        if "repost_rkey" in item:
            view["reason"] = {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": self._profile_basic(actor),
                "uri": f"at://{actor.did}/app.bsky.feed.repost/{item['repost_rkey']}",
                "indexedAt": iso_ms(item["reposted_at"]),
            }
        return view

    # -- clocks and counters --------------------------------------------------------------

    def _count(self, family: str) -> tuple[bool, tuple[int, datetime] | None]:
        """Count a request against its API's window: (allowed, (used, resets_at) or None when unlimited)."""
        if self.rate_limit is None:
            return True, None
        bucket = self._buckets[family]
        now = datetime.now(timezone.utc)
        if bucket.resets_at is None or now >= bucket.resets_at:
            bucket.used, bucket.resets_at = 0, now + timedelta(seconds=self.rate_window_seconds)
        bucket.used += 1
        return bucket.used <= self.rate_limit, (bucket.used, bucket.resets_at)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _moment(self, given: datetime | None) -> datetime:
        """The given time, or the next step of a clock that starts in March 2025."""
        seq = self._next_seq()
        return given.astimezone(timezone.utc) if given is not None else _FIRST_MOMENT + seq * _STEP

    def _snowflake(self, moment: datetime) -> str:
        """A Mastodon-style id: milliseconds since the epoch in the high bits, so ids sort by time."""
        return str((int(moment.timestamp() * 1000) << 16) | (self._next_seq() & 0xFFFF))

    def _next_account_id(self) -> str:
        return str(109_000_000_000_000_000 + self._next_seq())

    def _next_tid(self, moment: datetime | None) -> str:
        micros = _micros(moment) if moment is not None else 0
        self._last_tid_us = max(self._last_tid_us + 1, micros)
        return tid(self._last_tid_us)

    def _next_time_us(self) -> int:
        with self._lock:
            now = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
            self._last_time_us = max(self._last_time_us + 1, now)
            return self._last_time_us

    def _did_of(self, handle_or_did: str) -> str:
        if handle_or_did.startswith("did:"):
            return handle_or_did
        with self._lock:
            actor = self._actors.get(handle_or_did.lower())
        return actor.did if actor is not None else plc_did(handle_or_did.lower())


def _invalid(message: str) -> Reply:
    return _json(400, {"error": "InvalidRequest", "message": message})


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _truthy(value: str | None) -> bool:
    """Mastodon's reading of a boolean parameter: absent or a false word is false."""
    return value is not None and value.strip().lower() not in ("", "0", "f", "false", "off", "no")


def _parse_cursor(cursor: str) -> tuple[int, int] | None:
    micros, _, seq = cursor.partition("::")
    first, second = _int_or_none(micros), _int_or_none(seq)
    return None if first is None or second is None else (first, second)


def _huge_body(items: list, size: int, send_length: bool, wrap: str | None = None) -> Reply:
    """Valid JSON of exactly `size` bytes: the items repeated, then whitespace."""
    unit = json.dumps(items[0]) if items else "{}"
    head, tail = ('{"%s": [' % wrap, "]}") if wrap else ("[", "]")
    count = max(1, (size - len(head) - len(tail)) // (len(unit) + 2))
    body = (head + ", ".join([unit] * count) + tail).encode("utf-8")
    body += b" " * max(0, size - len(body))
    return Reply(200, {"Content-Type": JSON}, body, send_length)


def _wanted(event: dict, query: dict[str, list[str]]) -> bool:
    """Jetstream's filters: wantedDids for every event, wantedCollections (with `prefix.*`)
    for commits only."""
    dids = query.get("wantedDids", [])
    if dids and event.get("did") not in dids:
        return False
    collections = query.get("wantedCollections", [])
    if event.get("kind") != "commit" or not collections:
        return True
    collection = event.get("commit", {}).get("collection", "")
    return any(collection == wanted or (wanted.endswith(".*") and collection.startswith(wanted[:-1])) for wanted in collections)


def _handler(server: SocialServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply = server.answer(self.path, self.headers.get("User-Agent", ""))
            if reply is None:
                server._release.wait()
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.send_length:
                self.send_header("Content-Length", str(len(reply.body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            try:
                for start in range(0, len(reply.body), 1 << 16):
                    self.wfile.write(reply.body[start : start + (1 << 16)])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading a body it refused: what a huge-response test wants

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
