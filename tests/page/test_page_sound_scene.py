"""A room through the virtual microphone to real headless Chromium: silence, then a fan's
steady noise (no alert), then a click (no alert), then a cry-like burst (one episode, one
alert at the page, with its start and peak); then the server is killed and the page's own
output holds its alarm within the delay and a second; restarted, the alarm stops and the
stream plays again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.audio.test_activity import noise, silence
from tests.conftest import no_device_env, start_broadcaster
from tests.page.test_page_alerts import (
    ALARM_DELAY_S,
    ATTACK_MS,
    alert_me_and_listen,
    seconds_until_siren,
    siren_sounds,
)
from tests.support.browser import collect_problems, launch_chromium, new_recording_page
from tests.support.signal_tools import sine_s16le
from tests.support.vmic import VirtualMic

pytestmark = [pytest.mark.browser, pytest.mark.vmic]


def test_a_room_a_fan_a_click_and_a_cry_make_one_alert_in_the_page(tmp_path: Path) -> None:
    with VirtualMic(tmp_path / "vmic") as mic:
        env = no_device_env() | mic.env
        proc = start_broadcaster(tmp_path, "--source", "mic", env=env)
        port = proc.url.rsplit(":", 1)[1]
        again = None
        try:
            with launch_chromium() as browser:
                page = new_recording_page(browser)
                problems = collect_problems(page)
                page.goto(f"{proc.url}/")
                alert_me_and_listen(page)

                mic.play(silence(1.0) + noise(4.0, -62.0))  # a quiet room, then a fan
                mic.play(sine_s16le(1000, 0.005, amplitude=0.9) + noise(2.0, -62.0, seed=2))
                # A cry: a 600 Hz tone at -20 dBFS RMS in three breaths, 1.8 s in all.
                cry = b"".join(sine_s16le(600, 0.5, amplitude=0.1414)
                               + noise(0.15, -62.0, seed=n) for n in range(3))
                cry_at = mic.play(cry)
                mic.play(noise(3.0, -62.0, seed=9))
                page.wait_for_function("() => Object.keys(window.__bannerAt).length >= 1",
                                       timeout=20_000)
                page.wait_for_timeout(4_000)  # the rest of the scene: nothing more alerts
                shown = page.evaluate("window.__bannerAt")
                assert list(shown) == ["1"], shown  # the fan and the click made none
                onset_ms = (mic.entered_at(cry_at) or 0.0) * 1000
                delay_ms = shown["1"] - onset_ms
                print(f"\nbanner {delay_ms:.0f} ms after the cry's onset in the microphone")
                assert delay_ms <= ATTACK_MS + 150
                expect(page.locator("#alert-text")).to_contain_text("peak \u221220 dBFS")
                expect(page.locator("#episodes li")).to_have_count(1)

                killed = time.monotonic()
                proc.process.kill()
                took = seconds_until_siren(page, killed, ALARM_DELAY_S + 3)
                print(f"alarm {took:.2f} s after the server was killed (delay {ALARM_DELAY_S} s)")
                assert took <= ALARM_DELAY_S + 1
                again = start_broadcaster(tmp_path, "--source", "mic", "--port", port,
                                          env=env, wait=False)
                expect(page.locator("#alarm")).to_be_hidden(timeout=15_000)
                expect(page.locator("#status")).to_have_text("live", timeout=10_000)
                page.wait_for_timeout(1_000)
                assert not siren_sounds(page)
                assert [p for p in problems if not any(
                    e in p for e in ("ERR_CONNECTION_REFUSED", "ERR_INCOMPLETE_CHUNKED_ENCODING",
                                     "ERR_EMPTY_RESPONSE", "ERR_CONNECTION_RESET",
                                     "moving to a larger one"))] == []
        finally:
            proc.stop()
            if again is not None:
                again.stop()
