"""Social accounts as sources: one read of a Mastodon or Bluesky account, and the schedule a
live run polls it on. The poller has the feed poller's shape (``due``, ``poll``, ``report``,
``state``, ``restore``, ``close``), so the live loop treats every polled source alike."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

from ..errors import ReadError
from ..work import BlueskySource, MastodonSource
from . import bluesky, mastodon
from .report import ReadReport
from .social import AccountFetch, Schedule

log = logging.getLogger("sugarglass.accounts")

AccountSource = MastodonSource | BlueskySource


def read_account(source: AccountSource, client: httpx.Client, report: ReadReport, since: str | None, *,
                 wait: bool, **timing) -> AccountFetch:
    """One read of the account from ``since`` (its cursor in the store), on either network."""
    network = mastodon if isinstance(source, MastodonSource) else bluesky
    api = network.api_for(source, client, wait=wait, **timing)
    return network.read_account(source, api, report, since)


class AccountPoller:
    """An account's schedule in a live run. ``since`` gives the store's cursor for the account
    at each poll, so what a poll returns is new even if the one before it was never stored.
    A poll never waits out a rate limit: the next one is due at the reset instead."""

    def __init__(self, source: AccountSource, since: Callable[[], str | None], client: httpx.Client | None = None):
        self.source = source
        self.since = since
        self.schedule = Schedule(source.poll_seconds, source.max_backoff_seconds)
        self.report = ReadReport(source.location, source.on_error)
        self._owns_client = client is None
        self._http = client if client is not None else httpx.Client()

    def due(self, now: float) -> bool:
        return self.schedule.due(now)

    def poll(self, now: float) -> AccountFetch | None:
        """Read what is new now; None if the read failed (logged, and the next backed off)."""
        self.report = ReadReport(self.source.location, self.source.on_error)
        try:
            fetched = read_account(self.source, self._http, self.report, self.since(), wait=False)
        except ReadError as exc:
            delay = self.schedule.failed(now, exc)
            log.warning("%s %s: read failed (%d in a row), next try in %.0f s: %s", self.source.kind, self.source.location,
                        self.schedule.failures, delay, exc)
            return None
        self.schedule.succeeded(now)
        if fetched.retry_at is not None:  # cut short by a rate limit: go on at the reset, not a poll later
            self.schedule.next_due = max(fetched.retry_at, now + 1.0)
        return fetched

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    def state(self) -> dict:
        return self.schedule.state()

    def restore(self, state: dict) -> None:
        """Take back a checkpoint from ``state()``; a malformed one is refused whole."""
        self.schedule.restore(state, f"account {self.source.id!r}")
