"""Mastodon accounts through an instance's public REST API, read only where the account has not
said no.

Before any status is read the account is looked up and its own signals are weighed: a
suspended account, ``noindex`` (the user asked crawlers not to index them), or ``#nobot``,
``#nobots`` or ``#noai`` in the profile note or its fields each refuse the whole account, by
name. ``indexable`` and ``discoverable`` are recorded beside the consent. Statuses are read
oldest page first (``min_id``, then the ``Link`` header's ``prev``), public ones only, no
boosts, replies as the work says, each read starting after the newest status of the last.
"""

from __future__ import annotations

import hashlib
import logging
import re
from urllib.parse import urlencode

import httpx

from ..affect.cleaning import strip_markup
from ..affect.languages import language_code
from ..errors import ReadError
from ..records import Post
from ..work import MastodonSource
from .report import ReadReport
from .social import AccountFetch, Api, RateLimited, aware_time
from .tdm import Limits

log = logging.getLogger("sugarglass.mastodon")

REFUSING_TAGS = ("#nobot", "#nobots", "#noai")
PAGE = 40
_LINK = re.compile(r"<([^>]+)>\s*;\s*rel=\"?([^\";]+)\"?")


def api_for(source: MastodonSource, client: httpx.Client, *, wait: bool, **timing) -> Api:
    limits = Limits(source.user_agent, source.timeout_seconds, source.max_bytes)
    return Api(limits, f"mastodon account {source.account}", client, wait=wait, max_wait=source.max_rate_wait_seconds, **timing)


def refusal(account: dict) -> str | None:
    """The account's own reason not to be read, in words that name the signal; None if none."""
    if account.get("suspended"):
        return "the account is suspended"
    if account.get("noindex") is True:
        return "the account asks not to be indexed (noindex)"
    texts = [("profile note", account.get("note"))]
    texts += [(f"profile field {field.get('name', '')!r}", field.get("value")) for field in account.get("fields") or []
              if isinstance(field, dict)]
    for where, html in texts:
        tag = refusing_tag(html)
        if tag:
            return f"{where} says {tag}"
    return None


def refusing_tag(html: object) -> str | None:
    """The first of ``REFUSING_TAGS`` a bio holds as a whole tag (``#nobot,`` and ``#NoAI.``
    count, ``#nobotany`` and ``x#noai`` do not), or None."""
    if not isinstance(html, str):
        return None
    words = strip_markup(html).lower()
    for tag in REFUSING_TAGS:
        if re.search(r"(?<![\w#])" + re.escape(tag) + r"(?![\w])", words):
            return tag
    return None


def signals(account: dict) -> dict:
    """What the account says of being found, kept in the consent ledger whatever the verdict."""
    keys = ("indexable", "discoverable", "noindex", "locked", "bot", "suspended")
    found = {key: account.get(key) for key in keys if key in account}
    if account.get("moved"):
        found["moved"] = (account["moved"] or {}).get("acct") if isinstance(account["moved"], dict) else True
    return found


def read_account(source: MastodonSource, api: Api, report: ReadReport, since_id: str | None = None) -> AccountFetch:
    """Look the account up, weigh its signals, then read its public statuses newer than
    ``since_id`` (from the first, when None), oldest page first, up to ``max_pages``.

    Pages go forward in time (``min_id``, then the ``Link`` header's ``prev``), so whatever
    stops a read — ``max_pages``, a rate limit that may not be waited out here — stops it with
    every status before the cursor read: the next read starts there, and nothing is skipped.
    Raises ReadError naming the account and the request for an unknown (404) or gone (410)
    account, an answer that is not the API's JSON, or paging that loops; a rate limit met on
    the first page raises ``RateLimited``."""
    lookup = f"{source.base_url}/api/v1/accounts/lookup?{urlencode({'acct': source.username + '@' + source.host})}"
    status, account = api.get(lookup, allow=(404, 410))
    if status == 404:
        raise ReadError(api.where(lookup), "no such account (HTTP 404)")
    if status == 410:
        raise ReadError(api.where(lookup), "the account is gone (HTTP 410: suspended or deleted)")
    if not isinstance(account, dict) or not isinstance(account.get("id"), str | int):
        raise ReadError(api.where(lookup), "the answer is not an account (no id)")
    found = AccountFetch(signals=signals(account), cursor=since_id)
    found.refused = refusal(account)
    if found.refused:
        return found
    query = {"limit": PAGE, "exclude_reblogs": "true", "exclude_replies": "false" if source.replies else "true",
             "min_id": since_id or "0"}
    url: str | None = f"{source.base_url}/api/v1/accounts/{account['id']}/statuses?{urlencode(query)}"
    seen_urls: set[str] = set()
    position = 0
    for pages in range(source.max_pages):
        if url in seen_urls:
            raise ReadError(api.where(url), "the Link header's prev leads back to a page already read (a paging loop)")
        seen_urls.add(url)
        try:
            status, page = api.get(url, allow=(410,))
        except RateLimited as exc:
            if pages == 0:
                raise
            found.retry_at = exc.until  # what was read is kept; the rest after the reset
            break
        if status == 410:
            raise ReadError(api.where(url), "the account is gone (HTTP 410: suspended or deleted)")
        if not isinstance(page, list):
            raise ReadError(api.where(url), "the answer is not a list of statuses")
        for item in reversed(page):  # newest first on the page; read in time order
            if isinstance(item, dict) and found.cursor and not _newer(item.get("id"), found.cursor):
                continue
            position += 1
            post = _post(source, item, position, report, api.where(url))
            if post is not None:
                found.posts.append(post)
            if isinstance(item, dict) and _newer(item.get("id"), found.cursor):
                found.cursor = str(item["id"])
        url = _link(api.last_headers.get("link", ""), "prev")
        if len(page) < PAGE or url is None:
            break
    else:
        log.info("mastodon %s: %d pages read, the rest at the next read", source.account, source.max_pages)
    found.body_sha256 = hashlib.sha256(f"{source.account}\n{found.cursor}".encode()).hexdigest()
    return found


def _newer(status_id: object, than: str | None) -> bool:
    """Whether one status id is newer than another. Mastodon's are integers as strings (sorted
    by value, not as text); other servers of the same API use ULIDs or flakes, which sort as
    text of one length, so ids compare by length, then as text."""
    if not isinstance(status_id, str) or not status_id:
        return False
    return than is None or (len(status_id), status_id) > (len(than), than)


def _link(link: str, relation: str) -> str | None:
    """The target of one relation (``prev``, ``next``) in a ``Link`` header."""
    for target, rel in _LINK.findall(link):
        if relation in rel.split():
            return target
    return None


def _post(source: MastodonSource, item: object, position: int, report: ReadReport, where: str) -> Post | None:
    """A status as a post, or None when it is left out (and counted) or bad (counted or raised)."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("content"), str):
        report.bad_record(position, f"{where}: status {position} has no id or content")
        return None
    if item.get("visibility") != "public":
        report.leave_out("not public")
        return None
    if item.get("reblog"):
        report.leave_out("boost")
        return None
    if item.get("in_reply_to_id") and not source.replies:
        report.leave_out("reply")
        return None
    created = aware_time(item.get("created_at"))
    if created is None:
        report.bad_record(position, f"{where}: status {item['id']} has no created_at in ISO 8601 with a time zone")
        return None
    warning = item.get("spoiler_text") or ""
    text = "\n\n".join(part for part in (warning, item["content"]) if isinstance(part, str) and part.strip())
    return Post(item["id"], text, created, source.id, position, language_code(item.get("language")))


__all__ = ["api_for", "read_account", "refusal", "signals"]
