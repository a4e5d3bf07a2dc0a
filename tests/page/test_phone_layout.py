"""The listener page at phone sizes, in every engine: nothing wider than the screen, and
every control big enough to tap.

Chromium, Firefox ESR and WebKitGTK each open the page from a LAN name over plain http (how
a phone on the LAN opens it: the note about the secure address and its link show too) at
360x640 and 390x844 CSS px, press Start listening and, once it plays, measure: the
document is no wider than the viewport, no visible element reaches past its right edge, and
every visible control (button, link, input, select) offers a tap target of at least
MIN_TAP_PX in both directions, its <label> counting as part of it, as WCAG 2.5.5 and the
platforms' guidelines (44 pt, 48 dp) ask.

Firefox and WebKit also take the README's screenshots of their own (the page as
tests/page/test_screenshot.py takes it in Chromium: the secure origin, a phone's width, the
tone playing), into pytest's tmp dir; docs/screenshot-<engine>.png is replaced only with
UPDATE_SCREENSHOT=1:

    UPDATE_SCREENSHOT=1 .venv/bin/python -m pytest tests/page/test_screenshot.py \
        tests/page/test_phone_layout.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ViewportSize

from tests.conftest import ROOT
from tests.page.test_screenshot import VIEWPORT, png_size
from tests.support.browser import assert_plays_the_tone
from tests.support.engines import (
    LAN_NAME,
    EngineBrowser,
    launch,
    speakers,
    wait_for,
)

pytestmark = pytest.mark.browser

ENGINES = ("chromium", "firefox", "webkit")
PHONES: tuple[ViewportSize, ...] = ({"width": 360, "height": 640}, {"width": 390, "height": 844})
MIN_TAP_PX = 44

# What the checks need from the page: the document's width, visible elements reaching past
# the viewport, and each visible control's tap target (with its label's box, when it has one).
MEASURE_JS = """(() => {
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const name = (el) => el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${el.className}`;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right > innerWidth + 0.5 || r.left < -0.5) wide.push(`${name(el)} ${r.left}..${r.right}`);
  }
  const small = [];
  for (const el of document.querySelectorAll('button, a[href], input, select, summary')) {
    if (!visible(el)) continue;
    let { left, top, right, bottom } = el.getBoundingClientRect();
    const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
    if (label && visible(label)) {
      const l = label.getBoundingClientRect();
      // A label and its control are one target when they touch (a click on either works).
      if (l.left <= right && left <= l.right && l.top <= bottom && top <= l.bottom) {
        left = Math.min(left, l.left); top = Math.min(top, l.top);
        right = Math.max(right, l.right); bottom = Math.max(bottom, l.bottom);
      }
    }
    const w = right - left;
    const h = bottom - top;
    if (w < __MIN__ || h < __MIN__) small.push(`${name(el)} ${w.toFixed(1)}x${h.toFixed(1)}`);
  }
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth, wide, small };
})()""".replace("__MIN__", str(MIN_TAP_PX))


@pytest.fixture(scope="module")
def sound_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The PulseAudio null sink Firefox and WebKit play into."""
    with speakers(tmp_path_factory.mktemp("speakers")) as env:
        yield env


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine of the module's browser."""
    return str(request.param)


@pytest.fixture(scope="module")
def browser(engine: str, sound_env: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineBrowser]:
    """One browser of each engine, for every size."""
    workdir: Path = tmp_path_factory.mktemp(engine)
    with launch(engine, workdir, sound_env) as running:
        yield running


@pytest.mark.parametrize("phone", PHONES, ids=lambda v: f"{v['width']}x{v['height']}")
def test_the_page_fits_a_phone_and_its_controls_can_be_tapped(
        browser: EngineBrowser, phone: ViewportSize, tone_server: str) -> None:
    port = tone_server.rsplit(":", 1)[1]
    page = browser.new_page()
    try:
        page.set_viewport_size(phone)
        page.goto(f"http://{LAN_NAME}:{port}/")
        page.click("#listen")
        wait_for(page, "document.getElementById('status').textContent === 'live'", 10)
        # The figures line has its values, and the plain-http note shows.
        wait_for(page, "document.querySelector('#figures [data-figure=\"path\"]') !== null", 10)
        assert page.evaluate("document.getElementById('secure-note').hidden") is False
        measured: dict[str, Any] = page.evaluate(MEASURE_JS)
        assert measured["innerWidth"] == phone["width"]
        assert measured["scrollWidth"] <= phone["width"], measured
        assert measured["wide"] == [], f"past the right edge: {measured['wide']}"
        assert measured["small"] == [], f"under {MIN_TAP_PX} px to tap: {measured['small']}"
    finally:
        page.close()


def test_readme_screenshot_of_the_engine(engine: str, browser: EngineBrowser, tone_server: str,
                                         tmp_path: Path) -> None:
    if engine == "chromium":
        pytest.skip("Chromium's is tests/page/test_screenshot.py's")
    page = browser.new_page()
    shot = tmp_path / "screenshot.png"
    try:
        page.set_viewport_size(VIEWPORT)
        page.goto(f"{tone_server}/")
        page.click("#listen")
        wait_for(page, "document.getElementById('status').textContent === 'live'", 10)
        wait_for(page, "window.__firstSoundMs !== undefined", 5)
        wait_for(page, "performance.now() - window.__firstSoundMs > 2000"
                 " + 4096 / window.__recordedRate * 1000", 10)
        assert_plays_the_tone(page, 1.0)  # what it shows is a page that plays
        page.screenshot(path=str(shot))
    finally:
        page.close()
    expected = (VIEWPORT["width"], VIEWPORT["height"])
    assert png_size(shot.read_bytes()) == expected
    saved = ROOT / "docs" / f"screenshot-{engine}.png"
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        saved.write_bytes(shot.read_bytes())
    assert saved.is_file(), f"{saved.name} is missing: run with UPDATE_SCREENSHOT=1"
    assert png_size(saved.read_bytes()) == expected
