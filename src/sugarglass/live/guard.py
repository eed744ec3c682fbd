"""The live server's guards: signed CSRF tokens, the Origin check on every POST, the admin token
with a slowdown for wrong guesses, and rate-limit windows that survive a restart.

Why each exists (docs/live.md, "Security measures"): cookies are not isolated by port, so any
page on another port of the same host can plant a cookie and post a form as a "same-site"
request; only a token the server signed, and the browser's own word on where a request came
from (`Origin`, `Sec-Fetch-Site`), tell the installation's page from such a neighbour.
The secret that signs tokens and hashes client addresses lives in the installation's folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
import sqlite3
import stat
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sugarglass.errors import SugarglassError

from .settings import LiveSettings, normalise_origin

log = logging.getLogger(__name__)

SECRET_FILE = "secret.key"
LIMITS_FILE = "limits.sqlite"
MIN_ADMIN_TOKEN = 32
MAKE_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
ADMIN_MAX_DELAY = 60.0  # seconds: the longest an address waits after wrong admin tokens
ADMIN_FAILURE_MEMORY = 3600.0  # seconds a wrong admin token counts towards the next delay


class GuardError(SugarglassError):
    """The guards cannot start: a short admin token, an unreadable secret or limits file."""


class Refused(Exception):
    """A request a guard refuses, with the status, a message a person can act on and headers.
    The server's own `Problem` is a subclass, so one handler answers both."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# -- the secret ----------------------------------------------------------------------------------


def load_secret(state_dir: Path | None) -> bytes:
    """The installation's 32-byte secret: read from `<state_dir>/secret.key`, or made once and
    written there (mode 0600, appearing whole or not at all). Without a folder (tests) it lives
    in memory only, so tokens and limits end with the process."""
    if state_dir is None:
        return secrets.token_bytes(32)
    path = state_dir / SECRET_FILE
    try:
        try:
            return _read_secret(path)
        except FileNotFoundError:
            return _make_secret(path)
    except OSError as exc:
        raise GuardError(f"cannot keep the installation's secret in {path}: {exc.strerror or exc}") from None


def _make_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # exactly 0600 whatever the umask
        os.write(descriptor, secret.hex().encode() + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(temporary, path)  # atomic, and never replaces a secret another process just made
    except FileExistsError:
        return _read_secret(path)
    except OSError:  # a file system without hard links (some USB sticks): rename is atomic too
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the name itself survives a power cut
    finally:
        os.close(folder)
    return secret


def _read_secret(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); it is now 0600", path, mode)
        path.chmod(0o600)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise GuardError(f"{path} is not a secret this program wrote (64 hex digits); delete it to make a new "
                         "one (open forms must then be reloaded, and the rate limits start afresh)")
    return bytes.fromhex(text)


def derive(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose, so a CSRF signature can never stand in for an address hash."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def _mac(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- CSRF: a signed cookie, and a signed form token bound to it -----------------------------------

CSRF_COOKIE = "sg_csrf"
_TOKEN = re.compile(r"([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
CLOCK_SKEW = 300.0  # seconds a token may seem to come from the future (the clock was set back)


class CsrfTokens:
    """The cookie (`nonce.issued.mac`) names one browser; each form carries a token
    (`nonce.issued.mac`) whose mac also covers the cookie's nonce. A made-up cookie or token, or
    a genuine token with another browser's cookie, fail the signature. A genuine pair fetched
    by an attacker's own server and planted from a page on another port would pass: the Origin
    and Sec-Fetch-Site check (`OriginGuard`) is what stops that forgery."""

    def __init__(self, key: bytes, max_age: float, clock: Callable[[], float] = time.time):
        self.key, self.max_age, self.clock = key, max_age, clock
        self.cookie_max_age = int(2 * max_age)  # a cookie reused for max_age outlives every form it signed

    def _make(self, *bound: str) -> str:
        nonce, issued = secrets.token_urlsafe(16), str(int(self.clock()))
        return f"{nonce}.{issued}.{_mac(self.key, *bound, nonce, issued)}"

    def _age(self, token: str, *bound: str) -> float | None:
        """Seconds since the server signed `token` for `bound`, or None if it did not sign it."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        nonce, issued, mac = match.groups()
        if not hmac.compare_digest(mac, _mac(self.key, *bound, nonce, issued)):
            return None
        age = self.clock() - int(issued)
        return age if age >= -CLOCK_SKEW else None

    def cookie_for(self, current: str) -> str:
        """The browser's cookie if this server signed it and it is young enough, else a new one."""
        age = self._age(current, "cookie")
        return current if age is not None and age < self.max_age else self._make("cookie")

    def form_token(self, cookie: str) -> str:
        return self._make("form", cookie.partition(".")[0])

    def check(self, request: Request, fields: dict[str, str]) -> None:
        """Refuse (403) a form without a signed cookie and a signed token bound to it, or too old."""
        cookie, token = request.cookies.get(CSRF_COOKIE, ""), fields.get("csrf", "")
        if not cookie:
            raise Refused(403, "your browser sent this form without its cookie (are cookies allowed?); "
                               "reload the page and try again")
        if not token:
            raise Refused(403, "this form came without its token; reload the page and try again")
        cookie_age, token_age = self._age(cookie, "cookie"), self._age(token, "form", cookie.partition(".")[0])
        if cookie_age is None or token_age is None:
            raise Refused(403, "this form was not issued by this installation's page; reload the page and try again")
        if token_age > self.max_age or cookie_age > 2 * self.max_age:
            raise Refused(403, f"this form is more than {_duration(self.max_age)} old; reload the page and try again")


def _duration(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} day(s)"
    if seconds >= 3600:
        return f"{math.ceil(seconds / 3600)} hour(s)"
    return f"{math.ceil(seconds)} second(s)"


# -- where a POST came from ------------------------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def own_origins(request: Request) -> set[str]:
    """The origins this server is reached at: the address the connection arrived on (not the
    Host header, which a DNS-rebinding page chooses), and `localhost` for a loopback address."""
    scheme, server = request.url.scheme, request.scope.get("server")
    if not server:  # a Unix socket: only the Host header says where the browser thinks it is
        found = normalise_origin(f"{scheme}://{request.headers.get('host', '')}")
        return {found} if found else set()
    host, port = server[0], server[1]
    hosts = [host]
    try:
        if ipaddress.ip_address(host).is_loopback:
            hosts.append("localhost")
    except ValueError:
        pass
    found = (normalise_origin(f"{scheme}://{f'[{h}]' if ':' in h else h}:{port}") for h in hosts)
    return {origin for origin in found if origin}


def origin_refusal(request: Request, allowed: frozenset[str], require: bool) -> str | None:
    """Why a POST must be refused by where the browser says it came from, or None.

    `Sec-Fetch-Site` (set by the browser, never by a page) must be `same-origin` or `none`: a
    page on another port of this host is `same-site`. A present `Origin` must be this server's
    own or an allowed one (`null` only with `Sec-Fetch-Site: same-origin`). With neither header
    the request is refused when `require` (the visitors' forms: every current browser sends
    `Origin` on a POST) and let through otherwise (admin, where the bearer token decides)."""
    site = request.headers.get("sec-fetch-site", "").strip().lower()
    origin = request.headers.get("origin")
    if site and site not in ("same-origin", "none"):
        return (f"this request came from another site (Sec-Fetch-Site: {site[:20]}); "
                "please use the form on this installation's own page")
    if origin is not None:
        if origin.strip().lower() == "null":
            if site != "same-origin":
                return "this request came from a page without an address (Origin: null); please use the form on this installation's own page"
        elif (normalise_origin(origin) or "?") not in allowed | own_origins(request):
            return (f"this request came from {origin[:100]!r}, which is not this installation's address; "
                    "if a reverse proxy serves it under another address, add that to allowed_origins in [live]")
    elif not site and require:
        return ("this form must be sent by a browser from this installation's page (no Origin header came "
                "with it); a script should send the header 'Origin: <the installation's address>'")
    return None


class OriginGuard:
    """Pure ASGI middleware: every POST (any method but GET, HEAD, OPTIONS) is checked before it
    reaches a route, so a new route cannot forget the check. `answer` renders the refusal."""

    def __init__(self, app: Callable, allowed: frozenset[str],
                 answer: Callable[[Request, Exception], Awaitable[Response]]) -> None:
        self.app, self.allowed, self.answer = app, allowed, answer

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            request = Request(scope)
            reason = origin_refusal(request, self.allowed, require=not scope["path"].startswith("/admin/"))
            if reason is not None:
                response = await self.answer(request, Refused(403, reason))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- rate-limit windows that survive a restart ------------------------------------------------------


class LimitStore:
    """The windows' events in SQLite (`<state_dir>/limits.sqlite`, mode 0600): one row per event,
    a keyed hash of the address rather than the address, rows deleted once out of their window.
    Each write is one transaction, committed before the reply goes out, so a kill loses nothing a
    client was told; WAL with synchronous=NORMAL may lose the last writes only to a power cut.
    One connection behind a lock, used from worker threads, never from the event loop."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path, self.clock = path, clock
        self._lock = threading.Lock()
        self._windows: dict[str, float] = {}  # name -> seconds, for sweeping every window's old rows
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite would make it 0644
            self._db: sqlite3.Connection | None = sqlite3.connect(path, check_same_thread=False, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                self._db.execute("CREATE TABLE IF NOT EXISTS events (name TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL)")
                self._db.execute("CREATE INDEX IF NOT EXISTS events_by_time ON events (name, at)")
        except sqlite3.DatabaseError as exc:
            raise GuardError(f"{path} is not a readable limits database ({exc}); delete it and the "
                             "rate limits start afresh") from None

    def load(self, name: str, window: float, now: float) -> list[tuple[str, float]]:
        """The window's events still inside it, oldest first; older ones are deleted."""
        with self._lock:
            assert self._db is not None
            self._windows[name] = window
            with self._db:
                self._db.execute("DELETE FROM events WHERE name = ? AND at <= ?", (name, now - window))
            return self._db.execute("SELECT key, at FROM events WHERE name = ? ORDER BY at", (name,)).fetchall()

    def add(self, name: str, key: str, at: float) -> None:
        """One event, and every window's rows that have left it: one transaction."""
        with self._lock:
            if self._db is None:
                return
            with self._db:
                self._db.execute("INSERT INTO events (name, key, at) VALUES (?, ?, ?)", (name, key, at))
                self._sweep(at)

    def _sweep(self, now: float) -> None:
        for name, window in self._windows.items():
            self._db.execute("DELETE FROM events WHERE name = ? AND at <= ?", (name, now - window))

    def forget(self, name: str, key: str) -> None:
        with self._lock:
            if self._db is not None:
                with self._db:
                    self._db.execute("DELETE FROM events WHERE name = ? AND key = ?", (name, key))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with self._db:
                    self._sweep(self.clock())
                self._db.close()
                self._db = None


class SlidingWindow:
    """At most `limit` events per `window` seconds per client address. Memory is the truth for
    checks (on the event loop, no lock, no disk); each event is also written through to the
    store, so a restart reloads what is still in its window. Times are wall-clock seconds, which
    (unlike the monotonic clock) mean the same after a restart. Addresses are keyed hashes."""

    def __init__(self, name: str, limit: int, window: float, hash_key: bytes, store: LimitStore | None = None,
                 clock: Callable[[], float] = time.time):
        self.name, self.limit, self.window = name, limit, window
        self.hash_key, self.store, self.clock = hash_key, store, clock
        self.events: dict[str, deque[float]] = {}
        if store is not None:
            for key, at in store.load(name, window, clock()):
                self.events.setdefault(key, deque()).append(at)

    def key(self, address: str) -> str:
        return hmac.new(self.hash_key, address.encode(), hashlib.sha256).hexdigest()[:32]

    def times(self, address: str) -> deque[float]:
        """The address's events still in the window, oldest first (idle keys swept when many)."""
        now = self.clock()
        if len(self.events) > 10_000:
            for old in [k for k, q in self.events.items() if not q or q[-1] <= now - self.window]:
                del self.events[old]
        times = self.events.get(self.key(address), deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if times and times[-1] > now:  # the clock was set back: count them from now, not from the future
            for i in range(len(times)):
                times[i] = min(times[i], now)
        return times

    def retry_after(self, address: str) -> float:
        """Seconds until `address` may act again; 0 if it may now."""
        times = self.times(address)
        if len(times) < self.limit:
            return 0.0
        return times[0] + self.window - self.clock()

    async def record(self, address: str) -> None:
        """Count an event now; returns once it is on disk too."""
        await self.keep(self.hold(address))

    def hold(self, address: str) -> tuple[str, float]:
        """Count an event now, in memory only, before anything that awaits: requests that arrive
        together from one address cannot all pass the check before any of them is counted."""
        key, now = self.key(address), self.clock()
        self.events.setdefault(key, deque()).append(now)
        return key, now

    def release(self, held: tuple[str, float]) -> None:
        """Take back a held event whose request was refused after all."""
        key, at = held
        times = self.events.get(key)
        if times is not None and at in times:
            times.remove(at)

    async def keep(self, held: tuple[str, float]) -> None:
        """Write a held event through to disk, so it outlives a restart."""
        if self.store is not None:
            await run_in_threadpool(self.store.add, self.name, *held)

    async def forget(self, address: str) -> None:
        key = self.key(address)
        self.events.pop(key, None)
        if self.store is not None:
            await run_in_threadpool(self.store.forget, self.name, key)


# -- admin ----------------------------------------------------------------------------------------


def admin_token(env: str) -> str:
    """The admin token from the environment; '' (admin disabled) if unset. A short one is
    refused at start, since a guessable token is worse than none."""
    token = os.environ.get(env, "").strip()
    if token and len(token) < MIN_ADMIN_TOKEN:
        raise GuardError(f"the admin token in {env} has {len(token)} character(s); it needs at least "
                         f"{MIN_ADMIN_TOKEN}: make one with {MAKE_TOKEN}")
    return token


def admin_delay(failures: int) -> float:
    """Seconds an address waits after its `failures`-th wrong token in a row: 1, 2, 4 ... 60."""
    return 0.0 if failures <= 0 else min(ADMIN_MAX_DELAY, 2.0 ** (failures - 1))


class AdminGate:
    """Bearer-token check for the admin endpoints. After each wrong token the address must wait
    `admin_delay(failures)`; until then every admin request from it gets 429 and Retry-After,
    answered at once (nothing sleeps on the event loop). A right token clears the count."""

    def __init__(self, token: str, env: str, failures: SlidingWindow):
        self.token, self.env, self.failures = token, env, failures

    def wait(self, address: str) -> float:
        times = self.failures.times(address)
        if not times:
            return 0.0
        return times[-1] + admin_delay(len(times)) - self.failures.clock()

    async def __call__(self, request: Request) -> None:
        if not self.token:
            raise Refused(503, f"admin disabled: set {self.env} to a token before starting")
        address = client_address(request)
        wait = self.wait(address)
        if wait > 0:
            raise Refused(429, f"too many wrong admin tokens from here; wait {math.ceil(wait)} s and try again",
                          {"Retry-After": str(math.ceil(wait))})
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not given.strip():
            raise Refused(401, "admin needs the header 'Authorization: Bearer <token>'", challenge)
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            await self.failures.record(address)
            wait = math.ceil(self.wait(address))
            raise Refused(401, f"the admin token is wrong; the next try from here must wait {wait} s",
                          {**challenge, "Retry-After": str(wait)})
        if self.failures.times(address):
            await self.failures.forget(address)


# -- all of it, as make_app uses it -------------------------------------------------------------------


class Guards:
    """The secret, the CSRF tokens, the visitors' and withdrawals' windows and the admin gate of
    one app. `state_dir` None keeps everything in memory (tests); `close()` at shutdown."""

    def __init__(self, settings: LiveSettings, state_dir: Path | None):
        token = admin_token(settings.admin_token_env)  # before touching any file
        secret = load_secret(state_dir)
        self.store = None if state_dir is None else LimitStore(state_dir / LIMITS_FILE)
        addresses = derive(secret, "client-address")
        self.csrf = CsrfTokens(derive(secret, "csrf"), settings.csrf_max_age_seconds)
        window = settings.visitor_window_seconds
        self.visitors = SlidingWindow("visit", settings.visitor_limit, window, addresses, self.store)
        self.withdrawals = SlidingWindow("withdraw", settings.withdraw_limit, window, addresses, self.store)
        failures = SlidingWindow("admin-failure", 1, ADMIN_FAILURE_MEMORY, addresses, self.store)
        self.admin = AdminGate(token, settings.admin_token_env, failures)
        self.allowed_origins = frozenset(settings.allowed_origins)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
