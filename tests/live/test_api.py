"""The live server over real HTTP: pages, visitors, limits, CSRF, bad input and admin.

Every test talks to a real uvicorn server on a loopback port through httpx. Bad input must get a
clear 4xx with a message, and leave nothing stored.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from live_support import fill_store, form_client, running_server

from sugarglass.affect import clean_text
from sugarglass.live import guard
from sugarglass.live.hub import Command, LiveHub
from sugarglass.live.server import clean_message
from sugarglass.live.settings import LiveSettings
from sugarglass.store import Store

RECEIPT = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


@pytest.fixture
def quiet(tmp_path: Path, admin_token: str):
    """A server with a store and no run, so the test sees exactly what the form stored."""
    hub = LiveHub()
    settings = LiveSettings(visitor_limit=10, max_message_chars=60)
    with running_server(hub, settings, tmp_path / "store.sqlite") as server:
        yield server


def test_pages_carry_strict_security_headers(quiet):
    with httpx.Client(base_url=quiet.url) as client:
        for path in ("/", "/charts", "/visit", "/withdraw", "/static/painting.js", "/api/state"):
            response = client.get(path)
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"  # so our own forms carry a true Origin
        for path in ("/", "/charts", "/visit", "/visit/thanks", "/withdraw"):
            assert "<script>" not in client.get(path).text  # every script is a file, none inline
        cookie = client.get("/visit").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_visitor_is_stored_before_the_receipt_and_never_echoed(quiet):
    client, token = form_client(quiet)
    words = "I hope <script>alert(1)</script>\x07 the\u202e sugar grows"
    response = client.post("/api/visit", json={"text": words, "scope": "keep-text", "csrf": token})
    assert response.status_code == 200, response.text
    receipt = response.json()["receipt"]
    assert RECEIPT.match(receipt)
    assert "script" not in response.text and "sugar" not in response.text
    [message] = quiet.visitors()  # in the store at the moment the receipt was given
    assert message.has_receipt(receipt) and message.scope == "keep-text"
    assert message.text == clean_text("I hope <script>alert(1)</script> the sugar grows")  # controls stripped, then cleaned


def test_words_empty_after_cleaning_are_refused_and_the_same_words_twice_are_two_posts(quiet):
    client, token = form_client(quiet)
    for empty in ("<b></b>", "https://example.org/a-bare-link", "@someone", "<i>@a</i> https://x.org"):
        response = client.post("/api/visit", json={"text": empty, "scope": "score", "csrf": token})
        assert response.status_code == 422 and "no words left" in response.json()["error"], empty
    assert quiet.visitors() == []
    first, second = (client.post("/api/visit", json={"text": "the river is rising", "scope": "keep-text", "csrf": token})
                     for _ in range(2))
    assert first.status_code == second.status_code == 200
    assert first.json()["receipt"] != second.json()["receipt"]
    assert [v.text for v in quiet.visitors()] == ["the river is rising"] * 2
    for answer in (first, second):
        assert any(v.has_receipt(answer.json()["receipt"]) for v in quiet.visitors())


def test_a_browser_form_post_is_redirected_to_a_thank_you_page_with_the_receipt(quiet):
    client, token = form_client(quiet)
    posted = client.post("/api/visit", data={"text": "<img src=x onerror=alert(1)> bright garden", "scope": "score",
                                             "csrf": token}, headers={"accept": "text/html"})
    assert posted.status_code == 303 and posted.headers["location"] == "/visit/thanks"  # a reload sends nothing again
    response = client.get(posted.headers["location"])
    assert response.status_code == 200
    assert "Thank you" in response.text and "onerror" not in response.text and "<img" not in response.text
    [message] = quiet.visitors()
    receipt = re.search(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", response.text)[0]
    assert message.has_receipt(receipt) and message.scope == "score" and message.text is None


def test_clean_message_keeps_lines_and_drops_controls():
    assert clean_message("  a\r\nb\tc\x00\x1b[31m\u2066d  ") == "a\nb\tc[31md"


# status, what is sent, and a piece of the message that must explain it
BAD_VISITS = [
    (415, {"content": b"text=hi&scope=score", "headers": {"content-type": "text/plain"}}, "urlencoded"),
    (415, {"files": {"text": ("a.txt", b"hi")}}, "urlencoded"),
    (400, {"content": b"{not json", "headers": {"content-type": "application/json"}}, "not valid JSON"),
    (400, {"content": b"[" * 5000, "headers": {"content-type": "application/json"}}, "not valid JSON"),
    (400, {"json": ["text", "scope"]}, "must be an object"),
    (400, {"content": b"text=a&&scope=score", "headers": {"content-type": "application/x-www-form-urlencoded"}}, "malformed"),
    (400, {"content": b"text=%ff&scope=score", "headers": {"content-type": "application/x-www-form-urlencoded"}}, "malformed"),
    (400, {"content": b"text=a&text=b&scope=score", "headers": {"content-type": "application/x-www-form-urlencoded"}}, "twice"),
    (413, {"content": b"text=" + b"a" * 20_000, "headers": {"content-type": "application/x-www-form-urlencoded"}}, "at most"),
    (413, {"content": iter([b"text=", b"a" * 20_000]), "headers": {"content-type": "application/x-www-form-urlencoded"}}, "at most"),
    (422, {"json": {"scope": "score"}}, "write a few words"),
    (422, {"json": {"text": " \n\t\x00 ", "scope": "score"}}, "write a few words"),
    (422, {"json": {"text": "x" * 61, "scope": "score"}}, "at most 60"),
    (422, {"json": {"text": "hello"}}, "choose what may be kept"),
    (422, {"json": {"text": "hello", "scope": "everything"}}, "choose what may be kept"),
    (422, {"json": {"text": 5, "scope": "score"}}, "must be a string"),
    (422, {"json": {"text": "hello", "scope": "score", "name": "me"}}, "unknown field"),
]


@pytest.mark.parametrize(("status", "request_kwargs", "explains"), BAD_VISITS)
def test_bad_visits_are_refused_clearly_and_store_nothing(quiet, status, request_kwargs, explains):
    client, token = form_client(quiet)
    kwargs = dict(request_kwargs)
    if isinstance(kwargs.get("json"), dict):
        kwargs["json"] = {**kwargs["json"], "csrf": token}
    response = client.post("/api/visit", **kwargs)
    assert response.status_code == status, response.text
    assert explains in response.json()["error"]
    assert quiet.visitors() == []


def test_sixty_characters_after_cleaning_are_accepted(quiet):
    client, token = form_client(quiet)
    assert client.post("/api/visit", json={"text": "x" * 60 + "\x00\x00", "scope": "score", "csrf": token}).status_code == 200


@pytest.mark.parametrize("how", ["no cookie", "no token", "wrong token"])
def test_csrf_is_required(quiet, how):
    client, token = form_client(quiet)
    body = {"text": "hello", "scope": "score", "csrf": token}
    if how == "no cookie":
        client.cookies.clear()
    elif how == "no token":
        del body["csrf"]
    else:
        body["csrf"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = client.post("/api/visit", json=body)
    assert response.status_code == 403 and "reload" in response.json()["error"]
    assert quiet.visitors() == []


def test_an_html_error_page_escapes_and_explains(quiet):
    client, token = form_client(quiet)
    response = client.post("/api/visit", data={"text": "hi", "scope": "<b>all</b>", "csrf": token},
                           headers={"accept": "text/html"})
    assert response.status_code == 422 and "choose what may be kept" in response.text and "<b>" not in response.text


def test_one_client_is_rate_limited(tmp_path):
    hub = LiveHub()
    with running_server(hub, LiveSettings(visitor_limit=2, visitor_window_seconds=600), tmp_path / "s.sqlite") as live:
        client, token = form_client(live)
        sent = [client.post("/api/visit", json={"text": f"hello {i}", "scope": "score", "csrf": token}) for i in range(3)]
        assert [r.status_code for r in sent] == [200, 200, 429]
        assert "try again in 10 minute" in sent[2].json()["error"] and int(sent[2].headers["retry-after"]) > 500
        assert len(live.visitors()) == 2


def test_forwarded_for_does_not_dodge_the_rate_limit(tmp_path):
    hub = LiveHub()
    with running_server(hub, LiveSettings(visitor_limit=1), tmp_path / "s.sqlite") as live:
        client, token = form_client(live)
        body = {"text": "hello", "scope": "score", "csrf": token}
        assert client.post("/api/visit", json=body).status_code == 200
        assert client.post("/api/visit", json=body, headers={"x-forwarded-for": "10.1.2.3"}).status_code == 429


def test_state_and_metrics_are_plain_json(live):
    with httpx.Client(base_url=live.url) as client:
        state = client.get("/api/state").json()
        assert state["tick"] >= 1 and state["price"] > 0 and state["viewers"] == 0
        metrics = client.get("/api/metrics").json()
        assert set(metrics) == {"population", "price"} and len(metrics["price"]) >= 1
        painting = client.get("/api/painting").json()
        assert len(painting["palette"]["rgb"]) == 1024 * 3 and painting["columns"] == 6


# -- admin ------------------------------------------------------------------------------------


def admin(live, token: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=live.url, headers=headers, timeout=10)


ADMIN_ROUTES = (("POST", "/admin/pause"), ("POST", "/admin/resume"), ("GET", "/admin/export"),
                ("POST", "/admin/withdraw-source"), ("POST", "/admin/withdraw-receipt"))


def test_admin_needs_the_token(quiet):
    with admin(quiet, None) as client:
        for method, path in ADMIN_ROUTES:
            response = client.request(method, path, json={"source": "collective"})
            assert response.status_code == 401, path
            assert "token" in response.json()["error"] and response.headers["www-authenticate"] == "Bearer"
    assert quiet.hub.take_commands() == []


def test_a_wrong_admin_token_is_refused_then_slowed(quiet, monkeypatch):
    monkeypatch.setattr(guard, "admin_delay", lambda failures: 30.0 * failures)  # no race with a slow machine
    with admin(quiet, "wrong-token") as client:
        [first, *rest] = [client.request(method, path, json={"source": "collective"}) for method, path in ADMIN_ROUTES]
        assert first.status_code == 401 and "token is wrong" in first.json()["error"]
        assert first.headers["www-authenticate"] == "Bearer" and first.headers["retry-after"] == "30"
        for response in rest:  # every admin route waits out the delay, right token or not
            assert response.status_code == 429 and "wrong admin tokens" in response.json()["error"]
            assert 28 <= int(response.headers["retry-after"]) <= 30
    assert quiet.hub.take_commands() == []


def test_admin_is_disabled_without_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("SUGARGLASS_ADMIN_TOKEN", raising=False)
    hub = LiveHub()
    with running_server(hub, LiveSettings(), tmp_path / "s.sqlite") as live, admin(live, "anything") as client:
        response = client.post("/admin/pause")
        assert response.status_code == 503 and "admin disabled" in response.json()["error"]
    assert hub.take_commands() == []


def test_pause_and_resume_reach_the_run(quiet, admin_token):
    with admin(quiet, admin_token) as client:
        assert client.post("/admin/pause").status_code == 202
        assert client.post("/admin/resume").status_code == 202
    assert quiet.hub.take_commands() == [Command("pause"), Command("resume")]


def test_export_and_withdraw_a_source(quiet, admin_token, tmp_path):
    fill_store(tmp_path / "store.sqlite")
    with admin(quiet, admin_token) as client:
        exported = client.get("/admin/export")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        lines = exported.text.splitlines()
        assert lines[0].startswith("source,post_id,created_at") and len(lines) == 4
        assert "'=1+1" in exported.text  # a formula-looking cell cannot run in a spreadsheet
        response = client.post("/admin/withdraw-source", data={"source": "collective", "reason": "asked by letter"})
        assert response.json() == {"source": "collective", "posts_removed": 2, "feelings_removed": 2}
        again = client.post("/admin/withdraw-source", json={"source": "collective"})
        assert again.status_code == 409 and "withdrawn" in again.json()["error"]
        assert client.post("/admin/withdraw-source", json={"source": "nobody"}).status_code == 404
        assert len(client.get("/admin/export").text.splitlines()) == 2


@pytest.mark.parametrize(("path", "kwargs", "status", "explains"), [
    ("/admin/withdraw-source", {"json": {}}, 422, "'source' is missing"),
    ("/admin/withdraw-source", {"json": {"source": "  "}}, 422, "'source' is missing"),
    ("/admin/withdraw-source", {"content": b"{", "headers": {"content-type": "application/json"}}, 400, "JSON"),
    ("/admin/withdraw-source", {"content": b"source=x", "headers": {"content-type": "text/csv"}}, 415, "urlencoded"),
    ("/admin/withdraw-source", {"json": {"source": "x" * 20_000}}, 413, "at most"),
    ("/admin/withdraw-receipt", {"json": {"receipt": "not-a-code"}}, 422, "12 letters"),
    ("/admin/withdraw-receipt", {"json": {"code": "ABCD-EFGH-JKMN"}}, 422, "unknown field"),
    ("/admin/withdraw-receipt", {"json": {"receipt": "ZZZZ-ZZZZ-ZZZZ"}}, 404, "no words are stored"),
])
def test_bad_admin_input_is_refused_and_changes_nothing(quiet, admin_token, tmp_path, path, kwargs, status, explains):
    fill_store(tmp_path / "store.sqlite")
    with admin(quiet, admin_token) as client:
        response = client.post(path, **kwargs)
        assert response.status_code == status, response.text
        assert explains in response.json()["error"]
    with Store(tmp_path / "store.sqlite") as store:
        assert store.withdrawals() == [] and store.counts()["collective"]["posts"] == 2


def test_admin_withdraws_a_visitor_by_receipt(quiet, admin_token, tmp_path):
    receipt = fill_store(tmp_path / "store.sqlite")
    with admin(quiet, admin_token) as client:
        response = client.post("/admin/withdraw-receipt", data={"receipt": receipt.lower().replace("-", " ")})
        assert response.json() == {"receipt": receipt, "posts_removed": 1}
    with Store(tmp_path / "store.sqlite") as store:
        assert "visitors" not in store.counts()


def test_a_visitor_withdraws_their_words_with_the_receipt(quiet, tmp_path):
    receipt = fill_store(tmp_path / "store.sqlite")
    client, token = form_client(quiet, "/withdraw")
    assert client.post("/api/withdraw", data={"receipt": receipt}).status_code == 403  # no CSRF token
    unknown = client.post("/api/withdraw", data={"receipt": "ZZZZ-ZZZZ-ZZZZ", "csrf": token})
    assert unknown.status_code == 404 and "no words are stored" in unknown.json()["error"]
    sent = client.post("/api/withdraw", data={"receipt": receipt, "csrf": token}, headers={"accept": "text/html"})
    assert sent.status_code == 303 and sent.headers["location"] == "/withdraw/done"  # a reload posts nothing again
    page = client.get("/withdraw/done")
    assert page.status_code == 200 and "Withdrawn" in page.text and "removed from the store" in page.text
    assert receipt not in sent.headers["set-cookie"]  # sealed, as the receipt page's cookie
    stranger, _ = form_client(quiet, "/withdraw")
    assert "Nothing withdrawn here" in stranger.get("/withdraw/done").text  # the address alone says nothing
    assert client.post("/api/withdraw", data={"receipt": receipt, "csrf": token}).status_code == 404


def test_receipt_guessing_is_rate_limited(tmp_path):
    with running_server(LiveHub(), LiveSettings(withdraw_limit=2), tmp_path / "s.sqlite") as live:
        client, token = form_client(live, "/withdraw")
        codes = [client.post("/api/withdraw", data={"receipt": "ZZZZ-ZZZZ-ZZZ" + c, "csrf": token}).status_code
                 for c in "ABC"]
        assert codes == [404, 404, 429]


def test_without_a_store_withdrawing_and_export_say_so(tmp_path, admin_token):
    with running_server(LiveHub(), LiveSettings(), None) as live, admin(live, admin_token) as client:
        response = client.get("/admin/export")
        assert response.status_code == 503 and "without a store" in response.json()["error"]


def test_on_shutdown_runs_when_the_server_stops():
    called = []
    with running_server(LiveHub(), LiveSettings(), None, on_shutdown=lambda: called.append(True)):
        assert called == []
    assert called == [True]


def test_settings_refuse_unknown_keys_and_hold_no_token():
    with pytest.raises(ValueError, match="admin_token"):
        LiveSettings(admin_token="secret")
    assert LiveSettings().admin_token_env == "SUGARGLASS_ADMIN_TOKEN"


def test_the_form_is_closed_once_the_visitors_source_is_withdrawn(quiet, tmp_path):
    fill_store(tmp_path / "store.sqlite")
    client, token = form_client(quiet)
    assert client.post("/api/visit", json={"text": "hello", "scope": "score", "csrf": token}).status_code == 200
    with Store(tmp_path / "store.sqlite") as store:
        store.withdraw("visitors", "the artist closed the work to visitors")
    closed = client.post("/api/visit", json={"text": "hello again", "scope": "score", "csrf": token})
    assert closed.status_code == 403 and "closed this work to visitors" in closed.json()["error"]
    assert quiet.visitors() == [], "the first message went with the source; the second was never stored"


def test_a_store_held_by_another_writer_asks_to_try_again_and_claims_nothing(quiet, tmp_path, monkeypatch):
    import sqlite3

    from sugarglass import store as stores

    client, token = form_client(quiet)
    stored = client.post("/api/visit", json={"text": "the first words", "scope": "score", "csrf": token})
    receipt = stored.json()["receipt"]
    monkeypatch.setattr(stores, "WAIT_SECONDS", 0.2)
    holder = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a long ingest holds the write lock
    try:
        busy = client.post("/api/visit", json={"text": "more words", "scope": "score", "csrf": token})
        assert busy.status_code == 503 and "try again" in busy.json()["error"] and busy.headers["retry-after"] == "30"
        withdraw, withdraw_token = form_client(quiet, "/withdraw")
        held = withdraw.post("/api/withdraw", json={"receipt": receipt, "csrf": withdraw_token})
        assert held.status_code == 503, "busy is not 'no words under that code'"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(quiet.visitors()) == 1
    assert withdraw.post("/api/withdraw", json={"receipt": receipt, "csrf": withdraw_token}).status_code == 200


def test_a_withdrawn_message_leaves_no_trace_of_its_words_or_its_receipt(quiet, tmp_path):
    from sugarglass.store import receipt_digest

    client, token = form_client(quiet)
    stored = client.post("/api/visit", json={"text": "Zanzibar-lilac words of mine", "scope": "keep-text", "csrf": token})
    receipt = stored.json()["receipt"]
    withdraw, withdraw_token = form_client(quiet, "/withdraw")
    assert withdraw.post("/api/withdraw", json={"receipt": receipt, "csrf": withdraw_token}).status_code == 200
    digest = receipt_digest(receipt)
    files = list(tmp_path.glob("store.sqlite*"))
    assert files and quiet.visitors() == []
    for file in files:
        content = file.read_bytes()
        assert b"Zanzibar" not in content and digest[:20].encode() not in content, f"{file.name} still holds it"


def test_messages_sent_at_once_from_one_address_cannot_overshoot_the_limit(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with running_server(LiveHub(), LiveSettings(visitor_limit=2), tmp_path / "s.sqlite") as live:
        client, token = form_client(live)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: client.post("/api/visit", json={"text": f"all at once {i}", "scope": "score",
                                                                               "csrf": token}).status_code, range(8)))
        assert sorted(answers) == [200, 200] + [429] * 6
        assert len(live.visitors()) == 2
        refused = client.post("/api/visit", json={"text": "@someone", "scope": "score", "csrf": token})
        assert refused.status_code == 429, "the window is full; a refused message would not have used a place"


def test_a_refused_message_does_not_use_up_the_visitors_place(tmp_path):
    with running_server(LiveHub(), LiveSettings(visitor_limit=1), tmp_path / "s.sqlite") as live:
        client, token = form_client(live)
        assert client.post("/api/visit", json={"text": "@someone", "scope": "score", "csrf": token}).status_code == 422
        assert client.post("/api/visit", json={"text": "my own words", "scope": "score", "csrf": token}).status_code == 200
        assert client.post("/api/visit", json={"text": "more words", "scope": "score", "csrf": token}).status_code == 429
