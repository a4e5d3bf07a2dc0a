"""The battery saver in real headless Chromium, against a real broadcaster playing a tone:
switched on, the stream asks for its frames in half-second bundles (docs/protocol.md,
"Choosing the cost"), the figures say so, the switch is remembered, and the page still
plays the tone with no dropout once its jitter buffer has taken the bundles' measure."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.page.listening import figure, listen_and_wait_for_sound
from tests.support.browser import (
    assert_plays_the_tone,
    collect_problems,
    launch_chromium,
    new_recording_page,
)

pytestmark = pytest.mark.browser

BUNDLE_MS = 500  # listener_web/ui/saver.js's SAVER_BUNDLE_MS


def test_the_battery_saver_plays_the_tone_from_half_second_bundles(tone_server: str) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        problems = collect_problems(page)
        streams: list[str] = []
        page.on("request", lambda r: streams.append(r.url) if "/audio/stream" in r.url else None)
        page.goto(f"{tone_server}/")
        page.locator("#battery-saver").check()
        page.reload()  # remembered
        expect(page.locator("#battery-saver")).to_be_checked()
        listen_and_wait_for_sound(page)
        assert streams and all(f"bundle_ms={BUNDLE_MS}" in url for url in streams), streams
        expect(page.locator('#figures [data-figure="saver"]')).to_have_text(
            f"battery\u00a0saver\u00a0({BUNDLE_MS}\u00a0ms\u00a0bundles)")
        # The buffer has seen a few bundles: no dropout from here on.
        page.wait_for_timeout(4_000)
        underruns = int(figure(page, "underruns"))
        page.wait_for_timeout(3_000)
        assert_plays_the_tone(page, 3.0)
        assert int(figure(page, "underruns")) == underruns
        latency = float(figure(page, "latency"))
        target = float(page.locator('#figures [data-figure="buffer"]').text_content()
                       .split("target\u00a0")[1].rstrip(")"))
        print(f"\nbattery saver: latency {latency:.0f} ms, buffer target {target:.0f} ms, "
              f"underruns at the start {underruns}")
        assert BUNDLE_MS <= target <= 2 * BUNDLE_MS, target

        # Off again: the stream reopens frame by frame, where it was, and still plays.
        page.locator("#battery-saver").uncheck()
        page.wait_for_timeout(1_500)
        assert "bundle_ms" not in streams[-1], streams[-1]
        expect(page.locator('#figures [data-figure="saver"]')).to_have_count(0)
        assert_plays_the_tone(page, 1.0)
        page.wait_for_timeout(2_000)
        print(f"battery saver off: latency {float(figure(page, 'latency')):.0f} ms")
        assert float(figure(page, "latency")) < latency - 300
        assert problems == []
