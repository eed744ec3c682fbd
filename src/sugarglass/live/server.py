"""The installation's web server: the live painting, the visitors' form and the admin endpoints.

The server never renders or streams video: every viewer's browser gets each tick's 48 levels
(and the coarse plate field when the run has one) as one small binary WebSocket message and
paints the liquid crystal itself with WebGL, so a hundred viewers cost the server almost nothing.
Visitors' words go the other way: the server checks them (origin, CSRF, length, rate), cleans,
scores and commits them to the store, and only then answers with a receipt code — never with the
words themselves; the run takes them from the store at its next tick. A browser's form is
answered with a redirect to the receipt page (post, redirect, get), so reloading the thank-you
never sends the words twice.
The wire format, pages, limits and security measures are described in `docs/live.md`.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import hmac
import html
import io
import json
import logging
import math
import re
import secrets
import signal
import struct
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import segno
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from sugarglass.affect import Analyzers, LanguageGuesser
from sugarglass.canvas import CanvasConfig, colour_table
from sugarglass.errors import ConsentError, StoreBusy, StoreError
from sugarglass.erasure import withdraw_receipt, withdraw_source
from sugarglass.ingest import RECEIPT_ALPHABET, VisitorRefused, ingest_visitor
from sugarglass.store import EXPORT_COLUMNS, Store, iso_utc, spreadsheet_safe

from .guard import CSRF_COOKIE, CsrfTokens, Guards, OriginGuard, Refused, SlidingWindow, derive
from .guard import client_address as _client
from .hub import Command, Frame, LiveHub
from .settings import LiveSettings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("sugarglass.live")

# -- the wire format: one binary message per tick (docs/live.md) ------------------------------

FRAME_MAGIC = b"SGLF"
FRAME_VERSION = 1
FLAG_FIELD = 1
# magic, version, flags, ripple count, tick, columns, rows, field rows, field columns,
# field offset (C), field step (C per unit); then levels, ripples and field as little-endian uint16
HEADER = struct.Struct("<4sBBHdHHHHff")


def encode_frame(frame: Frame, columns: int, rows: int) -> bytes:
    """One tick as bytes: a 32-byte header, uint16 levels, uint16 ripple indices, and the
    coarse field quantised to uint16 over its own range (about 0.0002 C a step for a 12 C span)."""
    levels = np.clip(np.asarray(frame.levels, dtype=np.float64), 0, 65535).round().astype("<u2").ravel()
    ripples = np.asarray(frame.ripples, dtype="<u2").ravel()
    field = None if frame.field is None else np.asarray(frame.field, dtype=np.float64)
    flags, shape, offset, step, quantised = 0, (0, 0), 0.0, 0.0, b""
    if field is not None and field.ndim == 2 and field.size and np.isfinite(field).all():
        offset = float(np.float32(field.min()))
        step = float(np.float32(max(field.max() - offset, 1e-6) / 65535.0))
        quantised = np.clip(np.rint((field - offset) / step), 0, 65535).astype("<u2").tobytes()
        flags, shape = FLAG_FIELD, field.shape
    header = HEADER.pack(FRAME_MAGIC, FRAME_VERSION, flags, len(ripples), float(frame.tick), columns, rows,
                         shape[0], shape[1], offset, step)
    return header + levels.tobytes() + ripples.tobytes() + quantised


# -- errors: one exception, answered as JSON or as a page -------------------------------------


class Problem(Refused):
    """A request the server refuses, with the status and a message a person can act on
    (`Refused`, which the guards raise, answered the same way)."""


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


NO_STORE = {"Cache-Control": "no-store"}


def _page(name: str, status: int = 200, markup: dict[str, str] | None = None, **values: str) -> HTMLResponse:
    """A page from a template in static/: `{{name}}` is a value, HTML-escaped; `{{!name}}` is
    markup the server made itself (the receipt's QR code), inserted as it is. One pass, so
    nothing a value holds is ever read as a placeholder."""
    text = (STATIC / name).read_text(encoding="utf-8")
    markup = markup or {}

    def fill(match: re.Match) -> str:
        return markup[match[2]] if match[1] else html.escape(values[match[2]], quote=True)

    return HTMLResponse(re.sub(r"\{\{(!?)(\w+)\}\}", fill, text), status_code=status, headers=NO_STORE)


def _message(request: Request, status: int, title: str, message: str, **extra: object) -> Response:
    if _wants_html(request):
        return _page("message.html", status, title=title, message=message)
    body = {"error": message} if status >= 400 else {"message": message, **extra}
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    response = _message(request, exc.status, "Sorry", exc.message)
    response.headers.update(exc.headers)
    return response


# -- request bodies ------------------------------------------------------------------------


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise Problem(413, f"the request body must be at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, f"the request body must be at most {limit} bytes")
    return bytes(body)


async def read_fields(request: Request, limit: int, allowed: set[str]) -> dict[str, str]:
    """A form (urlencoded) or a JSON object of strings; anything else is a 4xx naming why."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "application/json"):
        raise Problem(415, "send the fields as application/x-www-form-urlencoded or application/json")
    body = await _read_body(request, limit)
    if kind == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Problem(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Problem(400, "the JSON body must be an object")
        pairs = list(data.items())
    else:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                              max_num_fields=len(allowed) + 1, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise Problem(400, "the form is malformed") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise Problem(400, f"the field {name!r} is given twice")
        if name not in allowed:
            raise Problem(422, f"unknown field {name[:40]!r}; expected {', '.join(sorted(allowed))}")
        if not isinstance(value, str):
            raise Problem(422, f"the field {name!r} must be a string")
        fields[name] = value
    return fields


def _need(fields: dict[str, str], name: str, message: str | None = None) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise Problem(422, message or f"the field {name!r} is missing")
    return value


_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def clean_message(text: str) -> str:
    """The visitor's words without control characters (newlines and tabs kept) or bidi overrides,
    trimmed: what is scored is what a person could see they typed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = (ch for ch in text if ch in "\n\t" or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI))
    return "".join(kept).strip()


def normalise_receipt(code: str) -> str:
    """Receipt codes are forgiving to type: any case, with or without dashes and spaces."""
    raw = re.sub(r"[\s-]", "", code).upper()
    if len(raw) != 12 or any(ch not in RECEIPT_ALPHABET for ch in raw):
        raise Problem(422, "a receipt code has 12 letters and digits, like ABCD-EFGH-JKMN")
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


# -- the receipt page: post, redirect, get --------------------------------------------------------

RECEIPT_COOKIE = "sg_receipt"
RECEIPT_PAGE = "/visit/thanks"
RECEIPT_SECONDS = 120  # as long as the thank-you stays up before the tablet returns to the form
WITHDRAWN_COOKIE = "sg_withdrawn"
WITHDRAWN_PAGE = "/withdraw/done"
WITHDRAWN = "Your words have been removed from the store and leave the painting."
_SLIP = re.compile(r"([A-Za-z0-9_-]{40})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


class ReceiptSlip:
    """Carries a receipt code from the POST that stored the words to the GET page that shows it,
    in a cookie only the browser that sent the words holds: `HttpOnly`, `SameSite=Strict`,
    `Path=/visit/thanks`, two minutes. The value is sealed: the code XORed with a pad that
    HMAC-SHA256 makes from a fresh nonce (encrypted, since cookies are not isolated by port and
    a server on another port of the host would be sent it), then signed with the time, so a
    planted or stale value shows nothing. The server keeps no receipt, in memory or on disk:
    the store holds only the code's hash (docs/live.md, "The receipt page")."""

    def __init__(self, key: bytes, seconds: float = RECEIPT_SECONDS, clock: Callable[[], float] = time.time):
        self.pad_key, self.mac_key = derive(key, "receipt-pad"), derive(key, "receipt-mac")
        self.seconds, self.clock = seconds, clock

    def _pad(self, nonce: bytes) -> bytes:
        return hmac.new(self.pad_key, nonce, hashlib.sha256).digest()[:14]

    def _mac(self, sealed: str, issued: str) -> str:
        digest = hmac.new(self.mac_key, f"{sealed}.{issued}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def seal(self, receipt: str) -> str:
        nonce = secrets.token_bytes(16)
        hidden = bytes(a ^ b for a, b in zip(receipt.encode("ascii"), self._pad(nonce), strict=True))
        sealed, issued = base64.urlsafe_b64encode(nonce + hidden).decode(), str(int(self.clock()))
        return f"{sealed}.{issued}.{self._mac(sealed, issued)}"

    def open(self, value: str) -> tuple[str, float] | None:
        """The receipt and the seconds it may still be shown, or None (not ours, or too old)."""
        match = _SLIP.fullmatch(value)
        if match is None or not hmac.compare_digest(match[3], self._mac(match[1], match[2])):
            return None
        left = int(match[2]) + self.seconds - self.clock()
        if not 0 < left <= self.seconds + 5:  # a few seconds of slack for a clock stepped back
            return None
        raw = base64.urlsafe_b64decode(match[1])
        receipt = bytes(a ^ b for a, b in zip(raw[16:], self._pad(raw[:16]), strict=True)).decode("ascii", "replace")
        return receipt, min(left, self.seconds)


def receipt_qr(receipt: str) -> str:
    """The code as a QR code in inline SVG (segno, made here: no script, nothing fetched). It
    holds the code alone, in QR's alphanumeric mode (version 1), so a phone's camera shows
    exactly what the withdrawal form takes."""
    qr = segno.make_qr(receipt, error="q")
    return qr.svg_inline(scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr",
                         lineclass=None, title=f"QR code of the receipt {receipt}")


# -- limits (the windows, kept across restarts, are in guard.py) ------------------------------------


def _limit(window: SlidingWindow, request: Request, message: str) -> None:
    wait = window.retry_after(_client(request))
    if wait > 0:
        raise Problem(429, message.format(minutes=max(1, math.ceil(wait / 60))),
                      {"Retry-After": str(math.ceil(wait))})


# -- CSRF: a signed cookie and a signed form token bound to it (guard.py) ---------------------------


def _csrf_page(csrf: CsrfTokens, request: Request, template: str, **values: str) -> HTMLResponse:
    """A form page carrying a signed token in a hidden field, bound to a signed, strict, HttpOnly
    cookie: a page elsewhere can read neither, and cannot make up either (docs/live.md)."""
    cookie = csrf.cookie_for(request.cookies.get(CSRF_COOKIE, ""))
    response = _page(template, csrf=csrf.form_token(cookie), **values)
    response.set_cookie(CSRF_COOKIE, cookie, max_age=csrf.cookie_max_age, httponly=True, samesite="strict",
                        path="/", secure=request.url.scheme == "https")
    return response


# -- security headers ----------------------------------------------------------------------------

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make a browser send `Origin: null` on our own forms
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Pure ASGI middleware (it leaves WebSockets and streamed bodies alone)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- the store, off the event loop (SQLite connections belong to one thread) -----------------------


@dataclass(frozen=True)
class Intake:
    """How the form scores a visitor's words before it stores them: the work's analyzer, and
    whether words not in English are refused (``non_english = "skip"``)."""

    analyzer: Analyzers
    guesser: LanguageGuesser
    skip_foreign: bool


def _store_visitor(path: Path, intake: Intake, text: str, scope: str) -> str:
    """Store the words (committed, synchronous=FULL) and only then return the receipt."""
    with Store(path) as store:
        return ingest_visitor(store, intake.analyzer, intake.guesser, text, scope, datetime.now(timezone.utc),
                              intake.skip_foreign)


def _withdraw_receipt(path: Path, code: str) -> int:
    with Store(path) as store:
        return withdraw_receipt(store, code).posts


def _withdraw_source(path: Path, source: str, reason: str) -> tuple[int, int]:
    with Store(path) as store:
        done = withdraw_source(store, source, reason)
    return done.posts, done.feelings


def _export_csv(path: Path) -> str:
    """Every stored feeling as CSV, the same columns and formats as `sugarglass feelings export`,
    safe to open in a spreadsheet (`spreadsheet_safe`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    with Store(path) as store:
        for source, post_id, created, language, non_english, *scores in store.export_rows():
            writer.writerow(spreadsheet_safe([source, post_id, iso_utc(created), language or "", non_english, *scores]))
    return out.getvalue()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# -- the charts: each metric the run publishes, in words, with its unit -----------------------------

# name: (label, unit, a range the axis always covers or None). Counts a tick cover 0..1, so a tick
# without births reads as a flat line at zero, not as a line in the middle of -1..1.
METRIC_LABELS: dict[str, tuple[str, str, tuple[float, float] | None]] = {  # in the order the page shows them
    "population": ("Population", "agents alive", None),
    "gini": ("Gini of wealth", "0 all equal, 1 one has all", (0, 1)),
    "price_geomean": ("Price", "spice per sugar, geometric mean", None),
    "trades": ("Trades", "exchanges a tick", (0, 1)),
    "births": ("Births", "agents a tick", (0, 1)),
    "deaths": ("Deaths", "agents a tick", (0, 1)),
    "sugar_mean": ("Sugar held, per agent", "sugar", None),
    "spice_mean": ("Spice held, per agent", "spice", None),
    "starved": ("Starved", "agents a tick", (0, 1)),
    "died_of_age": ("Died of old age", "agents a tick", (0, 1)),
    "trade_pairs": ("Trading pairs", "pairs a tick", (0, 1)),
    "log_price_sd": ("Spread of prices", "sd of log price", None),
    "sugar_total": ("Sugar held, all agents", "sugar", None),
    "spice_total": ("Spice held, all agents", "spice", None),
    "vision_mean": ("Vision", "cells, mean of agents", None),
    "sugar_metabolism_mean": ("Sugar metabolism", "sugar a tick, mean of agents", None),
    "spice_metabolism_mean": ("Spice metabolism", "spice a tick, mean of agents", None),
}


def chart_labels() -> str:
    """The labels as JSON for the charts page (a data attribute: no inline script under the CSP)."""
    return json.dumps({name: {"label": label, "unit": unit, "include": include}
                       for name, (label, unit, include) in METRIC_LABELS.items()}, separators=(",", ":"))


# -- the app -------------------------------------------------------------------------------------


def painting_settings(canvas: CanvasConfig, settings: LiveSettings) -> dict:
    """What the page needs to paint like `sugarglass.canvas`: the plate's physics and the film's
    colour table (1024 entries, low..high C), so the shader draws the same colours."""
    table = colour_table(canvas, size=1024)
    keys = ("columns", "rows", "cells_per_pitch", "pitch_mm", "element_mm", "diffusivity_mm2_s", "cooling_tau_s",
            "seconds_per_tick", "ambient_c", "start_c", "element_power_w", "plate_heat_capacity_j_m2k",
            "drive_gamma", "signed", "signed_midpoint", "event_c", "bandwidth_c")
    return {
        **{key: getattr(canvas, key) for key in keys},
        "palette": {"low": table.low, "high": table.high, "rgb": np.rint(table.rgb).astype(int).ravel().tolist()},
        "tick_seconds": settings.tick_seconds,
        "kiosk": settings.kiosk,
    }


def make_app(
    hub: LiveHub,
    settings: LiveSettings,
    store_path: Path | None,
    *,
    canvas: CanvasConfig | None = None,
    on_shutdown: Callable[[], None] | None = None,
    state_dir: Path | None = None,
    analyzer: Analyzers | None = None,
    non_english: str = "keep",
    guess_among: list[str] | None = None,
) -> Starlette:
    """The installation's app. `canvas` is the work's `[canvas]` table (the page paints with
    its colours and plate); `on_shutdown` runs (in a worker thread) when the server stops.
    `state_dir` keeps the secret and the rate limits across restarts (the live output folder);
    None keeps them in memory. A short admin token raises `GuardError` here, before serving.
    `analyzer` and `non_english` are the work's: the form scores and stores each visitor's words
    itself, before it answers with a receipt (English VADER when not given); `guess_among`
    narrows the language classifier as the work's `[analyzer]` says."""
    canvas = canvas or CanvasConfig()
    if (canvas.columns, canvas.rows) != (hub.columns, hub.rows):
        raise ValueError(f"the hub's grid {hub.columns}x{hub.rows} differs from the canvas's {canvas.columns}x{canvas.rows}")
    painting = painting_settings(canvas, settings)
    intake = Intake(analyzer or Analyzers(), LanguageGuesser(guess_among), non_english == "skip")
    guards = Guards(settings, state_dir)
    csrf, visitors, withdrawals, check_admin = guards.csrf, guards.visitors, guards.withdrawals, guards.admin
    slips = ReceiptSlip(csrf.key)  # a key derived from the CSRF key: another purpose, another key
    labels = chart_labels()
    limit = settings.max_body_bytes

    def store(what: str = "nothing is kept to withdraw or export") -> Path:
        if store_path is None:
            raise Problem(503, f"this installation runs without a store, so {what}")
        return store_path

    # pages
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # no icon, and no 404 in every console

    async def charts(request: Request) -> Response:
        return _page("charts.html", labels=labels)

    async def visit_form(request: Request) -> Response:
        response = _csrf_page(csrf, request, "visit.html", max_chars=str(settings.max_message_chars))
        # a blank form is the next visitor's: the last one's receipt goes
        response.delete_cookie(RECEIPT_COOKIE, path=RECEIPT_PAGE, httponly=True, samesite="strict")
        return response

    async def receipt_page(request: Request) -> Response:
        """The thank-you after a browser's form: the receipt from this browser's sealed cookie."""
        opened = slips.open(request.cookies.get(RECEIPT_COOKIE, ""))
        if opened is None:
            return _page("message.html", title="No receipt here",
                         message="A receipt is shown for two minutes after sending, on the device that sent the words. "
                                 "If you have your code, you can withdraw your words with it at /withdraw.")
        receipt, left = opened
        return _page("thanks.html", markup={"qr": receipt_qr(receipt)}, receipt=receipt,
                     refresh=str(max(1, math.ceil(left))))

    async def withdraw_form(request: Request) -> Response:
        return _csrf_page(csrf, request, "withdraw.html")

    # the page's data
    async def painting_json(request: Request) -> Response:
        return JSONResponse(painting)

    async def state(request: Request) -> Response:
        o = hub.overlay
        return JSONResponse({
            "work": o.work, "seed": o.seed, "tick": o.tick, "population": o.population, "price": _finite(o.price),
            "sources": dict(o.sources), "paused": o.paused, "viewers": hub.viewers,
        }, headers=NO_STORE)

    async def metrics(request: Request) -> Response:
        history = hub.metrics_history()
        return JSONResponse({name: [_finite(v) for v in values] for name, values in history.items()}, headers=NO_STORE)

    async def frames(websocket: WebSocket) -> None:
        """The latest frame at once, then every new one; a frame never goes out twice."""
        await websocket.accept()
        queue = hub.subscribe()
        closed = asyncio.ensure_future(_until_closed(websocket))
        last_tick = -math.inf
        try:
            frame = hub.latest()
            while not closed.done():
                if frame is not None and frame.tick > last_tick:
                    await websocket.send_bytes(encode_frame(frame, hub.columns, hub.rows))
                    last_tick = frame.tick
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                frame = getter.result()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the viewer went away mid-send
        finally:
            hub.unsubscribe(queue)
            closed.cancel()

    # visitors
    async def visit(request: Request) -> Response:
        fields = await read_fields(request, limit, {"text", "scope", "csrf"})
        csrf.check(request, fields)
        text = clean_message(fields.get("text", ""))
        if not text:
            raise Problem(422, "please write a few words before sending")
        if len(text) > settings.max_message_chars:
            raise Problem(422, f"your message has {len(text)} characters; at most {settings.max_message_chars} can be sent")
        scope = fields.get("scope", "")
        if scope not in ("score", "keep-text"):
            raise Problem(422, "please choose what may be kept: only the feeling ('score') or your words too ('keep-text')")
        _limit(visitors, request, "thank you — you have sent several messages already; please try again in {minutes} minute(s)")
        if not hub.ready:
            raise Problem(503, "the painting is just starting; please send your words again in a minute", {"Retry-After": "30"})
        held = visitors.hold(_client(request))
        try:
            receipt = await run_in_threadpool(_store_visitor, store("visitors' words cannot be kept"), intake, text, scope)
        except BaseException as exc:
            visitors.release(held)  # nothing was stored: the visitor keeps their message's place
            if isinstance(exc, VisitorRefused):
                raise Problem(422, str(exc)) from None
            if isinstance(exc, StoreBusy):
                raise Problem(503, BUSY, {"Retry-After": "30"}) from None
            if isinstance(exc, ConsentError):
                raise Problem(403, "the artist has closed this work to visitors' words; thank you for coming") from None
            raise
        try:
            await visitors.keep(held)
        except Exception:  # noqa: BLE001 - the words are stored: their writer gets the receipt regardless
            log.exception("a visitor's rate-limit event could not be written through; it counts until a restart")
        if _wants_html(request):  # a browser's form: redirect, so a reload of the thank-you sends nothing
            response = RedirectResponse(RECEIPT_PAGE, status_code=303, headers=NO_STORE)
            response.set_cookie(RECEIPT_COOKIE, slips.seal(receipt), max_age=RECEIPT_SECONDS, path=RECEIPT_PAGE,
                                httponly=True, samesite="strict", secure=request.url.scheme == "https")
            return response
        return JSONResponse({"message": "your words are stored and enter the painting at its next tick",
                             "receipt": receipt}, headers=NO_STORE)

    async def withdraw(request: Request) -> Response:
        fields = await read_fields(request, limit, {"receipt", "csrf"})
        csrf.check(request, fields)
        code = normalise_receipt(_need(fields, "receipt", "please enter your receipt code"))
        _limit(withdrawals, request, "too many codes tried from here; please try again in {minutes} minute(s)")
        await withdrawals.record(_client(request))
        removed = await _withdraw_or_404(store(), code)
        if _wants_html(request):  # as after sending: a reload of the result withdraws nothing twice
            response = RedirectResponse(WITHDRAWN_PAGE, status_code=303, headers=NO_STORE)
            response.set_cookie(WITHDRAWN_COOKIE, slips.seal(code), max_age=RECEIPT_SECONDS, path=WITHDRAWN_PAGE,
                                httponly=True, samesite="strict", secure=request.url.scheme == "https")
            return response
        return JSONResponse({"message": WITHDRAWN, "receipt": code, "removed": removed}, headers=NO_STORE)

    async def withdrawn_page(request: Request) -> Response:
        """The result of a browser's withdrawal, shown only to the browser that made it (the same
        sealed cookie as the receipt page's): anyone else opening the address is told nothing."""
        if slips.open(request.cookies.get(WITHDRAWN_COOKIE, "")) is None:
            return _page("message.html", title="Nothing withdrawn here",
                         message="A withdrawal is confirmed for two minutes, on the device that made it. "
                                 "To withdraw words, enter their receipt code at /withdraw.")
        return _page("message.html", title="Withdrawn", message=WITHDRAWN)

    # admin
    async def pause(request: Request) -> Response:
        await check_admin(request)
        hub.command(Command("pause"))
        return JSONResponse({"message": "the run pauses at its next tick"}, status_code=202)

    async def resume(request: Request) -> Response:
        await check_admin(request)
        hub.command(Command("resume"))
        return JSONResponse({"message": "the run resumes at its next tick"}, status_code=202)

    async def withdraw_source(request: Request) -> Response:
        await check_admin(request)
        fields = await read_fields(request, limit, {"source", "reason"})
        source = _need(fields, "source")
        try:
            posts, feelings = await run_in_threadpool(_withdraw_source, store(), source, fields.get("reason", "").strip())
        except ConsentError as exc:
            raise Problem(409, str(exc)) from None
        except StoreBusy:
            raise Problem(503, BUSY, {"Retry-After": "30"}) from None
        except StoreError as exc:
            raise Problem(404, str(exc)) from None
        return JSONResponse({"source": source, "posts_removed": posts, "feelings_removed": feelings})

    async def withdraw_receipt(request: Request) -> Response:
        await check_admin(request)
        fields = await read_fields(request, limit, {"receipt"})
        code = normalise_receipt(_need(fields, "receipt"))
        return JSONResponse({"receipt": code, "posts_removed": await _withdraw_or_404(store(), code)})

    async def export(request: Request) -> Response:
        await check_admin(request)
        text = await run_in_threadpool(_export_csv, store())
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="feelings.csv"'})

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        await run_in_threadpool(guards.close)
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    routes = [
        Route("/", index), Route("/charts", charts), Route("/favicon.ico", favicon), Route("/visit", visit_form),
        Route(RECEIPT_PAGE, receipt_page), Route("/withdraw", withdraw_form),
        Route(WITHDRAWN_PAGE, withdrawn_page),
        Route("/api/painting", painting_json), Route("/api/state", state), Route("/api/metrics", metrics),
        Route("/api/visit", visit, methods=["POST"]), Route("/api/withdraw", withdraw, methods=["POST"]),
        Route("/admin/pause", pause, methods=["POST"]), Route("/admin/resume", resume, methods=["POST"]),
        Route("/admin/withdraw-source", withdraw_source, methods=["POST"]),
        Route("/admin/withdraw-receipt", withdraw_receipt, methods=["POST"]),
        Route("/admin/export", export),
        WebSocketRoute("/ws", frames),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    app = Starlette(routes=routes, exception_handlers={Refused: _problem}, lifespan=lifespan)
    app.add_middleware(OriginGuard, allowed=guards.allowed_origins, answer=_problem)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: refusals get the headers too
    return app


async def _until_closed(websocket: WebSocket) -> None:
    """Viewers send nothing; read (and drop) until the socket closes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


BUSY = "the installation is busy storing words just now; please try again in half a minute"


async def _withdraw_or_404(path: Path, code: str) -> int:
    try:
        return await run_in_threadpool(_withdraw_receipt, path, code)
    except StoreBusy:
        raise Problem(503, BUSY, {"Retry-After": "30"}) from None
    except StoreError:
        raise Problem(404, "no words are stored under that code: they may have been withdrawn already, "
                           "or the code was mistyped") from None


# -- running it ------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGINT/SIGTERM end `run()` normally instead of being raised
    again afterwards: the installation still has its final checkpoint to write."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.signal(number, self.handle_exit) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def make_server(app: Starlette, host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    """A configured uvicorn server, not started: `server.run()` in the main thread serves until
    SIGINT/SIGTERM, then runs the app's shutdown (and `on_shutdown`) and returns.
    Proxy headers are off, so a client cannot dodge the rate limit with X-Forwarded-For. There is
    no access log: a line per request would keep every visitor's address in the journal for as
    long as the installation runs (the limits keep only keyed hashes of addresses)."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                            server_header=False, ws_max_size=4096, lifespan="on", access_log=False)
    return _Server(config)
