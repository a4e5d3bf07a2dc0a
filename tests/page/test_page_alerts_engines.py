"""Sound alerts and the link-loss alarm in Firefox ESR and WebKitGTK (Chromium's are in
test_page_alerts.py), against a broadcaster looping a file whose loud part comes back every
2.3 s: "Alert me" raises the banner for an episode; the server killed with SIGKILL makes the
page sound its own alarm within the delay plus a second, and it stops when the server is
back. In Firefox the listening tab is in the background meanwhile: another tab of the same
window is brought to the front (WebDriver BiDi), the page says it is hidden, and the next
sound still raises the banner and chimes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import start_broadcaster
from tests.page.test_engines import wait_for
from tests.page.test_page_alerts import CHIME_HZ, SIREN_HZ, share_near
from tests.support.browser import recorded_samples
from tests.support.engines import EnginePage, bring_to_front, launch, speakers
from tests.web.test_activity_api import ALERTS, looped_sound

pytestmark = pytest.mark.browser

ALARM_DELAY_S = 3
SET_DELAY_JS = """(value) => {
  const select = document.getElementById('alarm-delay');
  select.value = value;
  select.dispatchEvent(new Event('change'));
}"""
BANNER_JS = ("(() => { const b = document.getElementById('alert-banner');"
             " return !b.hidden && !!b.dataset.episode; })()")


@pytest.fixture(scope="module")
def sound_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The PulseAudio null sink the engines play into."""
    with speakers(tmp_path_factory.mktemp("speakers")) as env:
        yield env


def siren_sounds(page: EnginePage) -> bool:
    """The page's output of the last 0.3 s is mostly the alarm's tones."""
    samples = recorded_samples(page, 0.3)
    return float(np.sqrt(np.mean(samples**2))) > 0.01 and share_near(samples, SIREN_HZ) > 0.5


@pytest.mark.parametrize("engine", ["firefox", "webkit"])
def test_the_banner_and_the_link_loss_alarm(engine: str, sound_env: dict[str, str],
                                            tmp_path: Path) -> None:
    wav = looped_sound(tmp_path / "sound.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}", config=ALERTS)
    port = proc.url.rsplit(":", 1)[1]
    again = None
    try:
        with launch(engine, tmp_path / engine, sound_env) as browser:
            page = browser.new_page()
            page.goto(f"{proc.url}/")
            page.click("#alert-me")
            page.evaluate(SET_DELAY_JS, str(ALARM_DELAY_S))
            page.click("#listen")
            wait_for(page, "document.getElementById('status').textContent === 'live'", 15)
            wait_for(page, BANNER_JS, 10)
            assert "peak" in page.evaluate("document.getElementById('alert-text').textContent")
            assert page.evaluate("document.querySelectorAll('#episodes li').length") >= 1
            wait_for(page, "window.__recordedFrames > 48000", 5)
            assert not siren_sounds(page)

            hidden = False
            if bring_to_front(front := browser.new_page()):
                front.goto("about:blank")
                bring_to_front(front)
                wait_for(page, "document.visibilityState === 'hidden'", 5)
                hidden = True
                # "Alert me" goes on in the background: the next sound's banner, and its chime.
                shown = page.evaluate("document.getElementById('alert-banner').dataset.episode")
                wait_for(page, "document.getElementById('alert-banner').dataset.episode !== "
                               f"'{shown}'", 8)
                time.sleep(0.8)  # the chime is recorded
                assert share_near(recorded_samples(page, 2.0), CHIME_HZ) > 0.1
            killed = time.monotonic()
            proc.process.kill()
            while not siren_sounds(page):
                assert time.monotonic() - killed < ALARM_DELAY_S + 3, "no alarm"
                time.sleep(0.1)
            took = time.monotonic() - killed
            print(f"\n{engine}: alarm {took:.2f} s after the server was killed "
                  f"(delay {ALARM_DELAY_S} s{', in a background tab' if hidden else ''})")
            assert took <= ALARM_DELAY_S + 1
            assert page.evaluate("document.getElementById('alarm').hidden") is False
            if hidden:
                assert page.evaluate("document.visibilityState") == "hidden"

            again = start_broadcaster(tmp_path, "--source", f"file:{wav}", "--port", port,
                                      config=ALERTS, wait=False)
            wait_for(page, "document.getElementById('alarm').hidden", 15)
            wait_for(page, "document.getElementById('status').textContent === 'live'", 10)
    finally:
        proc.stop()
        if again is not None:
            again.stop()
