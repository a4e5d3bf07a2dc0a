"""Firefox plays at every start: 30 starts in a row, each in a fresh tab of one Firefox ESR,
each one responsive (every look at the page answered at once), its figures moving, and the
440 Hz tone reaching the AudioContext destination. The page once froze Firefox for good at
most starts, a moment after Start, in its first reads of the output device's figures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.browser import recorded_samples
from tests.support.engines import EnginePage, launch, speakers
from tests.support.signal_tools import dominant_frequency, rms_dbfs

pytestmark = pytest.mark.browser

STARTS = 30
WATCH_S = 3.0  # the page froze at its first reads of the device's figures, in the first 3 s
ANSWER_S = 2.0  # a responsive page answers a look at once; a frozen one never does
LOOK = """[document.getElementById('status').textContent,
           document.getElementById('figures').textContent]"""


def watch_one_start(page: EnginePage, start: int) -> None:
    """Press Start, watch the page for WATCH_S, and check what it played."""
    page.click("#listen")
    pressed = time.monotonic()
    figures: list[str] = []
    status = ""
    while time.monotonic() - pressed < WATCH_S:
        asked = time.monotonic()
        status, text = page.evaluate(LOOK)
        took = time.monotonic() - asked
        assert took < ANSWER_S, f"start {start}: the page took {took:.1f} s to answer"
        if not figures or figures[-1] != text:
            figures.append(text)
        time.sleep(0.25)
    assert status == "live", f"start {start}: {status}"
    assert len(figures) >= 3, f"start {start}: the figures did not move: {figures}"
    samples = recorded_samples(page, 1.0)
    rate = int(page.evaluate("window.__recordedRate"))
    assert dominant_frequency(samples, rate) == pytest.approx(440, abs=5), f"start {start}"
    assert rms_dbfs(samples, full_scale=1.0) > -30, f"start {start}: too quiet"


@pytest.mark.timeout(300)
def test_firefox_plays_at_every_start(tone_server: str, tmp_path: Path) -> None:
    with speakers(tmp_path / "speakers") as env, \
            launch("firefox", tmp_path / "firefox", env) as browser:
        for start in range(1, STARTS + 1):
            page = browser.new_page()
            page.goto(f"{tone_server}/")
            watch_one_start(page, start)
            page.close()
