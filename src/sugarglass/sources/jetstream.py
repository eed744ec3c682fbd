"""Jetstream: Bluesky's firehose as JSON over a WebSocket, for a live run that wants an
account's new posts within a tick rather than at its next poll.

One listener per source, on a thread of its own, subscribed to the account's DID and
``app.bsky.feed.post`` only. Each event it hears is queued for the live loop, which stores it
and keeps the event's ``time_us`` as the cursor in the same transaction; a listener started
after a restart connects with that cursor, so Jetstream replays what was missed. A ``delete``
is the author taking a post back, and an ``account`` event whose status is ``deleted`` the
author taking everything back; both are queued as such (a suspension or a deactivation is
not the author's deletion, and is passed over). Dropped connections are retried with
a growing pause.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

from ..records import Post
from ..work import BlueskySource
from .bluesky import POST, record_post
from .report import ReadReport

log = logging.getLogger("sugarglass.jetstream")

MAX_PAUSE = 300.0


@dataclass(frozen=True, slots=True)
class Heard:
    """One event for the loop: a new post, the record key of a deleted one, or the account's
    deletion (``account_deleted``), which withdraws the whole source."""

    time_us: int
    post: Post | None = None
    deleted: str | None = None
    account_deleted: bool = False


def subscription_url(base: str, did: str, cursor: int | None) -> str:
    query = [("wantedCollections", POST), ("wantedDids", did)]
    if cursor is not None:
        query.append(("cursor", str(cursor)))
    return f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"


def heard(source: BlueskySource, did: str, message: str | bytes, report: ReadReport) -> Heard | None:
    """An event as the loop takes it, or None for one it passes over (another DID or
    collection, an identity or account event, an update: a post's score is its first text).
    A malformed event is counted in ``report``, never raised: the stream goes on."""
    try:
        event = json.loads(message)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.bad_record(None, f"Jetstream sent a frame that is not JSON: {exc}")
        return None
    if not isinstance(event, dict) or not isinstance(event.get("time_us"), int):
        report.bad_record(None, "Jetstream sent an event without time_us")
        return None
    if event.get("kind") == "account" and event.get("did") == did and isinstance(event.get("account"), dict):
        gone = event["account"].get("active") is False and event["account"].get("status") == "deleted"
        return Heard(event["time_us"], account_deleted=True) if gone else None
    commit = event.get("commit")
    if event.get("kind") != "commit" or event.get("did") != did or not isinstance(commit, dict) or commit.get("collection") != POST:
        return None
    key = commit.get("rkey")
    if not isinstance(key, str) or not key:
        report.bad_record(None, "Jetstream sent a post event without rkey")
        return None
    if commit.get("operation") == "delete":
        return Heard(event["time_us"], deleted=key)
    if commit.get("operation") != "create":
        return None
    post = record_post(source, key, commit.get("record"), 0, report, "Jetstream")
    return None if post is None else Heard(event["time_us"], post=post)


class JetstreamListener:
    """Listens for one account's posts on a thread; ``take()`` gives what was heard since."""

    def __init__(self, source: BlueskySource, did: str, cursor: int | None):
        if source.jetstream is None:
            raise ValueError(f"source {source.id!r} names no jetstream URL")
        self.source, self.did, self.cursor = source, did, cursor
        self.report = ReadReport(f"{source.actor} (Jetstream {source.jetstream})", "skip")
        self._heard: queue.Queue[Heard] = queue.Queue()
        self._returned: list[Heard] = []
        self._stop = threading.Event()
        self._socket = None
        self._thread = threading.Thread(target=self._listen, name=f"jetstream-{source.id}", daemon=True)
        self._thread.start()

    def give_back(self, events: list[Heard]) -> None:
        """Events the loop could not store, offered again first at the next ``take``."""
        self._returned = events + self._returned

    def take(self) -> list[Heard]:
        found, self._returned = self._returned, []
        while True:
            try:
                found.append(self._heard.get_nowait())
            except queue.Empty:
                return found

    def close(self) -> None:
        """Stop listening. A connection still opening is closed as soon as it opens."""
        self._stop.set()
        socket = self._socket
        if socket is not None:
            socket.close()
        self._thread.join(timeout=10)

    def _listen(self) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        pause = 1.0
        while not self._stop.is_set():
            url = subscription_url(self.source.jetstream, self.did, self.cursor)
            try:
                with connect(url, open_timeout=self.source.timeout_seconds, max_size=self.source.max_bytes,
                             user_agent_header=self.source.user_agent) as socket:
                    self._socket = socket
                    if self._stop.is_set():  # closed while the connection was opening
                        return
                    pause = 1.0
                    for message in socket:
                        event = heard(self.source, self.did, message, self.report)
                        if event is not None:
                            self.cursor = event.time_us
                            self._heard.put(event)
            except (OSError, TimeoutError, WebSocketException) as exc:
                if self._stop.is_set():
                    return
                log.warning("jetstream %s: %s; reconnecting in %.0f s", self.source.id, exc, pause)
            finally:
                self._socket = None
            if self._stop.wait(pause):
                return
            pause = min(pause * 2, MAX_PAUSE)
