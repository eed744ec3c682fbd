"""What reading a social account over its public API takes, whichever network it is on: one
JSON request at a time within the source's limits, rate limits honoured, a schedule that backs
off, and errors that name the account and the request.

Mastodon sends ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (an ISO time); Bluesky sends
``RateLimit-Remaining`` and ``RateLimit-Reset`` (Unix seconds). Either way a client that has
used its allowance waits for the reset instead of asking again and being refused.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from ..errors import ReadError
from ..records import Post
from .tdm import Limits, fetch

log = logging.getLogger("sugarglass.social")

MAX_RATE_RETRIES = 5


class RateLimited(ReadError):
    """The API asked us to wait until ``until`` (Unix seconds), longer than this read may wait."""

    def __init__(self, where: str, until: float):
        self.until = until
        super().__init__(where, f"rate limited until {datetime.fromtimestamp(until).astimezone().isoformat(timespec='seconds')}")


@dataclass
class AccountFetch:
    """One read of an account: the posts it may give, what it refused and why, and the newest
    position reached (``cursor``), to start from next time. ``refused`` is the account's own
    opt-out, named (e.g. "profile note says #nobot"), when it refused the whole account."""

    posts: list[Post] = field(default_factory=list)
    refused: str | None = None
    signals: dict = field(default_factory=dict)
    cursor: str | None = None
    body_sha256: str = ""
    retry_at: float | None = None
    """When a read cut short by a rate limit may go on (Unix seconds); None for a whole read."""


def aware_time(value: object) -> datetime | None:
    """An API's ISO 8601 time (``Z`` or an offset) as an aware datetime; None if it is not one."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def reset_time(headers: httpx.Headers, now: float) -> float | None:
    """When a rate limit resets, from either network's headers (or ``Retry-After``)."""
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        value = headers.get(name)
        if not value:
            continue
        value = value.strip()
        try:
            number = float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
        return number if number > 1e9 else now + number  # Unix seconds, or seconds from now
    retry = headers.get("retry-after")
    if retry:
        if retry.strip().isdigit():
            return now + float(retry)
        try:
            return parsedate_to_datetime(retry).timestamp()
        except (TypeError, ValueError):
            return None
    return None


def remaining(headers: httpx.Headers) -> int | None:
    for name in ("x-ratelimit-remaining", "ratelimit-remaining"):
        value = headers.get(name, "").strip()
        if value.lstrip("-").isdigit():
            return int(value)
    return None


class Api:
    """JSON GETs for one account, honouring the API's rate limit.

    ``wait`` says whether a limit may be waited out here (an ingest from the command line: up to
    the source's ``max_rate_wait_seconds``) or ends the read with ``RateLimited`` (a live run's
    poll, which must not hold up a tick; the schedule tries again after the reset)."""

    def __init__(self, limits: Limits, who: str, client: httpx.Client, *, wait: bool, max_wait: float,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.limits, self.who, self.client = limits, who, client
        self.wait, self.max_wait = wait, max_wait
        self.clock, self.sleep = clock, sleep
        self.blocked_until = 0.0
        self.last_headers = httpx.Headers()

    def where(self, url: str) -> str:
        return f"{self.who} (GET {url})"

    def get(self, url: str, *, allow: tuple[int, ...] = ()) -> tuple[int, object]:
        """(status, parsed JSON) of a GET; a status outside 2xx and ``allow`` is a ReadError
        naming the account, the request and what the API said."""
        for attempt in range(MAX_RATE_RETRIES):
            self._hold(url)
            try:
                fetched = fetch(self.client, url, self.limits)
            except ReadError as exc:  # too big, too slow, unreachable: said of this account's request
                raise ReadError(self.where(url), exc.reason) from None
            self.last_headers = fetched.headers
            now = self.clock()
            if remaining(fetched.headers) == 0:
                self.blocked_until = max(self.blocked_until, reset_time(fetched.headers, now) or now + 60)
            if fetched.status == 429:  # a reset in whole seconds may already have passed: wait a little anyway
                self.blocked_until = max(self.blocked_until, reset_time(fetched.headers, now) or now + 60, now + 2.0 ** attempt)
                continue
            data = self._json(url, fetched)
            if 200 <= fetched.status < 300 or fetched.status in allow:
                return fetched.status, data
            raise ReadError(self.where(url), f"HTTP {fetched.status}{_said(data)}")
        raise RateLimited(self.where(url), self.blocked_until)

    def _hold(self, url: str) -> None:
        delay = self.blocked_until - self.clock()
        if delay <= 0:
            return
        if not self.wait or delay > self.max_wait:
            raise RateLimited(self.where(url), self.blocked_until)
        log.info("%s: rate limited, waiting %.0f s for the reset", self.who, delay)
        self.sleep(delay)

    def _json(self, url: str, fetched) -> object:
        kind = fetched.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and not (kind == "application/json" or kind.endswith("+json")):
            raise ReadError(self.where(url), f"answered {kind} (HTTP {fetched.status}), not JSON: is this the right base URL?")
        try:
            return json.loads(fetched.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReadError(self.where(url), f"malformed JSON (HTTP {fetched.status}): {exc}") from None


def _said(data: object) -> str:
    """What an API's error body says: Mastodon's ``{"error"}``, XRPC's ``{"error", "message"}``."""
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("error", "message") if isinstance(data.get(k), str) and data.get(k)]
        if parts:
            return ": " + " — ".join(parts)
    return ""


class Schedule:
    """When a polled source (a feed, an account) is due again: every ``poll_seconds``, doubled
    after each failure up to ``max_backoff_seconds``, or at a rate limit's reset, whichever is
    later."""

    def __init__(self, poll_seconds: float, max_backoff_seconds: float):
        self.poll_seconds, self.max_backoff_seconds = poll_seconds, max_backoff_seconds
        self.next_due: float | None = None
        self.failures = 0

    def due(self, now: float) -> bool:
        return self.next_due is None or now >= self.next_due

    def succeeded(self, now: float) -> None:
        self.failures = 0
        self.next_due = now + self.poll_seconds

    def backoff(self, failures: int) -> float:
        """poll_seconds * 2^failures, capped at max_backoff_seconds."""
        return min(self.poll_seconds * 2.0 ** min(failures, 64), self.max_backoff_seconds)

    def failed(self, now: float, exc: ReadError) -> float:
        self.failures += 1
        delay = max(exc.until - now, 1.0) if isinstance(exc, RateLimited) else self.backoff(self.failures)
        self.next_due = now + delay
        return delay

    def state(self) -> dict:
        return {"next_due": self.next_due, "failures": self.failures}

    def restore(self, state: dict, what: str) -> None:
        """Take back a checkpoint from ``state()``; a malformed one is refused whole, naming
        ``what`` it is the schedule of."""
        next_due, failures = state.get("next_due"), state.get("failures")
        if not (next_due is None or isinstance(next_due, int | float)) or isinstance(next_due, bool):
            raise ValueError(f"{what} state: next_due must be a number or null, not {next_due!r}")
        if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
            raise ValueError(f"{what} state: failures must be a count, not {failures!r}")
        self.next_due, self.failures = next_due, failures

