"""The guards against forged forms and guessed tokens (issue 12): signed CSRF tokens, the Origin
and Sec-Fetch-Site check on every POST, the admin token's length and slowdown, limits that
survive a restart, and the CSV export's formula escaping.

The HTTP tests run a real uvicorn server; the cross-port forgery runs in real Chromium against a
second real HTTP server on another loopback port, as the attacker who found the hole did.
Screenshots of the refusal and of the genuine visitor's thank-you go to /tmp/sugarglass-guard-*.png.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from live_support import fill_store, form_client, run_coroutine, running_server, stored_visitors
from starlette.requests import Request

from sugarglass.errors import SugarglassError
from sugarglass.live import guard
from sugarglass.live.guard import AdminGate, CsrfTokens, GuardError, LimitStore, Refused, SlidingWindow
from sugarglass.live.hub import LiveHub
from sugarglass.live.server import _export_csv, make_app
from sugarglass.live.settings import LiveSettings
from sugarglass.store import Store

VISIT = {"text": "hello", "scope": "score"}


def request_with(headers: dict[str, str], client: str = "10.0.0.1") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "client": (client, 5000),
                    "server": ("127.0.0.1", 8765), "scheme": "http", "query_string": b""})


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- CSRF tokens ----------------------------------------------------------------------------------


def refusal(tokens: CsrfTokens, cookie: str, token: str) -> str:
    with pytest.raises(Refused) as caught:
        tokens.check(request_with({"cookie": f"sg_csrf={cookie}"}), {"csrf": token})
    assert caught.value.status == 403 and "reload" in caught.value.message
    return caught.value.message


def test_a_signed_token_bound_to_its_cookie_passes_and_nothing_else_does():
    clock = Clock()
    tokens = CsrfTokens(b"k" * 32, max_age=3600, clock=clock)
    cookie = tokens.cookie_for("")
    token = tokens.form_token(cookie)
    tokens.check(request_with({"cookie": f"sg_csrf={cookie}"}), {"csrf": token})  # no exception
    assert tokens.cookie_for(cookie) == cookie  # a browser keeps its cookie across forms
    other_cookie = tokens.cookie_for("")
    nonce, issued, mac = token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")  # even the last character's spare bits count
    assert "not issued" in refusal(tokens, other_cookie, token)  # another browser's cookie
    assert "not issued" in refusal(tokens, cookie, f"{nonce}.{issued}.{flipped}")
    assert "not issued" in refusal(tokens, cookie, f"{nonce}.{int(issued) + 1}.{mac}")  # the time is signed
    assert "not issued" in refusal(tokens, cookie, cookie)  # the old double submit: cookie == token
    assert "not issued" in refusal(tokens, "made-up", "made-up")
    assert "not issued" in refusal(tokens, cookie, "x" * 70)
    assert "without its token" in refusal(tokens, cookie, "")
    forged = CsrfTokens(b"q" * 32, max_age=3600, clock=clock)  # another secret: another installation
    forged_cookie = forged.cookie_for("")
    assert "not issued" in refusal(tokens, forged_cookie, forged.form_token(forged_cookie))
    assert tokens.cookie_for(forged_cookie) != forged_cookie  # a planted cookie is replaced, not reused
    with pytest.raises(Refused, match="without its cookie"):
        tokens.check(request_with({}), {"csrf": token})


def test_tokens_expire_and_a_cookie_is_renewed_before_its_forms_could_outlive_it():
    clock = Clock()
    tokens = CsrfTokens(b"k" * 32, max_age=3600, clock=clock)
    cookie = tokens.cookie_for("")
    token = tokens.form_token(cookie)
    clock.now += 3599
    tokens.check(request_with({"cookie": f"sg_csrf={cookie}"}), {"csrf": token})
    assert tokens.cookie_for(cookie) == cookie
    clock.now += 2
    assert "more than 1 hour(s) old" in refusal(tokens, cookie, token)
    assert tokens.cookie_for(cookie) != cookie  # a form made now gets a fresh cookie
    late = tokens.form_token(cookie)  # (had it reused the old one, this form still passes)
    tokens.check(request_with({"cookie": f"sg_csrf={cookie}"}), {"csrf": late})
    clock.now -= 3601 + 301  # from the future beyond any clock skew: not ours
    assert "not issued" in refusal(tokens, cookie, late)


def test_the_server_refuses_forged_and_foreign_tokens(tmp_path):
    hub = LiveHub()
    with running_server(hub, LiveSettings(), tmp_path / "s.sqlite") as live:
        client, token = form_client(live)
        planted = httpx.Client(base_url=live.url, headers={"origin": live.url}, cookies={"sg_csrf": "planted"})
        made_up = planted.post("/api/visit", json={**VISIT, "csrf": "planted"})
        assert made_up.status_code == 403 and "not issued by this installation" in made_up.json()["error"]
        genuine = client.post("/api/visit", json={**VISIT, "csrf": token})
        assert genuine.status_code == 200
        assert len(live.visitors()) == 1
    with running_server(hub, LiveSettings(), tmp_path / "s.sqlite") as again:  # no state folder: a new secret each start
        client.base_url = httpx.URL(again.url)
        client.headers["origin"] = again.url
        stale = client.post("/api/visit", json={**VISIT, "csrf": token})
        assert stale.status_code == 403 and "reload" in stale.json()["error"]
        assert len(again.visitors()) == 1


def test_the_form_cookie_is_strict_httponly_and_expires(tmp_path):
    with running_server(LiveHub(), LiveSettings(csrf_max_age_seconds=3600), None) as live:
        cookie = httpx.get(live.url + "/visit").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie and "max-age=7200" in cookie


# -- where a POST comes from ------------------------------------------------------------------------

POSTS = ["/api/visit", "/api/withdraw", "/admin/pause", "/admin/resume", "/admin/withdraw-source",
         "/admin/withdraw-receipt"]
FOREIGN = {
    "another port": lambda url: {"origin": url.rsplit(":", 1)[0] + ":1"},
    "another site": lambda url: {"origin": "https://evil.example"},
    "a rebinding name": lambda url: {"origin": url.replace("127.0.0.1", "evil.example")},
    "an opaque origin": lambda url: {"origin": "null"},
    "same-site": lambda url: {"origin": url, "sec-fetch-site": "same-site"},
    "cross-site": lambda url: {"sec-fetch-site": "cross-site"},
    "an unknown fetch site": lambda url: {"origin": url, "sec-fetch-site": "elsewhere"},
}


@pytest.fixture
def guarded(tmp_path: Path, admin_token: str):
    hub = LiveHub()
    store = tmp_path / "store.sqlite"
    fill_store(store)
    with running_server(hub, LiveSettings(), store) as live:
        live.store = store
        yield live


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("where", list(FOREIGN))
def test_every_post_from_elsewhere_is_refused(guarded, admin_token, path, where):
    client, token = form_client(guarded, "/withdraw" if path == "/api/withdraw" else "/visit")
    body = {"/api/visit": {**VISIT, "csrf": token}, "/api/withdraw": {"receipt": "ABCD-EFGH-JKMN", "csrf": token},
            "/admin/withdraw-source": {"source": "collective"}, "/admin/withdraw-receipt": {"receipt": "ABCD-EFGH-JKMN"}}
    headers = {"authorization": f"Bearer {admin_token}", **FOREIGN[where](guarded.url)}
    if "origin" not in headers:
        del client.headers["origin"]
    response = client.post(path, json=body.get(path, {}), headers=headers)
    assert response.status_code == 403, response.text
    assert "this installation" in response.json()["error"]
    assert response.headers["x-frame-options"] == "DENY"  # refusals carry the security headers too
    page = client.post(path, json=body.get(path, {}), headers={**headers, "accept": "text/html"})
    assert page.status_code == 403 and "<h1>Sorry</h1>" in page.text and "this installation" in page.text
    assert guarded.hub.take_commands() == []
    with Store(guarded.store) as store:
        assert store.withdrawals() == [] and store.counts()["visitors"]["posts"] == 1


OWN = {  # what counts as this installation, given its URL; None drops form_client's own Origin
    "its own origin": (lambda url: {}, 200),
    "same-origin alone": (lambda url: {"origin": None, "sec-fetch-site": "same-origin"}, 200),
    "null vouched for": (lambda url: {"origin": "null", "sec-fetch-site": "same-origin"}, 200),  # Referrer-Policy: no-referrer
    "a typed address": (lambda url: {"origin": None, "sec-fetch-site": "none"}, 200),
    "localhost": (lambda url: {"origin": url.replace("127.0.0.1", "localhost")}, 200),
    "an allowed proxy": (lambda url: {"origin": "https://art.example"}, 200),
    "the proxy on another port": (lambda url: {"origin": "https://art.example:8443"}, 403),
}


@pytest.mark.parametrize("how", list(OWN))
def test_what_counts_as_this_installation(how, tmp_path):
    settings = LiveSettings(allowed_origins=["HTTPS://art.example:443/"])
    assert settings.allowed_origins == ["https://art.example"]
    make_headers, status = OWN[how]
    with running_server(LiveHub(), settings, tmp_path / "s.sqlite") as live:
        client, token = form_client(live)
        headers = make_headers(live.url)
        if headers.get("origin", "") is None:
            del client.headers["origin"], headers["origin"]
        response = client.post("/api/visit", json={**VISIT, "csrf": token}, headers=headers)
        assert response.status_code == status, response.text


def test_without_origin_a_form_is_refused_but_admin_by_token_is_not(admin_token):
    hub = LiveHub()
    with running_server(hub, LiveSettings(), None) as live:
        client, token = form_client(live)
        del client.headers["origin"]
        refused = client.post("/api/visit", json={**VISIT, "csrf": token})
        assert refused.status_code == 403 and "Origin" in refused.json()["error"]
        curl = httpx.post(live.url + "/admin/pause", headers={"authorization": f"Bearer {admin_token}"})
        assert curl.status_code == 202
    assert len(hub.take_commands()) == 1


def test_allowed_origins_must_be_origins():
    for bad in ("art.example", "https://art.example/path", "ftp://art.example", "https://u@art.example", "http://a:x"):
        with pytest.raises(ValueError, match="not an origin"):
            LiveSettings(allowed_origins=[bad])


# -- admin ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["a", "x" * 31, "  " + "y" * 20 + "  "])
def test_a_short_admin_token_is_refused_at_start(monkeypatch, tmp_path, token):
    monkeypatch.setenv("SUGARGLASS_ADMIN_TOKEN", token)
    with pytest.raises(GuardError) as caught:
        make_app(LiveHub(), LiveSettings(), None, state_dir=tmp_path / "live")
    message = str(caught.value)
    assert isinstance(caught.value, SugarglassError) and "\n" not in message
    assert "SUGARGLASS_ADMIN_TOKEN" in message and "at least 32" in message and "secrets.token_urlsafe(32)" in message
    assert not (tmp_path / "live").exists()  # refused before anything was written


def test_an_unset_admin_token_still_means_admin_disabled(monkeypatch):
    monkeypatch.delenv("SUGARGLASS_ADMIN_TOKEN", raising=False)
    make_app(LiveHub(), LiveSettings(), None)  # no error: the endpoints answer 503


def test_wrong_admin_tokens_wait_longer_each_time_up_to_a_minute():
    clock = Clock()
    gate = AdminGate("t" * 40, "SUGARGLASS_ADMIN_TOKEN", SlidingWindow("admin-failure", 1, 3600, b"k", clock=clock))
    wrong, right = request_with({"authorization": "Bearer nope"}), request_with({"authorization": "Bearer " + "t" * 40})

    def attempt(request: Request) -> Refused | None:
        try:
            run_coroutine(gate(request))
        except Refused as refused:
            return refused
        return None

    waits = []
    for _ in range(9):
        refused = attempt(wrong)
        assert refused.status == 401
        waits.append(int(refused.headers["Retry-After"]))
        blocked = attempt(right)  # the right token too must wait out the delay
        assert blocked.status == 429 and blocked.headers["Retry-After"] == str(waits[-1])
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    other = request_with({"authorization": "Bearer nope"}, client="10.0.0.2")
    assert attempt(other).headers["Retry-After"] == "1"  # per address
    assert attempt(right) is None  # a right token clears the count
    assert attempt(wrong).headers["Retry-After"] == "1"
    clock.now += 3601  # an hour without a failure forgets them
    assert attempt(wrong).headers["Retry-After"] == "1"
    clock.now -= 86400  # the clock set back a day: the delay counts from now, not from "tomorrow"
    assert attempt(right).headers["Retry-After"] == "1"
    clock.now += 1
    assert attempt(right) is None


def test_a_clock_set_back_does_not_block_anyone_for_longer_than_a_window():
    clock = Clock()
    window = SlidingWindow("visit", 1, 600, b"k", clock=clock)
    run_coroutine(window.record("10.0.0.1"))
    clock.now -= 86400
    assert window.retry_after("10.0.0.1") == 600
    clock.now += 600
    assert window.retry_after("10.0.0.1") == 0


# -- limits and the secret survive a restart ----------------------------------------------------------


def test_limits_and_tokens_survive_a_restart(tmp_path, admin_token, monkeypatch):
    monkeypatch.setattr(guard, "admin_delay", lambda failures: 30.0 * failures)  # no race with a slow machine
    state = tmp_path / "live"
    settings = LiveSettings(visitor_limit=1, withdraw_limit=1)
    hub = LiveHub()
    with running_server(hub, settings, tmp_path / "s.sqlite", state_dir=state) as live:
        client, token = form_client(live)
        assert client.post("/api/visit", json={**VISIT, "csrf": token}).status_code == 200
        assert client.post("/api/visit", json={**VISIT, "csrf": token}).status_code == 429
        withdraw, withdraw_token = form_client(live, "/withdraw")
        assert withdraw.post("/api/withdraw", data={"receipt": "ZZZZ-ZZZZ-ZZZZ", "csrf": withdraw_token}).status_code == 404
        wrong = httpx.post(live.url + "/admin/pause", headers={"authorization": "Bearer wrong"})
        assert wrong.status_code == 401
    secret = (state / "secret.key").read_bytes()
    with running_server(hub, settings, tmp_path / "s.sqlite", state_dir=state) as again:
        for c in (client, withdraw):
            c.base_url, c.headers["origin"] = httpx.URL(again.url), again.url
        limited = client.post("/api/visit", json={**VISIT, "csrf": token})  # yesterday's form, still signed
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 500
        assert withdraw.post("/api/withdraw", data={"receipt": "ZZZZ-ZZZZ-ZZZZ", "csrf": withdraw_token}).status_code == 429
        slowed = httpx.post(again.url + "/admin/pause", headers={"authorization": f"Bearer {admin_token}"})
        assert slowed.status_code == 429 and 20 <= int(slowed.headers["retry-after"]) <= 30
    assert (state / "secret.key").read_bytes() == secret
    assert len(stored_visitors(tmp_path / "s.sqlite")) == 1 and hub.take_commands() == []


def test_the_secret_is_made_once_with_mode_0600(tmp_path):
    state = tmp_path / "live"
    previous = os.umask(0)  # even a careless umask
    try:
        first = guard.load_secret(state)
    finally:
        os.umask(previous)
    path = state / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) == 32
    assert guard.load_secret(state) == first
    assert [p.name for p in state.iterdir()] == ["secret.key"]  # no temporary left behind
    path.chmod(0o644)
    assert guard.load_secret(state) == first and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not a secret")
    with pytest.raises(GuardError, match="delete it"):
        guard.load_secret(state)
    assert guard.load_secret(None) != guard.load_secret(None)
    path.unlink()
    path.mkdir()
    with pytest.raises(GuardError, match="cannot keep the installation's secret"):
        guard.load_secret(state)


def test_concurrent_starts_agree_on_one_secret(tmp_path):
    state = tmp_path / "live"
    found: list[bytes] = []
    threads = [threading.Thread(target=lambda: found.append(guard.load_secret(state))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and found[0] == bytes.fromhex((state / "secret.key").read_text())


def test_the_limits_file_holds_keyed_hashes_and_forgets_old_rows(tmp_path):
    clock = Clock()
    path = tmp_path / "limits.sqlite"
    store = LimitStore(path, clock=clock)
    window = SlidingWindow("visit", 2, 60, b"k" * 32, store, clock=clock)
    run_coroutine(window.record("192.168.1.20"))
    clock.now += 30
    run_coroutine(window.record("192.168.1.20"))
    assert window.retry_after("192.168.1.20") == pytest.approx(30)
    clock.now += 31
    run_coroutine(window.record("192.168.1.21"))  # a write also removes rows past their window
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name, key, at FROM events ORDER BY at").fetchall()
    assert [at for _, _, at in rows] == [clock.now - 31, clock.now]
    assert all(len(key) == 32 and "192.168" not in key for _, key, _ in rows)
    assert window.key("192.168.1.20") != SlidingWindow("visit", 2, 60, b"j" * 32).key("192.168.1.20")
    reloaded = SlidingWindow("visit", 2, 60, b"k" * 32, LimitStore(path, clock=clock), clock=clock)
    assert len(reloaded.times("192.168.1.20")) == 1 and reloaded.retry_after("192.168.1.20") == 0
    clock.now += 61
    reloaded.store.close()  # a stop also deletes what has left its window
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_a_damaged_limits_file_says_what_to_do(tmp_path):
    (tmp_path / "limits.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(GuardError, match="delete it"):
        LimitStore(tmp_path / "limits.sqlite")


# -- the export -------------------------------------------------------------------------------------


def test_the_export_escapes_every_formula_start(tmp_path):
    fill_store(tmp_path / "s.sqlite", ("=1+1", "+2", "-3", "@SUM(A1)", "\tcmd", "\r=4", "plain"))
    text = _export_csv(tmp_path / "s.sqlite")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    ids = [row[1] for row in rows[1:]]
    assert sorted(ids) == sorted(["'=1+1", "'+2", "'-3", "'@SUM(A1)", "'\tcmd", "'\r=4", "plain", "v1"])
    assert len(rows) == 9 and '"\'\r=4"' in text  # the CR is inside a quoted cell: no extra row
    assert all(float(row[5]) == 0.5 for row in rows[1:])  # numbers are not text: left as they are


# -- the forgery that was found, in real Chromium ----------------------------------------------------------


@contextmanager
def attacker_site(pages: dict[str, str], cookie: str) -> Iterator[str]:
    """A second real HTTP server on another loopback port: each page sets `sg_csrf` for
    127.0.0.1 with a Set-Cookie header (cookies ignore ports) and serves the HTML given."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Set-Cookie", f"sg_csrf={cookie}; Path=/; SameSite=Strict")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def forging_page(target: str, token: str, cookie: str | None = None) -> str:
    """The attacker's page: plant the cookie from script too, then post the form at once."""
    plant = f"document.cookie = 'sg_csrf={cookie}; path=/';" if cookie else ""
    return f"""<!doctype html><title>free sugar</title>
<form id="f" method="post" action="{target}/api/visit">
<input name="csrf" value="{token}"><input name="text" value="forged words"><input name="scope" value="score">
</form><script>{plant} document.getElementById('f').submit();</script>"""


def test_a_page_on_another_port_cannot_post_as_a_visitor(page, tmp_path):
    hub = LiveHub()  # no run: whatever the server accepted stays in the store to be seen
    with running_server(hub, LiveSettings(), tmp_path / "store.sqlite", state_dir=tmp_path / "live") as live:
        # the strongest forgery: a genuine pair fetched by the attacker's server from the installation
        stolen, stolen_token = form_client(live)
        stolen_cookie = stolen.cookies["sg_csrf"]
        with attacker_site({"/": forging_page(live.url, "made-up", "made-up"),
                            "/stolen": forging_page(live.url, stolen_token, stolen_cookie)}, stolen_cookie) as evil:
            for path, cookie in (("/", "made-up"), ("/stolen", stolen_cookie)):
                with page.expect_response(lambda r: r.url.endswith("/api/visit")) as answer:
                    page.goto(evil + path)
                sent = answer.value.request.all_headers()
                assert f"sg_csrf={cookie}" in sent["cookie"]  # the planted cookie crossed the port and went along
                assert sent["origin"] == evil and sent["sec-fetch-site"] == "same-site"
                assert answer.value.status == 403
                page.wait_for_selector("h1:text('Sorry')")
                assert "came from another site" in page.locator("#message p").first.text_content()
        page.screenshot(path="/tmp/sugarglass-guard-refused.png")
        assert live.visitors() == []
        # the same browser, on the installation's own page, is a visitor like any other
        page.goto(live.url + "/visit")
        page.fill("#text", "genuine words")
        page.check("input[value=score]")
        with page.expect_response(lambda r: r.url.endswith("/api/visit")) as answer:
            page.click("button[type=submit]")
        assert answer.value.status == 303  # stored, then redirected to the receipt page
        page.wait_for_selector("h1:text('Thank you')")
        page.screenshot(path="/tmp/sugarglass-guard-visitor.png")
        [message] = live.visitors()
        assert message.has_receipt(page.locator("#receipt").text_content()) and message.scope == "score"
