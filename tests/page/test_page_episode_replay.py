"""The play button of each sound in the page's list of today's episodes, in real headless
Chromium, against a broadcaster that archives a looped file: a long quiet (hiss at
-70 dBFS) with one loud 600 Hz tone in it, an episode. Played while the live stream is
quiet, the page's output is the episode's tone, a second after the replay starts (it
replays from a second before the onset), as far behind live as the episode was."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect

from tests.conftest import start_broadcaster, wait_until
from tests.page.listening import listen_and_wait_for_sound
from tests.support.browser import collect_problems, launch_chromium, new_recording_page
from tests.support.rewind import first_sound_of, latency_ms
from tests.support.signal_tools import RATE_HZ, sine_s16le, write_wav
from tests.web.test_activity_api import ALERTS

pytestmark = pytest.mark.browser

QUIET_BEFORE_S = 2.0
TONE_HZ = 600
TONE_S = 0.8
LOOP_S = 16.0
LEAD_MS = 1000  # listener_web/ui/timeline_scale.js's EPISODE_LEAD_MS


def one_sound(path: Path) -> Path:
    """LOOP_S seconds: hiss, the tone at QUIET_BEFORE_S for TONE_S, hiss again."""
    rng = np.random.default_rng(7)

    def hiss(seconds: float) -> bytes:
        noise = rng.normal(0.0, 32768 * 10 ** (-70 / 20), int(seconds * RATE_HZ))
        return bytes(np.round(noise).astype("<i2").tobytes())

    pcm = (hiss(QUIET_BEFORE_S) + sine_s16le(TONE_HZ, TONE_S, amplitude=0.1414)
           + hiss(LOOP_S - QUIET_BEFORE_S - TONE_S))
    return write_wav(path, pcm)


def test_an_episodes_play_button_replays_its_sound(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    wav = one_sound(tmp_path / "sound.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}", config=(
        ALERTS + f'[archive]\ndir = "{archive}"\nmin_free_mb = 0\n'))
    try:
        with launch_chromium() as browser:
            page = new_recording_page(browser)
            problems = collect_problems(page)
            page.goto(f"{proc.url}/")
            listen_and_wait_for_sound(page)
            # A sound, listed with a play button, while live is in the quiet after it
            # (the next sound is ~10 s away).
            def newest() -> dict[str, float]:
                listed = httpx.get(f"{proc.url}/activity/episodes", timeout=5).json()
                return dict(listed["episodes"][0]) if listed["episodes"] else {}

            wait_until(lambda: 4000 < time.time() * 1000 - newest().get("start_ms", 0) < 7000,
                       LOOP_S + 10, "the quiet after a sound")
            episode = newest()
            start_ms = float(episode["start_ms"])
            row = page.locator(f'#episodes li[data-episode="{episode["episode"]}"]')
            expect(row.locator("button.episode-play")).to_be_visible()
            pressed_ms = time.time() * 1000
            row.locator("button.episode-play").click()
            expect(page.locator("#status")).to_have_text("replay", timeout=5_000)
            page.wait_for_timeout(3_000)
            heard_after = first_sound_of(page, TONE_HZ, seconds=3.5)
            assert heard_after is not None, "the replay never played the episode's tone"
            print(f"\nplay button to the episode's tone: {heard_after:.0f} ms "
                  f"(the replay starts {LEAD_MS} ms before its onset)")
            # The quiet before it, then the tone (of the 300 ms the replay starts with, the
            # jitter buffer skips what is more than its target; the press adds its start).
            assert LEAD_MS - 500 < heard_after < LEAD_MS + 1500, heard_after
            expect(page.locator("#behind")).to_contain_text("behind live")
            wait_until(lambda: latency_ms(page) is not None, 5, "the replay's latency")
            behind = latency_ms(page) or 0.0
            assert abs(behind - (pressed_ms - start_ms + LEAD_MS)) < 1300, \
                (behind, pressed_ms - start_ms + LEAD_MS)
            assert problems == []
    finally:
        assert proc.stop() == 0, proc.log()
