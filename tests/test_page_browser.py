"""The listener page, in real headless Chromium, against a real broadcaster playing tone:440."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.browser import (
    collect_problems,
    dominant_frequency,
    launch_chromium,
    new_recording_page,
    recorded_frames,
    recorded_rate,
    recorded_samples,
    rms_dbfs,
)

pytestmark = pytest.mark.browser


def test_listen_plays_the_live_tone_and_stop_silences_it(tone_server: str) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        problems = collect_problems(page)
        page.goto(f"{tone_server}/")
        status = page.locator("#status")
        button = page.locator("#listen")
        expect(status).to_have_text("stopped")
        expect(button).to_have_text("Start listening")

        button.click()
        expect(status).to_have_text("live", timeout=10_000)
        expect(page.locator("#source")).to_contain_text("tone")
        expect(button).to_have_text("Stop listening")
        page.wait_for_timeout(2_000)

        rate = recorded_rate(page)
        assert rate == 48_000
        samples = recorded_samples(page, 1.0)
        assert dominant_frequency(samples, rate) == pytest.approx(440, abs=5)
        level = rms_dbfs(samples)
        assert level > -30
        # No dropouts: every 10 ms of the last second carries the tone at about full level.
        windows = samples[: len(samples) // 480 * 480].reshape(-1, 480)
        quietest = min(rms_dbfs(w) for w in windows)
        assert quietest > level - 6, f"a 10 ms window at {quietest:.1f} dBFS vs {level:.1f}"
        assert np.all(np.isfinite(samples))
        expect(page.locator("#figures")).to_contain_text("latency ≈")

        button.click()
        expect(status).to_have_text("stopped")
        expect(button).to_have_text("Start listening")
        page.wait_for_timeout(300)  # let the context finish closing
        frames = recorded_frames(page)
        page.wait_for_timeout(500)
        assert recorded_frames(page) == frames, "audio kept playing after Stop"
        assert problems == []
