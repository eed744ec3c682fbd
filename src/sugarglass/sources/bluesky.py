"""Bluesky accounts through an AppView's public XRPC API, and repository exports (CAR files).

The profile is read first: the author's ``!no-unauthenticated`` self-label (they asked not to
be shown to logged-out readers, which is what a reader without login is) refuses the whole
account, as does any label the work lists in ``opt_out_labels`` or ``#nobot``/``#noai`` in the
description. Then the author's feed, newest first, cursor by cursor: reposts (a ``reason``) are
left out, replies as the work says, and each post keeps its ``text``, ``createdAt`` and first
declared language. A post's id is its record key, a TID that sorts by time, so a later read
stops at the newest post it already has.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx

from ..affect.languages import language_code
from ..errors import ReadError
from ..records import Post
from ..work import BlueskyRepoSource, BlueskySource
from .mastodon import refusing_tag
from .report import ReadReport
from .social import AccountFetch, Api, aware_time
from .tdm import Limits

log = logging.getLogger("sugarglass.bluesky")

NO_UNAUTHENTICATED = "!no-unauthenticated"
POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.defs#reasonRepost"
PAGE = 100


def api_for(source: BlueskySource, client: httpx.Client, *, wait: bool, **timing) -> Api:
    limits = Limits(source.user_agent, source.timeout_seconds, source.max_bytes)
    return Api(limits, f"bluesky account {source.actor}", client, wait=wait, max_wait=source.max_rate_wait_seconds, **timing)


def label_values(labels: object) -> list[str]:
    return [label["val"] for label in labels or [] if isinstance(label, dict) and isinstance(label.get("val"), str)] \
        if isinstance(labels, list) else []


def refusal(profile: dict, opt_out_labels: list[str]) -> str | None:
    """The author's reason not to be read, naming the signal; None if there is none."""
    values = label_values(profile.get("labels"))
    if NO_UNAUTHENTICATED in values:
        return f"the author asked not to be shown to logged-out readers ({NO_UNAUTHENTICATED})"
    for value in values:
        if value in opt_out_labels:
            return f"the account is labelled {value!r}, which this work treats as an opt-out"
    tag = refusing_tag(profile.get("description"))
    return f"profile description says {tag}" if tag else None


def rkey(uri: object) -> str | None:
    """The record key of an ``at://did/app.bsky.feed.post/rkey`` URI, None if it is not one."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    return parts[2] if len(parts) == 3 and parts[1] == POST and parts[2] else None


def read_account(source: BlueskySource, api: Api, report: ReadReport, since: str | None = None) -> AccountFetch:
    """Read the profile, weigh its signals, then the author's posts newer than record key
    ``since`` (all, up to ``max_pages``, when None). Raises ReadError naming the account and the
    request for an unknown profile, an answer that is not the API's JSON, or a cursor that loops."""
    base = f"{source.service}/xrpc"
    url = f"{base}/app.bsky.actor.getProfile?{urlencode({'actor': source.actor})}"
    status, profile = api.get(url)
    if not isinstance(profile, dict) or not isinstance(profile.get("did"), str):
        raise ReadError(api.where(url), "the answer is not a profile (no did)")
    did = profile["did"]
    found = AccountFetch(signals={"did": did, "handle": profile.get("handle"), "labels": label_values(profile.get("labels"))},
                         cursor=since)
    found.refused = refusal(profile, source.opt_out_labels)
    if found.refused:
        return found
    query = {"actor": did, "limit": PAGE, "filter": "posts_with_replies" if source.replies else "posts_no_replies"}
    cursors: set[str] = set()
    position = 0
    for _ in range(source.max_pages):
        url = f"{base}/app.bsky.feed.getAuthorFeed?{urlencode(query)}"
        status, page = api.get(url)
        if not isinstance(page, dict) or not isinstance(page.get("feed"), list):
            raise ReadError(api.where(url), "the answer is not an author feed (no feed list)")
        known = 0
        for item in page["feed"]:
            position += 1
            key = rkey(item.get("post", {}).get("uri")) if isinstance(item, dict) and isinstance(item.get("post"), dict) else None
            if key is not None and since is not None and key <= since:
                known += 1  # read before, or a repost of an older post: passed over, the page goes on
                continue
            post = _post(source, did, item, position, report, api.where(url))
            if post is not None:
                found.posts.append(post)
                if found.cursor is None or post.id > found.cursor:
                    found.cursor = post.id
        cursor = page.get("cursor")
        if known or not page["feed"] or not isinstance(cursor, str) or not cursor:
            break  # a page that reaches back to what was read before is the last one needed
        if cursor in cursors:
            raise ReadError(api.where(url), f"the feed's cursor {cursor!r} came back again (a paging loop)")
        cursors.add(cursor)
        query["cursor"] = cursor
    else:
        log.warning("bluesky %s: %d pages read back; older posts are not read", source.actor, source.max_pages)
    found.body_sha256 = hashlib.sha256(f"{did}\n{found.cursor}".encode()).hexdigest()
    return found


def _post(source: BlueskySource, did: str, item: object, position: int, report: ReadReport, where: str) -> Post | None:
    if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
        report.bad_record(position, f"{where}: feed item {position} has no post")
        return None
    if isinstance(item.get("reason"), dict):
        report.leave_out("repost")
        return None
    post = item["post"]
    author = post.get("author") if isinstance(post.get("author"), dict) else {}
    if author.get("did") != did:
        report.leave_out("another author's post")
        return None
    labels = label_values(post.get("labels"))
    if NO_UNAUTHENTICATED in labels or any(label in source.opt_out_labels for label in labels):
        report.leave_out("labelled as an opt-out")
        return None
    return record_post(source, rkey(post.get("uri")), post.get("record"), position, report, where)


def record_post(source: BlueskySource | BlueskyRepoSource, key: str | None, record: object, position: int,
                report: ReadReport, where: str) -> Post | None:
    """A post record (``app.bsky.feed.post``) as a post: from the API, Jetstream or a CAR file."""
    if key is None or not isinstance(record, dict) or not isinstance(record.get("text"), str):
        report.bad_record(position, f"{where}: post {position} has no record key or text")
        return None
    if record.get("reply") and not source.replies:
        report.leave_out("reply")
        return None
    labels = record.get("labels")  # the author's self-labels on the record, as Jetstream and a CAR give them
    values = label_values(labels.get("values")) if isinstance(labels, dict) else []
    if NO_UNAUTHENTICATED in values or any(value in getattr(source, "opt_out_labels", ()) for value in values):
        report.leave_out("labelled as an opt-out")
        return None
    created = aware_time(record.get("createdAt"))
    if created is None:
        report.bad_record(position, f"{where}: post {key} has no createdAt in ISO 8601 with a time zone")
        return None
    langs = record.get("langs")
    language = language_code(langs[0]) if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    return Post(key, record["text"], created, source.id, position, language)


# -- repository exports ---------------------------------------------------------------------


def read_repo_car(source: BlueskyRepoSource, path: Path, report: ReadReport) -> Iterator[Post]:
    """The posts of a repository export, read with atproto's CAR reader and walked through the
    repository's Merkle search tree from its commit; other collections (likes, follows, the
    profile) are passed over. A file that is not a CAR, or is cut short, is a ReadError."""
    from atproto_core.car import CAR

    data = path.read_bytes()
    try:
        car = CAR.from_bytes(data)
    except Exception as exc:  # noqa: BLE001 - the library raises what its decoder meets
        raise ReadError(path, f"not a complete CAR file (a Bluesky repository export): {exc}") from None
    blocks = car.blocks
    commit = _block(blocks, car.root)
    if not isinstance(commit, dict) or "data" not in commit:
        raise ReadError(path, "the CAR file's root is not a repository commit")
    position = 0
    for key, cid in _walk(blocks, commit["data"], path):
        collection, _, record_key = key.partition("/")
        if collection != POST:
            continue
        position += 1
        record = _block(blocks, cid)
        if record is None:
            report.bad_record(position, f"record {key} is missing from the file")
            continue
        post = record_post(source, record_key, record, position, report, str(path))
        if post is not None:
            yield post


def _block(blocks: dict, link: object) -> object:
    """The block a link points to, however the decoder gave the link (a CID, its bytes or text)."""
    from atproto_core.cid import CID

    try:
        if isinstance(link, bytes):
            link = CID.from_decoded_bytes(link)
        elif isinstance(link, str):
            link = CID.decode(link)
    except Exception:  # noqa: BLE001 - a malformed link points at nothing
        return None
    return blocks.get(link)


def _walk(blocks: dict, node_cid, path: Path) -> Iterator[tuple[str, object]]:
    """(key, record CID) of every entry of a Merkle search tree node and its subtrees, in key
    order; each entry's key is the one before it cut to ``p`` bytes plus ``k``."""
    stack: list[tuple[object, bool]] = [(node_cid, False)]
    visited: set[str] = set()
    while stack:
        item, is_entry = stack.pop()
        if is_entry:
            yield item
            continue
        if str(item) in visited:
            raise ReadError(path, f"the repository tree is broken: node {item} is reached twice (a cycle)")
        visited.add(str(item))
        node = _block(blocks, item)
        if not isinstance(node, dict) or not isinstance(node.get("e"), list):
            raise ReadError(path, f"the repository tree is broken: node {item} is missing or not a tree node")
        previous = b""
        ordered: list[tuple[object, bool]] = []
        if node.get("l") is not None:
            ordered.append((node["l"], False))
        for entry in node["e"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("p"), int) or not isinstance(entry.get("k"), bytes) \
                    or "v" not in entry:
                raise ReadError(path, f"the repository tree is broken: node {item} has an entry without p, k or v")
            key = previous[: entry["p"]] + entry["k"]
            previous = key
            ordered.append(((key.decode("utf-8", "replace"), entry["v"]), True))
            if entry.get("t") is not None:
                ordered.append((entry["t"], False))
        stack.extend(reversed(ordered))
