"""The pages in a real headless Chromium (Debian's, via Playwright) against a real server.

The painting page must draw with WebGL2 in the film's colours, the overlay must toggle with `o`,
the visitors' form must thank the visitor without ever echoing their words as HTML, and the
charts must draw. A screenshot of the painting is kept at /tmp/sugarglass-live.png.
"""

from __future__ import annotations

import io
import re

import numpy as np
from live_support import running_server, synthetic_levels
from PIL import Image

from sugarglass.canvas import Canvas, CanvasConfig
from sugarglass.live.hub import Frame, LiveHub
from sugarglass.live.settings import LiveSettings

SCREENSHOT = "/tmp/sugarglass-live.png"


def wait_attr(page, name: str, at_least: int) -> None:
    page.wait_for_function(f"() => Number(document.body.dataset.{name} || 0) >= {at_least}", timeout=20_000)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def test_the_painting_draws_like_liquid_crystal_in_kiosk_mode(live, page):
    page.goto(live.url + "/?kiosk=1")
    wait_attr(page, "frames", 4)
    wait_attr(page, "drawn", 4)
    assert page.evaluate("() => document.body.dataset.webgl") == "webgl2"
    assert page.evaluate("() => !!document.getElementById('painting').getContext('webgl2')")
    assert page.evaluate("() => document.body.classList.contains('kiosk')")
    assert page.evaluate("() => getComputedStyle(document.body).cursor") == "none"
    assert not page.locator("#controls").is_visible()
    png = page.screenshot(path=SCREENSHOT)
    rgb = pixels(png)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    assert rgb.reshape(-1, 3).std(axis=0).max() > 15  # not one colour
    green = (g > r) & (g > b) & (g > 60)
    blue_violet = (b > g) & (b > r) & (b > 60)
    warm_dim = (r >= g) & (r > b) & (r.astype(int) + g + b < 400)  # olive-brown to black
    assert green.mean() > 0.15 and blue_violet.mean() > 0.005 and warm_dim.mean() > 0.03
    assert (rgb.max(axis=-1) > 235).mean() < 0.01  # a film over black, never a glaring screen
    # no hard edges: neighbouring pixels differ only a little anywhere in the painting
    assert np.abs(np.diff(rgb, axis=0)).max() < 40 and np.abs(np.diff(rgb, axis=1)).max() < 40


def test_the_page_paints_what_the_canvas_renders(page):
    """With the run's own field in the frames, the shader must give sugarglass.canvas's picture."""
    canvas = Canvas(CanvasConfig())
    levels = synthetic_levels(5)
    for _ in range(25):
        canvas.step(next(levels))
    hub = LiveHub()
    hub.publish(Frame(25, next(levels), canvas.temperature.astype(np.float32)), {})
    with running_server(hub, LiveSettings(), None) as live:
        page.goto(live.url + "/?kiosk=1")
        wait_attr(page, "drawn", 1)
        shown = pixels(page.screenshot())
    expected = canvas.render(600, 800).astype(np.int16)
    difference = np.abs(shown - expected)
    assert difference.mean() < 2.0 and np.percentile(difference, 99.5) < 12


def test_the_overlay_toggles_with_o_and_shows_text_as_text(live, page):
    live.hub.overlay.sources = {"collective": 120, "<b>visitors</b>": 3}
    live.hub.overlay.seed = 11
    page.goto(live.url + "/")
    wait_attr(page, "frames", 1)
    assert not page.locator("#overlay").is_visible()
    page.keyboard.press("o")
    page.wait_for_function("() => document.getElementById('o-tick').textContent !== ''", timeout=10_000)
    assert page.locator("#overlay").is_visible()
    assert int(page.locator("#o-tick").text_content()) >= 1
    assert page.locator("#o-seed").text_content() == "11"
    assert page.locator("#o-viewers").text_content() == "1"
    items = page.locator("#o-sources li").all_text_contents()
    assert items == ["collective: 120", "<b>visitors</b>: 3"]  # shown as text, never parsed as HTML
    assert page.locator("#o-sources b").count() == 0
    page.keyboard.press("o")
    assert not page.locator("#overlay").is_visible()


def test_a_visitor_writes_chooses_sends_and_sees_a_thank_you_and_a_ripple(live, page, browser):
    painting = browser.new_page(viewport={"width": 300, "height": 400})
    painting.goto(live.url + "/")
    wait_attr(painting, "frames", 1)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    words = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> sugar for all'
    page.goto(live.url + "/visit")
    page.fill("#text", words)
    page.click("button[type=submit]")  # no consent scope chosen: the form does not send
    assert page.url.endswith("/visit") and live.visitors() == [] and live.publisher.taken == []
    page.check("input[value=score]")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:text('Thank you')")
    receipt = page.locator("#receipt").text_content()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", receipt)
    html = page.content()
    assert "onerror" not in html and "__pwned" not in html and "sugar for all" not in html
    assert page.evaluate("() => window.__pwned") is None and dialogs == []
    wait_attr(painting, "ripples", 1)  # the run took the words and the painting answered
    [message] = live.visitors()
    assert message.has_receipt(receipt) and message.scope == "score" and message.text is None  # scored, words not kept
    assert len(live.publisher.taken) == 1, "the run took the one message in"
    painting.close()


def test_the_charts_page_draws_the_metrics(live, page):
    page.goto(live.url + "/charts")
    wait_attr(page, "updates", 1)
    assert sorted(page.locator("figure").evaluate_all("fs => fs.map(f => f.dataset.metric)")) == ["population", "price"]
    assert page.locator("figure .value").first.text_content() not in ("", "—")
    drawn = pixels(page.locator("figure canvas").first.screenshot())
    assert (np.abs(drawn - drawn[0, 0]).sum(axis=-1) > 60).mean() > 0.002  # a line was drawn
