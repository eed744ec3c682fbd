"""The visitor's tablet (issue 13), in real headless Chromium against a real server.

At 1024 x 768 and 768 x 1024 (a tablet held either way) the form's Send is on screen without
scrolling; a sent form redirects to a receipt page (a reload sends nothing) that only the
browser that sent the words can see, with the code as a QR code and a copy button; the
painting has a Details button for fingers as well as the `o` key; the charts say what each
metric is, in words and units, on axes that make sense for a flat series; and the admin export
writes times as `sugarglass feelings export` does.

Screenshots of every page at both sizes go to the folder in $SUGARGLASS_SCREENSHOTS, when it
is set (`SUGARGLASS_SCREENSHOTS=docs/live .venv/bin/pytest tests/live/test_tablet.py` makes the
ones in docs/live.md), and to the test's temporary folder otherwise.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
import segno
from live_support import (CHROMIUM_FLAGS, SocietyPublisher, chromium_path, form_client, free_port, running_server,
                          stored_visitors)
from PIL import Image
from typer.testing import CliRunner

from support import source
from sugarglass.cli import app as cli
from sugarglass.live.hub import Frame, LiveHub
from sugarglass.live.server import METRIC_LABELS, RECEIPT_COOKIE, RECEIPT_PAGE, ReceiptSlip
from sugarglass.live.settings import LiveSettings
from sugarglass.society import COLUMNS
from sugarglass.store import Store

SIZES = {"landscape": (1024, 768), "portrait": (768, 1024)}
RECEIPT = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(np.int16)


def wait_attr(page, name: str, at_least: int) -> None:
    page.wait_for_function(f"() => Number(document.body.dataset.{name} || 0) >= {at_least}", timeout=20_000)


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("SUGARGLASS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder: Path, name: str) -> None:
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    path = folder / f"{name}-{width}x{height}.png"
    page.screenshot(path=path)
    path.chmod(0o644)


@pytest.fixture(params=list(SIZES))
def tablet(browser, request):
    """A touch screen of a tablet's size, held one way or the other."""
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, device_scale_factor=1)
    yield context.new_page()
    context.close()


@pytest.fixture
def gallery(tmp_path: Path, admin_token: str):
    """A server fed by a real society (the book's rules) that has run 150 ticks already."""
    hub = LiveHub()
    hub.overlay.work, hub.overlay.seed = "demo", 11
    hub.overlay.sources = {"campaign-posts": 336, "visitors": 0}
    store = tmp_path / "store.sqlite"
    with running_server(hub, LiveSettings(tick_seconds=0.25, visitor_limit=20), store) as server:
        publisher = SocietyPublisher(hub, seed=11, store=store)
        for _ in range(150):
            publisher.publish_one()
        with publisher:
            server.publisher = publisher
            yield server


def in_view(page, selector: str) -> dict:
    """The element's box, asserting it lies wholly inside the window with the page unscrolled."""
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert page.evaluate("() => window.scrollY") == 0
    assert box and box["y"] >= 0 and box["x"] >= 0, selector
    assert box["y"] + box["height"] <= viewport["height"] and box["x"] + box["width"] <= viewport["width"], (selector, box)
    return box


def test_every_page_on_a_tablet_held_either_way(gallery, tablet, shots):
    page = tablet
    # the painting, and its details by touch
    page.goto(gallery.url + "/")
    wait_attr(page, "frames", 2)
    wait_attr(page, "drawn", 2)
    assert page.evaluate("() => document.body.dataset.webgl") == "webgl2"
    in_view(page, "#details")
    assert not page.locator("#overlay").is_visible()
    shoot(page, shots, "painting")
    page.tap("#details")
    page.wait_for_function("() => document.getElementById('o-tick').textContent !== ''", timeout=10_000)
    assert page.locator("#overlay").is_visible() and page.get_attribute("#details", "aria-pressed") == "true"
    assert page.locator("#o-work").text_content() == "demo" and int(page.locator("#o-population").text_content()) > 0
    shoot(page, shots, "painting-overlay")
    page.tap("#details")
    assert not page.locator("#overlay").is_visible() and page.get_attribute("#details", "aria-pressed") == "false"
    page.keyboard.press("o")  # the key still works where there is one
    assert page.locator("#overlay").is_visible()

    # the charts, by name
    page.goto(gallery.url + "/charts")
    wait_attr(page, "updates", 1)
    captions = page.locator("figcaption strong").all_text_contents()
    assert "Gini of wealth" in captions and "Population" in captions and "Births" in captions
    assert not [c for c in captions if "_" in c], captions
    assert page.locator("figure[data-metric=population] .unit").text_content() == "agents alive"
    shoot(page, shots, "charts")

    # the form: everything down to Send on screen at once
    page.goto(gallery.url + "/visit")
    send = in_view(page, "button[type=submit]")
    in_view(page, "#text")
    in_view(page, "input[value=keep-text]")
    page.fill("#text", "The river came back this spring and we planted the bank together")
    page.check("input[value=score]")
    shoot(page, shots, "visit")
    page.tap("button[type=submit]")
    page.wait_for_url("**" + RECEIPT_PAGE)
    receipt = page.locator("#receipt").text_content()
    assert RECEIPT.fullmatch(receipt)
    for part in ("#receipt", "#copy", "svg.qr"):
        in_view(page, part)
    [stored] = gallery.visitors()
    assert stored.has_receipt(receipt)
    shoot(page, shots, "thanks")

    # withdrawing with it
    page.goto(gallery.url + "/withdraw")
    in_view(page, "button[type=submit]")
    page.fill("#receipt", receipt.lower())
    shoot(page, shots, "withdraw")
    page.tap("button[type=submit]")
    page.wait_for_selector("h1:text('Withdrawn')")
    assert gallery.visitors() == []
    chrome = 100  # a tablet browser's own bars take about this much of the screen's height
    assert send["y"] + send["height"] <= page.viewport_size["height"] - chrome, "Send must fit under a browser's bars too"


def test_a_reload_sends_nothing_and_no_one_else_sees_the_receipt(live, browser):
    sent: list[str] = []
    visitor = browser.new_context(viewport={"width": 1024, "height": 768})
    page = visitor.new_page()
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    page.goto(live.url + "/visit")
    page.fill("#text", "bright water")
    page.check("input[value=keep-text]")
    with page.expect_response(lambda r: r.url.endswith("/api/visit")) as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 303 and answer.value.headers["location"] == RECEIPT_PAGE
    page.wait_for_url("**" + RECEIPT_PAGE)
    receipt = page.locator("#receipt").text_content()
    page.reload()
    assert page.locator("#receipt").text_content() == receipt  # the same page again, from the same cookie
    page.reload()
    assert len(sent) == 1 and len(live.visitors()) == 1, "a reload sent the words again"
    assert live.visitors()[0].has_receipt(receipt)

    another = browser.new_context(viewport={"width": 768, "height": 1024})  # another tablet, another visitor
    other = another.new_page()
    other.goto(live.url + RECEIPT_PAGE)
    assert other.locator("h1").text_content() == "No receipt here" and receipt not in other.content()
    another.close()

    page.go_back()  # the next visitor on the same tablet: the blank form clears the code
    assert page.url.endswith("/visit") and page.input_value("#text") == ""
    page.go_forward()
    assert page.locator("h1").text_content() == "No receipt here" and receipt not in page.content()
    assert len(sent) == 1
    visitor.close()


@pytest.fixture
def quiet(tmp_path: Path, admin_token: str):
    """A server with a store and no run, so the test sees exactly what the form stored."""
    with running_server(LiveHub(), LiveSettings(visitor_limit=20), tmp_path / "store.sqlite") as server:
        yield server


def test_a_browser_form_is_answered_with_a_redirect_and_a_sealed_cookie(quiet):
    client, token = form_client(quiet)
    posted = client.post("/api/visit", data={"text": "rain on the glass", "scope": "score", "csrf": token},
                         headers={"accept": "text/html"})
    assert posted.status_code == 303 and posted.headers["location"] == RECEIPT_PAGE
    cookie = posted.headers["set-cookie"]
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and f"path={RECEIPT_PAGE}" in lowered
    assert "max-age=120" in lowered
    sealed = client.cookies[RECEIPT_COOKIE]
    page = client.get(RECEIPT_PAGE)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    receipt = RECEIPT.search(page.text)[0]
    [stored] = quiet.visitors()
    assert stored.has_receipt(receipt)
    assert receipt not in sealed and receipt.replace("-", "") not in sealed, "the cookie hides the code"
    assert "<svg" in page.text and "<img" not in page.text and 'content="120; url=/visit"' in page.text
    assert client.get(RECEIPT_PAGE).text.count(receipt) >= 1 and len(quiet.visitors()) == 1

    stranger = httpx.Client(base_url=quiet.url)
    assert "No receipt here" in stranger.get(RECEIPT_PAGE).text
    flipped = sealed[:5] + ("A" if sealed[5] != "A" else "B") + sealed[6:]
    stranger.cookies.set(RECEIPT_COOKIE, flipped, path=RECEIPT_PAGE)
    assert receipt not in stranger.get(RECEIPT_PAGE).text

    form = client.get("/visit")  # the form again: the code goes
    assert f'{RECEIPT_COOKIE}=""' in form.headers["set-cookie"] and "max-age=0" in form.headers["set-cookie"].lower()
    assert receipt not in client.get(RECEIPT_PAGE).text

    scripted = client.post("/api/visit", json={"text": "rain again", "scope": "score", "csrf": token})
    assert scripted.status_code == 200 and RECEIPT.fullmatch(scripted.json()["receipt"])  # scripts still get JSON


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_slip_opens_only_for_its_installation_and_for_two_minutes():
    clock = Clock()
    slips = ReceiptSlip(b"k" * 32, clock=clock)
    sealed = slips.seal("ABCD-EFGH-JKMN")
    assert slips.open(sealed) == ("ABCD-EFGH-JKMN", 120)
    assert slips.seal("ABCD-EFGH-JKMN") != sealed  # a fresh nonce each time
    clock.now += 119.5
    assert slips.open(sealed) == ("ABCD-EFGH-JKMN", 0.5)
    clock.now += 1
    assert slips.open(sealed) is None
    clock.now -= 300  # from the future: not one we made
    assert slips.open(sealed) is None
    clock.now += 200
    assert ReceiptSlip(b"q" * 32, clock=clock).open(sealed) is None  # another installation's secret
    body, issued, mac = sealed.split(".")
    assert slips.open(f"{body}.{int(issued) + 60}.{mac}") is None  # the time is signed
    for bad in ("", "x", "a.b.c", sealed + "A", sealed.replace(".", "..", 1)):
        assert slips.open(bad) is None


def test_the_qr_code_on_the_page_holds_the_receipt(live, page):
    page.goto(live.url + "/visit")
    page.fill("#text", "a small green hope")
    page.check("input[value=score]")
    page.click("button[type=submit]")
    page.wait_for_url("**" + RECEIPT_PAGE)
    receipt = page.locator("#receipt").text_content()
    shown = pixels(page.locator("svg.qr").screenshot())
    expected = np.array([[bool(m) for m in row] for row in segno.make_qr(receipt, error="q").matrix_iter(border=4)])
    n = expected.shape[0]
    assert n == 29, "version 1: the code fits the smallest QR symbol"
    h, w = shown.shape
    centres = shown[((np.arange(n) + 0.5) * h / n).astype(int)][:, ((np.arange(n) + 0.5) * w / n).astype(int)]
    assert (centres < 128).tolist() == expected.tolist(), "every module the browser drew is the receipt's"
    grey = ((shown > 40) & (shown < 215)).mean()
    assert grey < 0.05 and min(h, w) >= 150, f"{grey:.1%} of the code's pixels are grey: blurred edges"  # crisp, and large


def test_the_copy_button_uses_the_clipboard_on_a_secure_page(live, browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page = context.new_page()
    page.goto(live.url + "/visit")
    page.fill("#text", "copy me a feeling")
    page.check("input[value=score]")
    page.click("button[type=submit]")
    page.wait_for_url("**" + RECEIPT_PAGE)
    receipt = page.locator("#receipt").text_content()
    assert page.evaluate("() => window.isSecureContext")  # 127.0.0.1 is a secure context
    page.click("#copy")
    page.wait_for_function("() => document.body.dataset.copy === 'clipboard'")
    assert page.evaluate("() => navigator.clipboard.readText()") == receipt
    assert page.locator("#copied").text_content() == "Copied."
    context.close()


def test_on_the_gallery_network_the_copy_button_selects_the_code(browser, tmp_path):
    """A tablet that opens the installation by name (http://gallery.test:PORT, listed in
    allowed_origins) is not a secure context: there is no Clipboard API, so the code is selected."""
    port = free_port()
    origin = f"http://gallery.test:{port}"
    settings = LiveSettings(allowed_origins=[origin])
    named = browser.browser_type.launch(executable_path=chromium_path(), headless=True,
                                        args=[*CHROMIUM_FLAGS, "--host-resolver-rules=MAP gallery.test 127.0.0.1",
                                              "--no-proxy-server"])
    try:
        with running_server(LiveHub(), settings, tmp_path / "s.sqlite", port=port) as live:
            page = named.new_page(viewport={"width": 768, "height": 1024})
            page.goto(origin + "/visit")
            page.fill("#text", "words from the gallery floor")
            page.check("input[value=keep-text]")
            page.click("button[type=submit]")
            page.wait_for_url("**" + RECEIPT_PAGE)
            assert page.evaluate("() => window.isSecureContext") is False
            assert page.evaluate("() => navigator.clipboard === undefined")
            receipt = page.locator("#receipt").text_content()
            page.click("#copy")
            page.wait_for_function("() => document.body.dataset.copy === 'selection'")
            assert page.evaluate("() => window.getSelection().toString()") == receipt
            assert page.locator("#copied").text_content() != ""
            [stored] = stored_visitors(live.store)
            assert stored.has_receipt(receipt) and stored.scope == "keep-text"
    finally:
        named.close()


# -- the charts ---------------------------------------------------------------------------------------


def test_every_metric_the_run_publishes_has_a_label_and_a_unit():
    assert set(METRIC_LABELS) == set(COLUMNS) - {"tick"}
    for name, (label, unit, include) in METRIC_LABELS.items():
        assert label and unit and "_" not in label, name
        assert include is None or include[0] < include[1]


FLAT = {"births": 0.0, "vision_mean": 2.0, "population": 400.0, "gini": 0.3, "sugar_mean": -5.0,
        "price_geomean": math.nan, "brand_new_metric": 7.0}


def test_flat_series_get_a_range_around_their_value_and_names_in_words(page):
    hub = LiveHub()
    for tick in range(1, 41):
        hub.publish(Frame(tick, np.zeros(48, np.uint16), None), FLAT)
    with running_server(hub, LiveSettings(), None) as live:
        page.goto(live.url + "/charts")
        wait_attr(page, "updates", 1)

        def axis(name: str) -> tuple[float, float] | None:
            data = page.locator(f"figure[data-metric={name}]").evaluate("f => [f.dataset.lo, f.dataset.hi]")
            return None if data[0] is None else (float(data[0]), float(data[1]))

        def caption(name: str) -> str:
            return page.locator(f"figure[data-metric={name}] figcaption").inner_text()

        assert axis("births") == (0, 1), "nothing born: a line at zero on 0..1, not in the middle of -1..1"
        lo, hi = axis("vision_mean")
        assert lo < 2 < hi and hi - lo <= 0.5 and lo > 0
        lo, hi = axis("population")
        assert 300 <= lo < 400 < hi <= 500
        assert axis("gini") == (0, 1)
        lo, hi = axis("sugar_mean")
        assert lo < -5 < hi < 0
        assert axis("price_geomean") is None and "—" in caption("price_geomean")
        assert caption("gini").startswith("Gini of wealth") and "0 all equal, 1 one has all" in caption("gini")
        assert caption("births").startswith("Births") and "agents a tick" in caption("births")
        assert caption("brand_new_metric").startswith("Brand new metric")  # a metric without a label yet, in words
        order = page.locator("figure").evaluate_all("fs => fs.map(f => f.dataset.metric)")
        assert order == ["population", "gini", "price_geomean", "births", "sugar_mean", "vision_mean", "brand_new_metric"]


# -- the admin export ---------------------------------------------------------------------------------


def test_the_admin_export_writes_times_as_feelings_export_does(make_work, tmp_path, admin_token):
    (tmp_path / "posts.csv").write_text(
        "id,created_at,text\n"
        "p1,2026-09-01T12:00:00Z,the river is rising and we are ready\n"
        "p2,2026-09-02T08:30:15.250000+02:00,tired but still here\n"
        "p3,,no time on this one\n", encoding="utf-8")
    work = make_work(source("posts", "csv", "posts.csv", id_column="id"))
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(work)], catch_exceptions=False).exit_code == 0
    exported = runner.invoke(cli, ["feelings", "export", str(work), "--csv", str(tmp_path / "cli.csv")], catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    store = tmp_path / "test.sqlite"
    assert store.exists()
    with running_server(LiveHub(), LiveSettings(), store) as live:
        client, token = form_client(live)
        assert client.post("/api/visit", json={"text": "a visitor's hope", "scope": "score", "csrf": token}).status_code == 200
        admin = httpx.get(live.url + "/admin/export", headers={"authorization": f"Bearer {admin_token}"})
    assert admin.status_code == 200
    rows = list(csv.reader(io.StringIO(admin.text, newline="")))
    cli_rows = list(csv.reader(io.StringIO((tmp_path / "cli.csv").read_text(encoding="utf-8"), newline="")))
    assert rows[0] == cli_rows[0]
    assert [r for r in rows[1:] if r[0] == "posts"] == cli_rows[1:], "the same rows, cell for cell"
    times = {r[1]: r[2] for r in rows[1:] if r[0] == "posts"}
    assert times["p1"] == "2026-09-01T12:00:00Z" and times["p2"] == "2026-09-02T06:30:15.250000Z"
    [visitor] = [r for r in rows[1:] if r[0] == "visitors"]
    when = datetime.fromisoformat(visitor[2])
    assert visitor[2].endswith("Z") and when.tzinfo is not None
    assert abs((datetime.now(UTC) - when).total_seconds()) < 120
    with Store(store) as db:
        assert len(list(db.export_rows())) == len(rows) - 1
