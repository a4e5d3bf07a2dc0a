"""The listener page plays in every engine: Chromium, Firefox ESR and WebKitGTK, each on the
secure origin (http://127.0.0.1) and on plain http from a LAN name (no secure context), one
browser per engine for the module. Sound is proven from what reaches the page's
AudioContext destination (tests/support/browser.py's recorder): the 440 Hz tone, with no
dropout in the last second, 2 s after the sound started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import assert_plays_the_tone
from tests.support.engines import (
    LAN_NAME,
    EngineBrowser,
    EnginePage,
    launch,
    speakers,
    wait_for,
)

pytestmark = pytest.mark.browser

ENGINES = ("chromium", "firefox", "webkit")
# As in Chromium's own tests: the last second, 2 s after the sound started, is the tone
# with no dropout.
CLEAN_S = 1.0
PLAYED_S = 2.0


@pytest.fixture(scope="module")
def sound_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The PulseAudio null sink the engines that need a sound server play into."""
    with speakers(tmp_path_factory.mktemp("speakers")) as env:
        yield env


@pytest.fixture(scope="module", params=ENGINES)
def browser(request: pytest.FixtureRequest, sound_env: dict[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineBrowser]:
    """One browser of each engine, for every test of the module."""
    workdir: Path = tmp_path_factory.mktemp(request.param)
    with launch(request.param, workdir, sound_env) as running:
        yield running


def figure_of(page: EnginePage, name: str) -> str:
    """The bare value of one figure of the page's figures line ('' when unknown)."""
    return str(page.evaluate(
        "(name) => document.querySelector(`#figures [data-figure=\"${name}\"]`)"
        "?.dataset.value || ''", name))


@pytest.mark.parametrize("origin", ["secure", "plain-http"])
def test_the_page_plays_the_tone_with_no_dropout(browser: EngineBrowser, origin: str,
                                                 tone_server: str) -> None:
    port = tone_server.rsplit(":", 1)[1]
    host = "127.0.0.1" if origin == "secure" else LAN_NAME
    page = browser.new_page()
    try:
        page.goto(f"http://{host}:{port}/")
        assert page.evaluate("window.isSecureContext") is (origin == "secure")
        page.click("#listen")
        wait_for(page, "document.getElementById('status').textContent === 'live'", 10)
        wait_for(page, "window.__firstSoundMs !== undefined", 5)
        # Past the start, every 10 ms of what plays holds the tone.
        wait_for(page, f"performance.now() - window.__firstSoundMs > {1000 * PLAYED_S}"
                 " + 4096 / window.__recordedRate * 1000", 10)
        try:
            assert_plays_the_tone(page, CLEAN_S)
        except AssertionError as failure:
            figures = page.evaluate("document.getElementById('figures').textContent")
            raise AssertionError(f"{failure}; the page says: {figures}") from None
        # AudioWorklet only in a secure context; the fallback output elsewhere.
        path = figure_of(page, "path")
        assert path.endswith("+worklet" if origin == "secure" else "+scriptprocessor"), path
    finally:
        page.close()
