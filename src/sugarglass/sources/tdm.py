"""Fetching within limits, and every way a publisher says "do not mine this".

A feed reader reads what publishers chose to publish, but publishing is not consent to text and
data mining: the W3C TDM Reservation Protocol (TDMRep), ``noai`` robots directives and the IETF
``Content-Usage`` preferences are how a publisher says no. We take the strictest reading: a
reservation anywhere (header, page, site file) refuses, and an ``0`` or ``y`` elsewhere never
overrides it. When we cannot find out (a server error, an unreadable rule file), we do not read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx

from ..errors import ReadError
from .jsondoc import scan, too_deep

ROBOTS_TOKEN = "sugarglass"
"""Our product token in robots.txt ``User-agent`` lines."""

REFUSING_USAGE = {"train-ai", "tdm"}
"""``Content-Usage`` categories whose ``n`` covers what a work does with text: ``train-ai``, and
``tdm``, the broadest category (all text and data mining) in earlier drafts of the vocabulary."""


class Unchecked(Exception):
    """The opt-outs for a URL could not be found out, so it must not be read."""


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        """The body as text, in the charset the server named (UTF-8 if none or unknown)."""
        named = re.search(r"charset=[\"']?([\w.:-]+)", self.headers.get("content-type", ""), re.IGNORECASE)
        try:
            return self.body.decode(named.group(1) if named else "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Limits:
    user_agent: str
    timeout_seconds: float
    max_bytes: int


def fetch(client: httpx.Client, url: str, limits: Limits) -> Fetched:
    """GET a URL, following redirects, refusing bodies over ``max_bytes`` (counted after
    decompression, so a small gzip bomb is caught too) and responses slower than the timeout
    in total, not just between bytes."""
    deadline = time.monotonic() + limits.timeout_seconds
    over = f"response is over the source's max_bytes of {limits.max_bytes:,} bytes"
    try:
        with client.stream(
            "GET",
            url,
            headers={"User-Agent": limits.user_agent},
            timeout=limits.timeout_seconds,
            follow_redirects=True,
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise ReadError(url, over)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limits.max_bytes:
                    raise ReadError(url, over)
                if time.monotonic() > deadline:
                    raise ReadError(url, f"no complete response within {limits.timeout_seconds:g} s")
                chunks.append(chunk)
            return Fetched(str(response.url), response.status_code, response.headers, b"".join(chunks))
    except httpx.TooManyRedirects:
        raise ReadError(url, "too many redirects (a redirect loop?)") from None
    except httpx.TimeoutException:
        raise ReadError(url, f"no response within {limits.timeout_seconds:g} s") from None
    except httpx.ConnectError as exc:
        raise ReadError(url, f"cannot connect: {exc}") from None
    except httpx.HTTPError as exc:
        raise ReadError(url, f"request failed: {exc}") from None


# -- patterns shared by tdmrep.json and robots.txt ------------------------------------------


def _pattern(location: str) -> re.Pattern[str]:
    """A robots.txt-style path pattern: ``*`` is any run of characters, a final ``$`` anchors
    the end, and anything else matches as a prefix."""
    anchored = location.endswith("$")
    body = location[:-1] if anchored else location
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", body)) + ("$" if anchored else ""))


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# -- headers and pages ----------------------------------------------------------------------


def _policy(policy: str | None) -> str:
    return f" (policy {policy.strip()})" if policy and policy.strip() else ""


def _tokens(value: str) -> list[str]:
    return [token for token in re.split(r"[\s,:;]+", value.lower()) if token]


def _usage_refuses(preferences: str) -> bool:
    """True if a Content-Usage value such as ``train-ai=n, search=y`` says no to our use."""
    for item in preferences.split(","):
        key, _, value = item.split(";")[0].partition("=")
        if key.strip().lower() in REFUSING_USAGE and value.strip().strip('"').lower() == "n":
            return True
    return False


def header_opt_outs(headers: httpx.Headers) -> list[str]:
    """Reasons the response headers refuse mining: ``tdm-reservation: 1``, ``X-Robots-Tag``
    with ``noai`` (whatever user agent it names: a no to one miner is read as a no to all), and
    ``Content-Usage`` with ``train-ai=n``."""
    reasons = []
    if any(value.strip() == "1" for value in headers.get_list("tdm-reservation")):
        reasons.append("header tdm-reservation: 1" + _policy(headers.get("tdm-policy")))
    for value in headers.get_list("x-robots-tag"):
        if "noai" in _tokens(value):
            reasons.append(f"header X-Robots-Tag: {value.strip()}")
    for value in headers.get_list("content-usage"):
        if _usage_refuses(value):
            reasons.append(f"header Content-Usage: {value.strip()}")
    return reasons


class _MetaTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = {key.lower(): value or "" for key, value in attrs}
            if values.get("name"):
                self.meta.append((values["name"].strip().lower(), values.get("content", "").strip()))


def page_opt_outs(html: str) -> list[str]:
    """Reasons an HTML page's meta tags refuse mining: ``tdm-reservation`` of 1, or ``noai`` in
    a robots meta (``robots`` or one naming us)."""
    parser = _MetaTags()
    parser.feed(html)
    parser.close()
    policy = next((content for name, content in parser.meta if name == "tdm-policy"), None)
    reasons = []
    for name, content in parser.meta:
        if name == "tdm-reservation" and content == "1":
            reasons.append('<meta name="tdm-reservation" content="1">' + _policy(policy))
        elif name in ("robots", ROBOTS_TOKEN) and "noai" in _tokens(content):
            reasons.append(f'<meta name="{name}" content="{content}">')
    return reasons


# -- site files: /.well-known/tdmrep.json and /robots.txt -----------------------------------


@dataclass(frozen=True)
class _TdmRule:
    location: str
    pattern: re.Pattern[str]
    reserved: bool
    policy: str | None


def parse_tdmrep(text: str) -> list[_TdmRule]:
    """The rules of a tdmrep.json: an array of {location, tdm-reservation, tdm-policy}.

    Raises ValueError for a file that is not that shape: a publisher who wrote one meant
    something by it, and a file we cannot read cannot tell us it allows mining.
    """
    try:
        rules = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        nesting = scan(text, 0)
        raise ValueError(f"{too_deep(nesting.depth)} (line {text.count(chr(10), 0, nesting.deepest_at) + 1})") from None
    if not isinstance(rules, list):
        raise ValueError("not a JSON array of rules")
    parsed = []
    for number, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or not isinstance(rule.get("location"), str):
            raise ValueError(f"rule {number} has no location")
        reservation = rule.get("tdm-reservation")
        if isinstance(reservation, bool) or reservation not in (0, 1, "0", "1"):
            raise ValueError(f"rule {number} has tdm-reservation {reservation!r}, not 0 or 1")
        location = rule["location"] if rule["location"].startswith("/") else "/" + rule["location"]
        parsed.append(_TdmRule(location, _pattern(location), str(reservation) == "1", rule.get("tdm-policy")))
    return parsed


@dataclass(frozen=True)
class _UsageRule:
    location: str
    pattern: re.Pattern[str]
    preferences: str


def parse_robots_usage(text: str) -> list[_UsageRule]:
    """The ``Content-Usage`` lines of a robots.txt that apply to us.

    Groups naming our token take the place of ``*`` groups, as RFC 9309 has it for Allow and
    Disallow; lines before any ``User-agent`` apply to everyone. A line is
    ``Content-Usage: [path] preferences``; without a path it covers the whole site.
    """
    everyone: list[_UsageRule] = []
    groups: list[tuple[set[str], list[_UsageRule]]] = []
    in_rules = True
    for raw in text.splitlines():
        key, sep, value = raw.split("#", 1)[0].partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if in_rules:
                groups.append((set(), []))
                in_rules = False
            groups[-1][0].add(value.lower())
            continue
        in_rules = True
        if key == "content-usage" and value:
            location, preferences = value.split(None, 1) if value.startswith("/") and len(value.split()) > 1 else ("/", value)
            (groups[-1][1] if groups else everyone).append(_UsageRule(location, _pattern(location), preferences.strip()))
    ours = [rules for agents, rules in groups if ROBOTS_TOKEN in agents]
    chosen = ours or [rules for agents, rules in groups if "*" in agents]
    return everyone + [rule for rules in chosen for rule in rules]


class OriginRules:
    """Each origin's tdmrep.json and robots.txt, fetched once and kept.

    Every item of a feed usually shares one origin, so one lookup serves them all. Lookups
    that failed are kept only until ``forget_failures``, so a server error is retried on the
    next fetch rather than refusing the origin for good.
    """

    def __init__(self, get: Callable[[str], Fetched]):
        self._get = get
        self._tdmrep: dict[str, list[_TdmRule] | Unchecked] = {}
        self._robots: dict[str, list[_UsageRule] | Unchecked] = {}

    def forget_failures(self) -> None:
        for cache in (self._tdmrep, self._robots):
            for origin in [origin for origin, rules in cache.items() if isinstance(rules, Unchecked)]:
                del cache[origin]

    def opt_outs(self, url: str) -> list[str]:
        """Reasons the site files refuse mining of ``url``; raises Unchecked if unknowable."""
        origin, path = _origin(url), _path(url)
        reasons = []
        tdm_rule = next((rule for rule in self._lookup(self._tdmrep, origin, "/.well-known/tdmrep.json", parse_tdmrep) if rule.pattern.match(path)), None)
        if tdm_rule is not None and tdm_rule.reserved:
            reasons.append(f"{origin}/.well-known/tdmrep.json reserves {tdm_rule.location}" + _policy(tdm_rule.policy))
        usage = [rule for rule in self._lookup(self._robots, origin, "/robots.txt", parse_robots_usage) if rule.pattern.match(path)]
        if usage:
            longest = max(usage, key=lambda rule: len(rule.location))
            if _usage_refuses(longest.preferences):
                reasons.append(f"{origin}/robots.txt Content-Usage: {longest.location} {longest.preferences}")
        return reasons

    def _lookup(self, cache: dict, origin: str, path: str, parse: Callable[[str], list]) -> list:
        """The rules of one site file; a missing file (any 4xx) has none, as RFC 9309 says."""
        if origin not in cache:
            url = origin + path
            try:
                fetched = self._get(url)
                if 400 <= fetched.status < 500:
                    cache[origin] = []
                elif not fetched.ok:
                    cache[origin] = Unchecked(f"{url}: HTTP {fetched.status}")
                else:
                    cache[origin] = parse(fetched.text())
            except ReadError as exc:
                cache[origin] = Unchecked(str(exc))
            except ValueError as exc:
                cache[origin] = Unchecked(f"{url}: {exc}")
        rules = cache[origin]
        if isinstance(rules, Unchecked):
            raise rules
        return rules


def all_opt_outs(fetched: Fetched, origins: OriginRules, urls: Iterable[str]) -> list[str]:
    """Every reason to refuse a fetched document: its headers, its meta tags if it is HTML,
    and the site files of each URL it was reached by (before and after redirects)."""
    reasons = header_opt_outs(fetched.headers)
    kind = fetched.headers.get("content-type", "").lower()
    if not kind or "html" in kind:
        reasons += page_opt_outs(fetched.text())
    for url in dict.fromkeys(urls):
        reasons += origins.opt_outs(url)
    return reasons
