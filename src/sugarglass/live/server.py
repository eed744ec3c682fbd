"""The installation's web server: the live painting, the visitors' form and the admin endpoints.

The server never renders or streams video: every viewer's browser gets each tick's 48 levels
(and the coarse plate field when the run has one) as one small binary WebSocket message and
paints the liquid crystal itself with WebGL, so a hundred viewers cost the server almost nothing.
Visitors' words go the other way, into the hub's bounded queue; the server checks them (CSRF,
length, rate, queue) and answers with a receipt code, never with the words themselves.
The wire format, pages, limits and security measures are described in `docs/live.md`.
"""

from __future__ import annotations

import asyncio
import csv
import hmac
import html
import io
import json
import math
import os
import re
import secrets
import signal
import struct
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from sugarglass.canvas import CanvasConfig, colour_table
from sugarglass.errors import ConsentError, StoreError
from sugarglass.erasure import withdraw_receipt, withdraw_source
from sugarglass.store import Store

from .hub import RECEIPT_ALPHABET, Command, Frame, LiveHub, QueueFull
from .settings import LiveSettings

STATIC = Path(__file__).parent / "static"

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


class Problem(Exception):
    """A request the server refuses, with the status and a message a person can act on."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


NO_STORE = {"Cache-Control": "no-store"}


def _page(name: str, status: int = 200, **values: str) -> HTMLResponse:
    """A page from a template in static/, every value HTML-escaped."""
    text = (STATIC / name).read_text(encoding="utf-8")
    text = re.sub(r"\{\{(\w+)\}\}", lambda m: html.escape(values[m[1]], quote=True), text)  # one pass
    return HTMLResponse(text, status_code=status, headers=NO_STORE)


def _message(request: Request, status: int, title: str, message: str, code: str = "", **extra: object) -> Response:
    if _wants_html(request):
        return _page("message.html", status, title=title, message=message, code=code,
                     code_class="code" if code else "hidden")
    body = {"error": message} if status >= 400 else {"message": message, **extra}
    return JSONResponse(body, status_code=status, headers=NO_STORE)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
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


# -- limits ------------------------------------------------------------------------------------


class SlidingWindow:
    """At most `limit` events per `window` seconds per key (a client address). Lives on the
    event loop, so needs no lock; idle keys are swept once the table grows."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may act again; 0 if it may now."""
        now = time.monotonic()
        if len(self.events) > 10_000:
            for old in [k for k, q in self.events.items() if not q or q[-1] <= now - self.window]:
                del self.events[old]
        times = self.events.get(key)
        while times and times[0] <= now - self.window:
            times.popleft()
        if times is None or len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now

    def record(self, key: str) -> None:
        self.events.setdefault(key, deque()).append(time.monotonic())


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(window: SlidingWindow, request: Request, message: str) -> None:
    wait = window.retry_after(_client(request))
    if wait > 0:
        raise Problem(429, message.format(minutes=max(1, math.ceil(wait / 60))),
                      {"Retry-After": str(math.ceil(wait))})


# -- CSRF: a double-submit cookie ----------------------------------------------------------------

CSRF_COOKIE = "sg_csrf"


def _csrf_page(request: Request, template: str, **values: str) -> HTMLResponse:
    """A form page carrying the CSRF token in a hidden field and in a strict, HttpOnly cookie:
    a cross-site page can neither read the token nor make the browser send the cookie."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
        token = secrets.token_urlsafe(32)
    response = _page(template, csrf=token, **values)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def _check_csrf(request: Request, fields: dict[str, str]) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "").encode()
    given = fields.get("csrf", "").encode()
    if not cookie or not hmac.compare_digest(cookie, given):
        raise Problem(403, "this form has expired or did not come from this page; reload it and try again")


# -- security headers ----------------------------------------------------------------------------

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
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


def _visitors_withdrawn(path: Path) -> bool:
    """Whether the visitors' source was withdrawn as a whole: the form is then closed."""
    from sugarglass.ingest import VISITORS

    with Store(path) as store:
        return store.withdrawn_at(VISITORS) is not None


def _withdraw_receipt(path: Path, code: str) -> int:
    with Store(path) as store:
        return withdraw_receipt(store, code).posts


def _withdraw_source(path: Path, source: str, reason: str) -> tuple[int, int]:
    with Store(path) as store:
        done = withdraw_source(store, source, reason)
    return done.posts, done.feelings


EXPORT_COLUMNS = ("source", "post_id", "created_at", "language", "non_english",
                  "compound", "compnorm", "pos", "neg", "neu")


def _export_csv(path: Path) -> str:
    """Every stored feeling as CSV; text cells that a spreadsheet would run as a formula are
    quoted with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    with Store(path) as store:
        for row in store.export_rows():
            writer.writerow(["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return out.getvalue()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


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
) -> Starlette:
    """The installation's app. `canvas` is the work's `[canvas]` table (the page paints with
    its colours and plate); `on_shutdown` runs (in a worker thread) when the server stops."""
    canvas = canvas or CanvasConfig()
    if (canvas.columns, canvas.rows) != (hub.columns, hub.rows):
        raise ValueError(f"the hub's grid {hub.columns}x{hub.rows} differs from the canvas's {canvas.columns}x{canvas.rows}")
    painting = painting_settings(canvas, settings)
    admin_token = os.environ.get(settings.admin_token_env, "").strip()
    visitors = SlidingWindow(settings.visitor_limit, settings.visitor_window_seconds)
    withdrawals = SlidingWindow(settings.withdraw_limit, settings.visitor_window_seconds)
    limit = settings.max_body_bytes

    def store() -> Path:
        if store_path is None:
            raise Problem(503, "this installation runs without a store, so nothing is kept to withdraw or export")
        return store_path

    def check_admin(request: Request) -> None:
        if not admin_token:
            raise Problem(503, f"admin disabled: set {settings.admin_token_env} to a token before starting")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not given.strip():
            raise Problem(401, "admin needs the header 'Authorization: Bearer <token>'", challenge)
        if not hmac.compare_digest(given.strip().encode(), admin_token.encode()):
            raise Problem(401, "the admin token is wrong", challenge)

    # pages
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # no icon, and no 404 in every console

    async def charts(request: Request) -> Response:
        return FileResponse(STATIC / "charts.html")

    async def visit_form(request: Request) -> Response:
        return _csrf_page(request, "visit.html", max_chars=str(settings.max_message_chars))

    async def withdraw_form(request: Request) -> Response:
        return _csrf_page(request, "withdraw.html")

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
        _check_csrf(request, fields)
        text = clean_message(fields.get("text", ""))
        if not text:
            raise Problem(422, "please write a few words before sending")
        if len(text) > settings.max_message_chars:
            raise Problem(422, f"your message has {len(text)} characters; at most {settings.max_message_chars} can be sent")
        scope = fields.get("scope", "")
        if scope not in ("score", "keep-text"):
            raise Problem(422, "please choose what may be kept: only the feeling ('score') or your words too ('keep-text')")
        _limit(visitors, request, "thank you — you have sent several messages already; please try again in {minutes} minute(s)")
        if store_path is not None and await run_in_threadpool(_visitors_withdrawn, store_path):
            raise Problem(403, "the artist has closed this work to visitors' words; thank you for coming")
        try:
            receipt = hub.submit_visitor(text, scope)
        except QueueFull:
            raise Problem(503, "many visitors are writing just now; please try again in a minute", {"Retry-After": "60"}) from None
        visitors.record(_client(request))
        return _message(request, 200, "Thank you",
                        "Your words are on their way into the painting — watch for the ripple. "
                        "Keep this code if you may want to withdraw them later (at /withdraw):",
                        code=receipt, receipt=receipt)

    async def withdraw(request: Request) -> Response:
        fields = await read_fields(request, limit, {"receipt", "csrf"})
        _check_csrf(request, fields)
        code = normalise_receipt(_need(fields, "receipt", "please enter your receipt code"))
        _limit(withdrawals, request, "too many codes tried from here; please try again in {minutes} minute(s)")
        withdrawals.record(_client(request))
        removed = await _withdraw_or_404(store(), code)
        return _message(request, 200, "Withdrawn", "Your words have been removed from the store and leave the painting.",
                        receipt=code, removed=removed)

    # admin
    async def pause(request: Request) -> Response:
        check_admin(request)
        hub.command(Command("pause"))
        return JSONResponse({"message": "the run pauses at its next tick"}, status_code=202)

    async def resume(request: Request) -> Response:
        check_admin(request)
        hub.command(Command("resume"))
        return JSONResponse({"message": "the run resumes at its next tick"}, status_code=202)

    async def withdraw_source(request: Request) -> Response:
        check_admin(request)
        fields = await read_fields(request, limit, {"source", "reason"})
        source = _need(fields, "source")
        try:
            posts, feelings = await run_in_threadpool(_withdraw_source, store(), source, fields.get("reason", "").strip())
        except ConsentError as exc:
            raise Problem(409, str(exc)) from None
        except StoreError as exc:
            raise Problem(404, str(exc)) from None
        return JSONResponse({"source": source, "posts_removed": posts, "feelings_removed": feelings})

    async def withdraw_receipt(request: Request) -> Response:
        check_admin(request)
        fields = await read_fields(request, limit, {"receipt"})
        code = normalise_receipt(_need(fields, "receipt"))
        return JSONResponse({"receipt": code, "posts_removed": await _withdraw_or_404(store(), code)})

    async def export(request: Request) -> Response:
        check_admin(request)
        text = await run_in_threadpool(_export_csv, store())
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="feelings.csv"'})

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    routes = [
        Route("/", index), Route("/charts", charts), Route("/favicon.ico", favicon), Route("/visit", visit_form), Route("/withdraw", withdraw_form),
        Route("/api/painting", painting_json), Route("/api/state", state), Route("/api/metrics", metrics),
        Route("/api/visit", visit, methods=["POST"]), Route("/api/withdraw", withdraw, methods=["POST"]),
        Route("/admin/pause", pause, methods=["POST"]), Route("/admin/resume", resume, methods=["POST"]),
        Route("/admin/withdraw-source", withdraw_source, methods=["POST"]),
        Route("/admin/withdraw-receipt", withdraw_receipt, methods=["POST"]),
        Route("/admin/export", export),
        WebSocketRoute("/ws", frames),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    app = Starlette(routes=routes, exception_handlers={Problem: _problem}, lifespan=lifespan)
    app.add_middleware(SecurityHeaders)
    return app


async def _until_closed(websocket: WebSocket) -> None:
    """Viewers send nothing; read (and drop) until the socket closes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _withdraw_or_404(path: Path, code: str) -> int:
    try:
        return await run_in_threadpool(_withdraw_receipt, path, code)
    except StoreError:
        raise Problem(404, "no words are stored under that code: they may be withdrawn already, or not yet have "
                           "reached the painting (try again in a minute)") from None


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
    Proxy headers are off, so a client cannot dodge the rate limit with X-Forwarded-For."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                            server_header=False, ws_max_size=4096, lifespan="on")
    return _Server(config)
