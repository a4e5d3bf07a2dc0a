"""The listener page, in real headless Chromium, against a real broadcaster playing tone:440."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.browser import (
    collect_problems,
    launch_chromium,
    new_recording_page,
    recorded_frames,
    recorded_rate,
    recorded_samples,
)
from tests.conftest import start_broadcaster
from tests.signal_tools import dominant_frequency, rms_dbfs

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

        pressed_ms = page.evaluate("performance.now()")
        button.click()
        expect(status).to_have_text("live", timeout=10_000)
        page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=5_000)
        first_sound_ms = page.evaluate("window.__firstSoundMs") - pressed_ms
        assert first_sound_ms < 1000, f"first sound {first_sound_ms:.0f} ms after Start"
        expect(page.locator("#source")).to_contain_text("tone")
        expect(button).to_have_text("Stop listening")
        page.wait_for_timeout(2_000)

        rate = recorded_rate(page)
        assert rate == 48_000
        samples = recorded_samples(page, 1.0)
        assert dominant_frequency(samples, rate) == pytest.approx(440, abs=5)
        level = rms_dbfs(samples, full_scale=1.0)
        assert level > -30
        # No dropouts: every 10 ms of the last second carries the tone at about full level.
        windows = samples[: len(samples) // 480 * 480].reshape(-1, 480)
        quietest = min(rms_dbfs(w, full_scale=1.0) for w in windows)
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


def test_insecure_origin_explains_why_it_cannot_play(tone_server: str) -> None:
    # Plain http on a LAN name is not a secure context: no WebCodecs, no AudioWorklet.
    port = tone_server.rsplit(":", 1)[1]
    with launch_chromium(["--host-resolver-rules=MAP pi.test 127.0.0.1"]) as browser:
        page = new_recording_page(browser)
        problems = collect_problems(page)
        page.goto(f"http://pi.test:{port}/")
        assert page.evaluate("window.isSecureContext") is False
        page.locator("#listen").click()
        expect(page.locator("#status")).to_contain_text("not a secure context")
        expect(page.locator("#status")).to_contain_text("fallback comes later")
        expect(page.locator("#listen")).to_have_text("Start listening")
        assert problems == []


def test_capture_buttons_appear_with_the_token_or_on_this_machine(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone",
                             config='[access]\ncontrol_token = "page-token-1"\n')
    port = proc.url.rsplit(":", 1)[1]
    try:
        with launch_chromium(["--host-resolver-rules=MAP pi.test 127.0.0.1"]) as browser:
            page = new_recording_page(browser)
            problems = collect_problems(page)
            page.goto(f"http://pi.test:{port}/")  # another machine, no token: no buttons
            expect(page.locator("#controls")).to_be_hidden()
            page.goto(f"http://pi.test:{port}/#token=page-token-1")
            page.reload()
            expect(page.locator("#controls")).to_be_visible()
            page.locator("#capture-stop").click()
            expect(page.locator("#status")).to_have_text("capture stopped")
            page.locator("#capture-start").click()
            expect(page.locator("#status")).to_have_text("capture running")
            assert problems == []
    finally:
        assert proc.stop() == 0, proc.log()
